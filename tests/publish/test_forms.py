import io
import json
from datetime import datetime

import openpyxl
import pytest

from assess_xl.publish import forms
from helpers import assess_xl

DISTRICTS = ["玄武区", "秦淮区", "高新区（开发区）"]
NOW = datetime(2007, 12, 20, 9, 30)


@pytest.fixture(scope="module")
def files(book):
    return forms.build_forms(book, DISTRICTS, now=NOW)


@pytest.fixture(scope="module")
def full(files):
    return openpyxl.load_workbook(io.BytesIO(files[0].content))


def test_file_names_and_departments(files, book):
    assert files[0].name == "2007年度目标考核填报表-全部部门.xlsx"
    assert [f.name for f in files[1:]] == [f"2007年度目标考核填报表-{d}.xlsx" for d in book.departments]
    copy = openpyxl.load_workbook(io.BytesIO(files[10].content))
    assert copy.sheetnames == ["填报说明", "环监局", "填报表信息"]


def test_sheet_order(full, book):
    assert full.sheetnames == ["填报说明", *book.departments, "填报表信息"]
    assert full["填报表信息"].sheet_state == "hidden"


def test_header_and_rows(full, book):
    ws = full["环监局"]
    header = [c.value for c in ws[3]]
    assert header == ["编号", "项目", "环保目标", "考核细则", "填报指标", "单位", "填写说明", *DISTRICTS]
    codes = [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)]
    assert codes == [i.code for i in book.department_indicators("环监局")]
    assert ws["A1"].value == "2007年度各区环保局主要工作目标——环监局填报表"
    assert ws["C4"].value.startswith("17. 完成市局下达的2007年度排污费征收解缴目标")
    assert ws["E5"].value == "排污费月报、季报、年报未按时上报或质量差次数"
    assert ws["F5"].value == "次" and ws["G5"].value == "0及以上的整数（单位：次）"
    assert "C4:C5" in {str(r) for r in ws.merged_cells.ranges}  # target text once per group


def _validation_for(ws, cell):
    return [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]


@pytest.mark.parametrize("sheet,code_row,kind,formula1,formula2", [
    ("办公室", 4, "list", '"是,否"', None),
    ("环监局", 5, "whole", "0", "1000000000"),
    ("环监局", 17, "list", '"已落实且完善,预案不完善,组织未落实或预案未制定"', None),
    ("环监局", 22, "decimal", "0", "1"),
    ("监察室", 4, "decimal", "0", "3"),
    ("综合处", 12, "whole", "0", "4"),
])
def test_validations(full, sheet, code_row, kind, formula1, formula2):
    ws = full[sheet]
    for col in "HIJ":
        (dv,) = _validation_for(ws, f"{col}{code_row}")
        assert dv.type == kind and dv.formula1 == formula1 and dv.formula2 == formula2
        assert dv.showErrorMessage and dv.promptTitle and dv.prompt.startswith("请填写")
        assert dv.error.startswith("请填写")


def test_rate_cells_are_percent_and_unlocked(full):
    ws = full["环监局"]
    assert ws.cell(22, 1).value == "22-1"
    for col in range(8, 11):
        cell = ws.cell(22, col)
        assert cell.number_format == "0.0%"
        assert cell.protection.locked is False
    assert ws["A22"].protection.locked is True and ws["E22"].protection.locked is True


def test_protection_and_print(full):
    ws = full["环监局"]
    assert ws.protection.sheet is True and not ws.protection.password
    assert ws.freeze_panes == "B4"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows == "$3:$3"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0


def test_password(book):
    (full, *_) = forms.build_forms(book, DISTRICTS, password="s3cret", now=NOW)
    ws = openpyxl.load_workbook(io.BytesIO(full.content))["办公室"]
    assert ws.protection.sheet and ws.protection.password


def test_metadata(full, book):
    ws = full["填报表信息"]
    meta = {r[0].value: r[1].value for r in ws.iter_rows()}
    assert meta["tool"] == "assess-xl" and meta["fingerprint"] == book.fingerprint
    assert json.loads(meta["districts"]) == DISTRICTS
    assert meta["generated_at"] == "2007-12-20T09:30:00"
    assert json.loads(meta["codes:办公室"]) == ["1-1", "1-2"]


