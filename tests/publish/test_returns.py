"""The correction loop: return copies, prefilled forms and where each department stands."""
import openpyxl
import pytest
from click.testing import CliRunner



from assess_xl.publish import returns
from assess_xl.xlsx import style

from assess_xl.rules import load as rulebook
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from helpers import assess_xl, requires_soffice, returned_forms, rulebook_2008, set_saved_time, soffice_resave, write_forms
from helpers import read_paths

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture
def cycle(book, tmp_path):
    """开发处 types one entry wrong and leaves one blank; 办公室 is complete; the rest have not returned."""
    _, inbox = returned_forms(book, tmp_path, {
        "开发处": {"6-1": {"甲区": "1", "乙区": "两例"}, "7-1": {"甲区": "是", "乙区": "否"},
                 "7-2": {"甲区": "0", "乙区": "1"}, "7-3": {"甲区": "2"}},
        "办公室": {"1-1": {"甲区": "是", "乙区": "是"}, "1-2": {"甲区": "否", "乙区": "是"}}}, DISTRICTS,
        saved="2008-01-05T08:00:00Z")
    return inbox, read_paths([inbox], book)


def copy_of(copies, department):
    (copy,) = [c for c in copies if c.departments == (department,)]
    return copy


def test_only_departments_with_something_to_fix_get_a_copy(book, cycle):
    _, read = cycle
    copies = returns.return_copies(book, read)
    departments = {c.departments[0] for c in copies}
    assert "开发处" in departments and "办公室" not in departments
    assert "综合处" in departments  # nothing returned: every required cell is owed


def test_return_copy_cell_by_cell(book, cycle, tmp_path):
    _, read = cycle
    path = tmp_path / "copy.xlsx"
    path.write_bytes(copy_of(returns.return_copies(book, read), "开发处").content)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[:3] == ["退回说明", "填报说明", "开发处"]
    sheet = workbook["开发处"]
    cells = {(sheet.cell(r, 1).value, sheet.cell(3, c).value): sheet.cell(r, c)
             for r in range(4, sheet.max_row + 1) for c in (8, 9)}
    fix, owed = cells[("6-1", "乙区")], cells[("7-3", "乙区")]
    assert fix.value is None and fix.fill.fgColor.rgb.endswith(style.FIX_COLOR[1:])
    assert "两例" in fix.comment.text and "不是数字" in fix.comment.text
    assert owed.value is None and owed.fill.fgColor.rgb.endswith(style.OWED_COLOR[1:]) and "尚未填写" in owed.comment.text
    assert cells[("6-1", "甲区")].value == 1 and cells[("7-1", "乙区")].value == "否" and cells[("7-3", "甲区")].value == 2
    marked = [key for key, cell in cells.items() if cell.comment is not None]
    assert sorted(marked) == [("6-1", "乙区"), ("7-3", "乙区")]
    assert all(not cell.protection.locked for cell in cells.values()) and sheet.protection.sheet
    validations = {str(v.sqref): v.type for v in sheet.data_validations.dataValidation}
    assert validations == {str(v.sqref): v.type for v in openpyxl.load_workbook(
        write_forms(book, DISTRICTS, tmp_path / "f")["开发处"])["开发处"].data_validations.dataValidation}
    note = [[c.value for c in row] for row in workbook["退回说明"].iter_rows()]
    assert note[0][0].startswith("开发处：需改正1处") and "尚未填写1处" in note[0][0]
    rows = [row for row in note[3:] if row[0]]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [("乙区", "6-1", "I4", "两例"), ("乙区", "7-3", "I7", "")]


def test_filled_return_copy_closes_the_loop(book, cycle, tmp_path):
    """Only the marked cells are filled: the problems are gone, no conflict is reported for the
    prefilled values, and the scores equal a cycle typed right the first time."""
    inbox, read = cycle
    copy = tmp_path / "退回.xlsx"
    copy.write_bytes(copy_of(returns.return_copies(book, read), "开发处").content)
    fill_workbook(copy, inbox / "开发处-改.xlsx", {"开发处": {"6-1": {"乙区": "2"}, "7-3": {"乙区": "0"}}})
    set_saved_time(inbox / "开发处-改.xlsx", "2008-01-08T08:00:00Z")
    again = read_paths([inbox], book)
    kinds = {(p.kind, p.code) for p in again.problems}
    assert ("not_a_number", "6-1") not in kinds and ("missing", "7-3") not in kinds
    assert not [p for p in again.problems if p.kind == "conflict"]
    right = tmp_path / "right"
    right.mkdir()
    blank = write_forms(book, DISTRICTS, tmp_path / "blank2")
    fill_workbook(blank["开发处"], right / "开发处.xlsx", {"开发处": {
        "6-1": {"甲区": "1", "乙区": "2"}, "7-1": {"甲区": "是", "乙区": "否"},
        "7-2": {"甲区": "0", "乙区": "1"}, "7-3": {"甲区": "2", "乙区": "0"}}})
    fill_workbook(blank["办公室"], right / "办公室.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "是"},
                                                              "1-2": {"甲区": "否", "乙区": "是"}}})
    first_time = read_paths([right], book)
    assert again.values.equals(first_time.values)
    assert returns.department_states(book, again)["开发处"].state == "齐全"


