import copy
import io
import re

import openpyxl
from click.testing import CliRunner

from assess_xl.rules import load as rulebook

from assess_xl.rules import diff as rulediff

from assess_xl.rules import sheet as rulesheet
from assess_xl.cli import main
from helpers import assess_xl


def edited():
    raw = copy.deepcopy(rulebook.load_raw())
    target6 = next(t for t in raw["targets"] if t["number"] == 6)
    target6["max"] = 12
    target6["indicators"].append({"code": "6-2", "department": "环监局", "label": "未批先建项目数", "type": "count",
                                  "unit": "个", "scoring": [{"kind": "per_unit", "points": -0.5}]})
    target7 = next(t for t in raw["targets"] if t["number"] == 7)
    target7["indicators"][0]["scoring"].pop()
    return raw


def test_diff_names_exactly_the_changes():
    lines = rulediff.diff(rulebook.load_raw(), edited())
    assert lines == [
        "目标6的分值：4 → 12",
        "新增指标6-2：未批先建项目数",
        "指标7-1删除计分方式：是否得分（分值=2）",
        "环监局须新填报的指标：6-2",
    ]


def test_same_rules_have_no_changes():
    assert rulediff.diff(rulebook.load_raw(), rulebook.load_raw()) == []


def test_cli_diff_between_yaml_and_an_edited_workbook(tmp_path):
    (tmp_path / "2008.xlsx").write_bytes(rulesheet.export(edited()))
    result = CliRunner().invoke(main, ["rules", "diff", str(rulebook.embedded_rulebook_path()), str(tmp_path / "2008.xlsx")])
    assert result.exit_code == 0
    assert "目标6的分值：4 → 12" in result.output and "环监局须新填报的指标：6-2" in result.output
    assert "共 4 处变化" in result.output


def test_changed_parameters_are_shown_in_chinese_within_their_component(tmp_path):
    """The coordinator edits the exported workbook in Excel; rules diff says what changed in their words."""
    exported = tmp_path / "2007.xlsx"
    assert assess_xl("rules", "export", rulebook.embedded_rulebook_path(), "-o", exported).returncode == 0
    workbook = openpyxl.load_workbook(exported)
    scoring, indicators = workbook["计分"], workbook["指标"]
    rows = {row[0].value: row[0].row for row in scoring.iter_rows(min_row=3)}
    scoring[f"E{rows['16-1']}"] = 60  # 分母 48 → 60
    scoring[f"C{rows['21-1']}"] = "已落实且完善=0\n预案不完善=-0.15\n组织未落实或预案未制定=-0.2"
    scoring[f"K{rows['6-1']}"] = 3  # 封顶 added
    scoring[f"B{rows['7-1']}"], scoring[f"E{rows['7-1']}"] = "按比例", 4  # another kind: removed and added
    indicators[f"E{next(r[0].row for r in indicators.iter_rows(min_row=3) if r[0].value == '7-1')}"] = "数量"
    buffer = io.BytesIO()
    workbook.save(buffer)
    (tmp_path / "2008.xlsx").write_bytes(buffer.getvalue())
    done = assess_xl("rules", "diff", rulebook.embedded_rulebook_path(), tmp_path / "2008.xlsx")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "指标7-1的类型：是/否 → 数量",
        "指标6-1的计分方式“每项加减分”：封顶 （无） → 3",
        "指标7-1新增计分方式：按比例（分值=2，分母=4）",
        "指标7-1删除计分方式：是否得分（分值=2）",
        "指标16-1的计分方式“按比例”：分母 48 → 60",
        "指标21-1的计分方式“按选项”：分值（预案不完善） -0.1 → -0.15",
        "共 6 处变化。",
    ]
    assert not re.search("[A-Za-z]{2,}", done.stdout)