def test_district_text_never_a_formula(book):
    (full, *_) = forms.build_forms(book, ["=1+1", "http://x.cn"], now=NOW)
    ws = openpyxl.load_workbook(io.BytesIO(full.content))["办公室"]
    assert ws["H3"].value == "=1+1" and ws["H3"].data_type == "s"
    assert ws["I3"].hyperlink is None


def test_long_choice_list_uses_a_range(book):
    import yaml
    from assess_xl.rules import load as rulebook
    raw = yaml.safe_load(rulebook.embedded_rulebook_path().read_text(encoding="utf-8"))
    target = next(t for t in raw["targets"] if t["number"] == 21)
    options = [f"选项{i:03d}：很长很长很长的说明文字" for i in range(30)]
    target["indicators"][0]["options"] = options
    target["indicators"][0]["scoring"][0]["points"] = {o: -0.1 for o in options}
    long_book = rulebook.build(raw)
    (full, *_) = forms.build_forms(long_book, DISTRICTS, now=NOW)
    workbook = openpyxl.load_workbook(io.BytesIO(full.content))
    (dv,) = _validation_for(workbook["环监局"], "H17")
    assert dv.type == "list" and dv.formula1 == "'填报表信息'!$D$1:$D$30"
    assert [workbook["填报表信息"].cell(r, 4).value for r in (1, 30)] == [options[0], options[29]]


def test_checked_raises_on_xlsxwriter_refusal():
    with pytest.raises(forms.FormError, match="写入数据验证失败"):
        forms.checked(-2, "数据验证")


def test_names_that_look_like_formulas_stay_text(book, tmp_path):
    """Issue 9: names beginning with = + - @ are written as text, in the forms and in the scorecard."""
    from assess_xl import pipeline
    from assess_xl.demo import fill_workbook
    names = ["=1+1", "+区", "-区", "@区"]
    built = {f.name: f.content for f in forms.build_forms(book, names)}
    sheet = openpyxl.load_workbook(io.BytesIO(built["2007年度目标考核填报表-开发处.xlsx"]))["开发处"]
    assert [(c.value, c.data_type) for c in sheet[3][7:11]] == [(n, "s") for n in names]
    (tmp_path / "in").mkdir()
    fill_workbook(built["2007年度目标考核填报表-开发处.xlsx"], tmp_path / "in" / "a.xlsx",
                  {"开发处": {"6-1": {n: "1" for n in names}}})
    result = pipeline.collect([tmp_path / "in"], book)
    summary = openpyxl.load_workbook(io.BytesIO(result.content))["汇总"]
    cells = [summary.cell(r, 1) for r in range(5, 9)]
    assert sorted(c.value for c in cells) == sorted(names) and all(c.data_type == "s" for c in cells)


def test_yes_no_cells_and_the_instructions_agree(book, tmp_path):
    """Excel and WPS refuse a typed entry outside a list validation of style stop, so the instructions of
    the form must not promise 1/0 or √/× in 是/否 cells: every 是/否 input cell of every department sheet
    is a stop-style list of exactly 是 and 否, and 填报说明 says only these two are taken."""
    done = assess_xl("forms", "--districts", "甲区,乙区", "-o", tmp_path)
    assert done.returncode == 0, done.stderr
    workbook = openpyxl.load_workbook(tmp_path / "2007年度目标考核填报表-全部部门.xlsx")
    checked = 0
    for department in book.departments:
        ws = workbook[department]
        for row in range(4, ws.max_row + 1):
            indicator = book.indicators.get(ws.cell(row, 1).value)
            if indicator is None or indicator.type != "bool":
                continue
            for col in "HI":
                (dv,) = _validation_for(ws, f"{col}{row}")
                assert (dv.type, dv.formula1, dv.errorStyle in (None, "stop")) == ("list", '"是,否"', True)
                assert dv.showErrorMessage and dv.error == "请填写“是”或“否”"
                checked += 1
    assert checked == 2 * sum(i.type == "bool" for i in book.indicators.values())
    guide = {row[0]: row[1] for row in workbook["填报说明"].iter_rows(min_row=3, values_only=True) if row[0]}
    assert guide["是/否"].startswith("从下拉列表选择“是”或“否”")
    assert "Excel和WPS只接受这两个值" in guide["是/否"]
    assert "也可填" not in guide["是/否"]
