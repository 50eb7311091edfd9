"""Impact replay: this year's returns under the old and the new rules."""
import copy

import openpyxl
from click.testing import CliRunner

from assess_xl import merge, replay, rulebook, rulesheet
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from helpers import write_forms


def test_a_rule_change_that_swaps_two_districts_names_the_target(book, tmp_path):
    """甲区 has 1 violating approval (6-1), 乙区 none but no 考核 cooperation (2-2): 甲区 leads by one.
    Under new rules a violation costs 3 points instead of 1: they change places because of target 6."""
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}})
    fill_workbook(blank["综合处"], inbox / "综合处.xlsx", {"综合处": {"2-1": {"甲区": "是", "乙区": "是"},
                                                               "2-2": {"甲区": "是", "乙区": "否"},
                                                               "2-3": {"甲区": "是", "乙区": "是"}}})
    values = merge.read_paths([inbox], book).values
    raw = copy.deepcopy(rulebook.load_raw())
    target6 = next(t for t in raw["targets"] if t["number"] == 6)
    target6["indicators"][0]["scoring"][0]["points"] = -3
    bonus = next(t for t in raw["targets"] if t["number"] == 38)
    bonus["indicators"].append({"code": "38-9", "department": "开发处", "label": "新加分项", "type": "count",
                                "blank_is_zero": True, "scoring": [{"kind": "per_unit", "points": 0.1}]})
    new = rulebook.build(raw, "新细则")
    result = replay.replay(book, new, values)
    summary = result.summary
    assert (summary.loc["甲区", "原排名"], summary.loc["乙区", "原排名"]) == (1, 2)
    assert (summary.loc["甲区", "新排名"], summary.loc["乙区", "新排名"]) == (2, 1)
    assert summary.loc["甲区", "排名变化"] == -1 and summary.loc["乙区", "排名变化"] == 1
    assert "目标6" in summary.loc["甲区", "影响的目标"]
    assert result.not_available == ["38-9"]
    (tmp_path / "new.xlsx").write_bytes(rulesheet.export(raw))
    cli = CliRunner().invoke(main, ["rules", "replay", str(rulebook.embedded_rulebook_path()), str(tmp_path / "new.xlsx"),
                                    str(inbox), "-o", str(tmp_path / "影响")])
    assert cli.exit_code == 0 and "甲区：排名 1 → 2" in cli.output and "38-9" in cli.output
    sheet = openpyxl.load_workbook(tmp_path / "影响.xlsx")["影响"]
    assert [c.value for c in sheet[1]] == ["区", "原总分", "原排名", "新总分", "新排名", "总分变化", "排名变化", "影响的目标"]
    assert sheet["A2"].value == "乙区"
