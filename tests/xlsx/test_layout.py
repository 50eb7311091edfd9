import pytest

from assess_xl.xlsx.layout import (MAX_DISTRICT_NAME, MAX_DISTRICTS, RESERVED_NAMES, cell_name, column_letters,
                                   column_number, district_name_problems, name_key)


@pytest.mark.parametrize("a,b", [("高新区（虎丘区）", "高新区(虎丘区)"), ("Ａ区", "A区"), ("a区", "A区"),
                                 ("高新区 （虎丘区）", "高新区（虎丘区）"), ("\u200b玄武区\u00a0", "玄武区"),
                                 ("工业园区\u3000", "工业园区")])
def test_names_equal_under_the_one_comparison(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("a,b", [("玄武区", "秦淮区"), ("高新区（虎丘区）", "高新区"), ("一区", "1区")])
def test_different_names_stay_different(a, b):
    assert name_key(a) != name_key(b)


def test_real_district_list_is_accepted():
    assert district_name_problems(["高新区（虎丘区）", "工业园区", "姑苏区", "=1+1", "+区", "-区", "@区",
                                   "区[1]", "区/2", "x" * MAX_DISTRICT_NAME]) == []


@pytest.mark.parametrize("names,fragment", [
    (["Ａ区", "A区"], "只差全角/半角"), (["玄武区", "玄武区"], "重复"), (["玄武区", " "], "空白"),
    (["玄\n武区"], "控制字符"), (["x" * (MAX_DISTRICT_NAME + 1)], "超过上限"), ([], "区名单是空的"),
    ([f"区{i}" for i in range(MAX_DISTRICTS + 1)], "超过上限"),
])
def test_bad_lists_are_refused_with_a_reason(names, fragment):
    assert any(fragment in problem.message for problem in district_name_problems(names))


@pytest.mark.parametrize("reserved", RESERVED_NAMES)
def test_names_the_tool_uses_are_refused(reserved):
    assert district_name_problems(["玄武区", reserved])
    assert district_name_problems(["玄武区", f" {reserved.upper()} "])


def test_cell_names_are_excels_as_xlsxwriter_writes_them():
    from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

    for col in [*range(0, 800), 16_383]:
        assert column_letters(col) == xl_col_to_name(col)
    for row, col in [(0, 0), (6, 27), (1_048_575, 16_383), (99, 701), (99, 702)]:
        assert cell_name(row, col) == xl_rowcol_to_cell(row, col)


def test_column_numbers_are_column_letters_read_back_in_either_case():
    for col in [*range(0, 800), 16_383]:
        assert column_number(column_letters(col)) == column_number(column_letters(col).lower()) == col