@requires_soffice
def test_return_copy_resaved_by_libreoffice_reads_back(book, cycle, tmp_path):
    _, read = cycle
    copy = tmp_path / "退回.xlsx"
    copy.write_bytes(copy_of(returns.return_copies(book, read), "开发处").content)
    resaved = soffice_resave(copy, tmp_path / "lo")
    again = read_paths([resaved], book)
    assert again.values.loc["甲区", "6-1"] == 1 and again.values.loc["乙区", "7-1"] == 0
    assert not [p for p in again.problems if p.kind in ("sheet_duplicate", "no_header", "code_unknown")]


def test_prefilled_forms_hold_every_accepted_value(book, cycle, tmp_path):
    _, read = cycle
    built = {f.name: f.content for f in returns.prefilled_forms(book, returns.carried_over(book, book, read, read.districts),
                                                                read.districts)}
    (tmp_path / "p.xlsx").write_bytes(built["2007年度目标考核填报表-全部部门.xlsx"])
    again = read_paths([tmp_path / "p.xlsx"], book)
    assert again.values.loc[:, ["6-1", "1-1", "7-1"]].equals(read.values.loc[:, ["6-1", "1-1", "7-1"]])
    sheet = openpyxl.load_workbook(tmp_path / "p.xlsx")["开发处"]
    assert all(sheet.cell(r, c).comment is None for r in range(4, sheet.max_row + 1) for c in (8, 9))


def test_department_states(book, cycle):
    _, read = cycle
    states = returns.department_states(book, read)
    assert states["办公室"].state == "齐全"
    assert (states["开发处"].state, states["开发处"].to_fix, states["开发处"].owed) == ("有错待改", 1, 1)
    assert states["综合处"].state == "未交"


def test_cli_returns_and_prefill(book, cycle, tmp_path):
    inbox, _ = cycle
    result = CliRunner().invoke(main, ["returns", str(inbox), "-o", str(tmp_path / "退回")])
    assert result.exit_code == 0 and "开发处" in result.output
    assert (tmp_path / "退回" / "2007年度目标考核填报表-开发处-退回修改.xlsx").exists()
    assert not (tmp_path / "退回" / "2007年度目标考核填报表-办公室-退回修改.xlsx").exists()
    prefilled = CliRunner().invoke(main, ["forms", "--prefill", str(inbox), "-o", str(tmp_path / "重发")])
    assert prefilled.exit_code == 0 and len(list((tmp_path / "重发").glob("*.xlsx"))) == 15
    status = CliRunner().invoke(main, ["status", str(inbox)])
    assert "有错待改" in status.output and "齐全" in status.output and "未交" in status.output


def test_prefill_with_next_years_rules(book, tmp_path):
    """2007 returns, 2008 rules (16-1 renamed 16-1a, 38-3 retyped): 6-1 is carried over; the terminal says how
    many cells and which indicators were not prefilled and why; with nothing to carry, exit 1."""
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "2007表")
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}})
    fill_workbook(blank["调研室"], inbox / "调研室.xlsx", {"调研室": {"16-1": {"甲区": "12", "乙区": "20"}}})
    fill_workbook(blank["综合处"], inbox / "综合处.xlsx", {"综合处": {"38-3": {"甲区": "2"}}})
    rules = rulebook_2008(tmp_path)
    done = assess_xl("forms", "--rules", rules, "--prefill", inbox, "-o", tmp_path / "2008表")
    assert done.returncode == 0, done.stderr
    assert "预填了2个单元格（1个指标）" in done.stdout
    assert "未预填 16-1：新细则不再有此编号" in done.stdout
    assert "未预填 16-1a：新增指标，原细则没有此编号" in done.stdout
    assert "未预填 38-3：类型由数量改为金额" in done.stdout
    new = rulebook.load(str(rules))
    again = read_paths([tmp_path / "2008表" / "2008年度目标考核填报表-全部部门.xlsx"], new)
    assert again.values.loc["甲区", "6-1"] == 1 and again.values.loc["乙区", "6-1"] == 0
    assert again.values[["16-1a", "38-3"]].isna().all().all()
    (tmp_path / "只有调研室").mkdir()
    (inbox / "调研室.xlsx").rename(tmp_path / "只有调研室" / "调研室.xlsx")
    nothing = assess_xl("forms", "--rules", rules, "--prefill", tmp_path / "只有调研室", "-o", tmp_path / "空")
    assert nothing.returncode == 1
    assert "没有预填任何单元格" in nothing.stdout and "未预填 16-1：新细则不再有此编号" in nothing.stdout
