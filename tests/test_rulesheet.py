"""The rulebook as a workbook: exact round trip, edits in Excel, errors that name sheet, row, column."""
import io

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl import readback, rulebook, rulesheet
from assess_xl.cli import main


@pytest.fixture(scope="module")
def exported():
    return rulesheet.export(rulebook.load_raw())


def test_round_trip_keeps_the_fingerprint(exported, tmp_path):
    back = rulesheet.import_sheets(readback.parse_workbook(exported), "细则.xlsx")
    assert rulebook.fingerprint_of(back) == rulebook.load().fingerprint == "e025aa8e7c210827"
    (tmp_path / "细则.xlsx").write_bytes(exported)
    book = rulebook.load(tmp_path / "细则.xlsx")
    assert book.fingerprint == rulebook.load().fingerprint and len(book.indicators) == 87


def test_sheets_headers_explanations_and_dropdowns(exported):
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    assert workbook.sheetnames == ["说明", "类别", "目标", "指标", "计分"]
    scoring = workbook["计分"]
    assert [c.value for c in scoring[1]][:3] == ["指标编号", "计分方式", "at"]
    assert scoring["B2"].value.startswith("award/") and scoring["A3"].value == "1-1"
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in workbook["指标"].data_validations.dataValidation}
    assert "办公室" in lists["C3"] and "percent" in lists["E3"]
    assert "award" in next(v.formula1 for v in scoring.data_validations.dataValidation)


def edit(exported, change) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    change(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rows_of(sheet, column: int, value):
    return [row[0].row for row in sheet.iter_rows(min_row=3) if row[column].value == value]


@pytest.mark.parametrize("change,fragment", [
    (lambda wb: wb["计分"].__setitem__(f"B{rows_of(wb['计分'], 0, '6-1')[0]}", "per_unitt"),
     "工作表“计分”第{row}行B列（计分方式）：未知的计分方式“per_unitt”"),
    (lambda wb: wb["计分"].__setitem__(f"{next(c.column_letter for c in wb['计分'][1] if c.value == 'points')}"
                                      f"{rows_of(wb['计分'], 0, '6-1')[0]}", None),
     "工作表“计分”第{row}行"),
    (lambda wb: wb["指标"].__setitem__(f"A{rows_of(wb['指标'], 0, '6-2')[0] if rows_of(wb['指标'], 0, '6-2') else 20}",
                                      "1-1"), "指标编号“1-1”重复"),
])
def test_errors_name_sheet_row_and_column(exported, tmp_path, change, fragment):
    content = edit(exported, change)
    (tmp_path / "bad.xlsx").write_bytes(content)
    with pytest.raises(rulebook.RulebookError) as caught:
        rulebook.load(tmp_path / "bad.xlsx")
    text = "\n".join(caught.value.messages)
    row = rows_of(openpyxl.load_workbook(io.BytesIO(content))["计分"], 0, "6-1")[0]
    assert fragment.format(row=row) in text and "bad.xlsx" in text


def test_missing_parameter_names_the_column(exported, tmp_path):
    def drop_points(workbook):
        sheet = workbook["计分"]
        column = next(c.column_letter for c in sheet[1] if c.value == "points")
        sheet[f"{column}{rows_of(sheet, 0, '6-1')[0]}"] = None
    (tmp_path / "bad.xlsx").write_bytes(edit(exported, drop_points))
    with pytest.raises(rulebook.RulebookError) as caught:
        rulebook.load(tmp_path / "bad.xlsx")
    assert any("（points）：计分方式 per_unit 缺少参数 points" in m for m in caught.value.messages)


def test_cli_init_export_import(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx")]).exit_code == 0
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.yaml")]).exit_code == 0
    assert (tmp_path / "2008.yaml").read_bytes() == rulebook.embedded_rulebook_path().read_bytes()
    imported = runner.invoke(main, ["rules", "import", str(tmp_path / "2008.xlsx"), "-o", str(tmp_path / "back.yaml")])
    assert imported.exit_code == 0 and "e025aa8e7c210827" in imported.output
    assert rulebook.load(tmp_path / "back.yaml").fingerprint == "e025aa8e7c210827"
    assert runner.invoke(main, ["rules", "export", str(tmp_path / "back.yaml"), "-o", str(tmp_path / "again")]).exit_code == 0
    assert rulebook.load(tmp_path / "again.xlsx").fingerprint == "e025aa8e7c210827"
    forms = runner.invoke(main, ["forms", "--districts", "甲区,乙区", "--rules", str(tmp_path / "2008.xlsx"),
                                 "-o", str(tmp_path / "f")])
    assert forms.exit_code == 0
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "x.txt")]).exit_code == 2
    again = runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx")])
    assert again.exit_code == 2 and "已存在" in again.output
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx"), "--force"]).exit_code == 0
