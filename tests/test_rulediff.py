import copy

from click.testing import CliRunner

from assess_xl import rulebook, rulediff, rulesheet
from assess_xl.cli import main


def edited():
    raw = copy.deepcopy(rulebook.load_raw())
    target6 = next(t for t in raw["targets"] if t["number"] == 6)
    target6["max"] = 12
    target6["indicators"].append({"code": "6-2", "department": "环监局", "label": "未批先建项目数", "type": "count",
                                  "unit": "个", "scoring": [{"kind": "per_unit", "points": -0.5}]})
    target7 = next(t for t in raw["targets"] if t["number"] == 7)
    removed = target7["indicators"][0]["scoring"].pop()
    return raw, removed


def test_diff_names_exactly_the_changes():
    raw, removed = edited()
    lines = rulediff.diff(rulebook.load_raw(), raw)
    assert lines == [
        "目标6的分值：4 → 12",
        "新增指标6-2：未批先建项目数",
        f"指标7-1删除计分方式：{rulediff._component(removed)}",
        "环监局须新填报的指标：6-2",
    ]


def test_same_rules_have_no_changes():
    assert rulediff.diff(rulebook.load_raw(), rulebook.load_raw()) == []


def test_cli_diff_between_yaml_and_an_edited_workbook(tmp_path):
    raw, _ = edited()
    (tmp_path / "2008.xlsx").write_bytes(rulesheet.export(raw))
    result = CliRunner().invoke(main, ["rules", "diff", str(rulebook.embedded_rulebook_path()), str(tmp_path / "2008.xlsx")])
    assert result.exit_code == 0
    assert "目标6的分值：4 → 12" in result.output and "环监局须新填报的指标：6-2" in result.output
    assert "共 4 处变化" in result.output
