"""Impact replay: this year's returns under the old and the new rules."""
import copy
import io

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl.score import adjustments


from assess_xl.score import replay

from assess_xl.rules import load as rulebook

from assess_xl.rules import sheet as rulesheet
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from helpers import assess_xl, rulebook_2008, write_forms
from helpers import read_paths


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
    values = read_paths([inbox], book).values
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


def impact(path):
    sheet = openpyxl.load_workbook(path)["影响"]
    header = [c.value for c in sheet[1]]
    return {row[0]: dict(zip(header, row)) for row in sheet.iter_rows(min_row=2, values_only=True)}


def test_replay_with_adjustments_says_which_totals_include_them(book, tmp_path):
    """An adjustment of 6-1 (kept in 2008) and one of 16-1 (renamed 16-1a in 2008): the old totals include
    both, the new ones only the first, and the terminal and the 说明 sheet say so."""
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "3", "乙区": "0"}}})
    fill_workbook(blank["调研室"], inbox / "调研室.xlsx", {"调研室": {"16-1": {"甲区": "12", "乙区": "12"}}})
    workbook = openpyxl.load_workbook(io.BytesIO(adjustments.template(book, ["甲区", "乙区"])))
    workbook["调整"].append(["甲区", "6-1", 0, "复核：3例均不属违规"])
    workbook["调整"].append(["乙区", "16-1", 48, "复核：漏报"])
    workbook.save(tmp_path / "调整表.xlsx")
    rules = rulebook_2008(tmp_path)
    old = rulebook.embedded_rulebook_path()
    plain = assess_xl("rules", "replay", old, rules, inbox, "-o", tmp_path / "plain.xlsx")
    adjusted = assess_xl("rules", "replay", old, rules, inbox, "-o", tmp_path / "adjusted.xlsx",
                         "--adjustments", tmp_path / "调整表.xlsx")
    assert plain.returncode == 0 and adjusted.returncode == 0, adjusted.stderr
    assert "原总分含调整表（调整表.xlsx）中全部2项复核调整" in adjusted.stdout
    assert "新总分含其中1项；不含：乙区 16-1（新细则不再有此编号）" in adjusted.stdout
    before, after = impact(tmp_path / "plain.xlsx"), impact(tmp_path / "adjusted.xlsx")
    assert after["甲区"]["原总分"] - before["甲区"]["原总分"] == pytest.approx(3)  # 6-1: 3 cases → 0, 1 point each
    assert after["甲区"]["新总分"] - before["甲区"]["新总分"] == pytest.approx(3)
    assert after["乙区"]["原总分"] - before["乙区"]["原总分"] == pytest.approx(3)  # 16-1: 12 of 48 → 48 of 48
    assert after["乙区"]["新总分"] == pytest.approx(before["乙区"]["新总分"])
    notes = [c.value for c in openpyxl.load_workbook(tmp_path / "adjusted.xlsx")["说明"]["A"]]
    assert "原总分含调整表（调整表.xlsx）中全部2项复核调整。" in notes
