
import openpyxl
import pytest

from assess_xl import demo

from assess_xl.publish import forms


@pytest.mark.parametrize("typed,stored", [("12", 12), ("2.5", 2.5), ("85%", 0.85), ("是", "是"), ("'12", "12"),
                                          ("２", "２"), (" 是 ", " 是 "), ("=1+1", "=1+1"), (3, 3)])
def test_as_excel_would(typed, stored):
    assert demo.as_excel_would(typed) == stored


def test_fill_workbook_types_text_as_text(book, tmp_path):
    (full, *_) = forms.build_forms(book, ["甲区", "乙区"])
    out = tmp_path / "filled.xlsx"
    demo.fill_workbook(full.content, out, {"办公室": {"1-1": {"乙区": "=HYPERLINK(\"x\")"}, "1-2": {"甲区": "1"}}})
    ws = openpyxl.load_workbook(out)["办公室"]
    assert ws["I4"].value == '=HYPERLINK("x")' and ws["I4"].data_type == "s"
    assert ws["H5"].value == 1


def test_samples_cover_every_indicator(book):
    entries = demo.sample_entries(book)
    codes = {code for by_code in entries.values() for code in by_code}
    assert codes == set(book.indicators)
    assert demo.sample_districts() == ["玄武区", "秦淮区", "建邺区", "鼓楼区", "栖霞区", "雨花台区"]


def test_district_list_taken_as_written():
    assert demo.read_district_list("甲区\n\n #乙区 \n丙区（新）\n") == ["甲区", "#乙区", "丙区（新）"]
