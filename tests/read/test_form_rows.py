"""A department sheet read row by row from each row's distinct entries (form.read_department_sheet) against the
same sheet read cell by cell (the reference): the same records, cells, columns and problems, whatever the entries,
the special cells (error values, formulas, merged input cells), the district columns and the codes."""
import math
from array import array
from datetime import datetime
from pathlib import Path

from hypothesis import given, settings, strategies as st

from assess_xl.read import gather
from assess_xl.read.cells import interpret
from assess_xl.xlsx.layout import cell_name, column_letters

DEPARTMENT = "开发处"
HEADER_ROW = 2
HEADERS = ["甲区", "乙区", "丙区", "甲区 ", "别的区", "", 1.0, "目标"]  # "甲区 " repeats 甲区's key; 目标 is context
ENTRIES = ["", None, " ", "1", 1.0, 1, True, False, 0.0, -0.0, "是", "否", "85%", "坏", "1e99", 2.5, "x" * 1_001,
           datetime(2024, 1, 2), math.nan]


def _read_cell_by_cell(sheet, book, info):
    """form.read_department_sheet as if every row held special cells: each cell interpreted on its own, the
    records gathered reading by reading, and each column's filled flag looked for column by column."""
    from assess_xl import problems as P
    from assess_xl.problems import Code
    from assess_xl.read import form
    where = {"file": info.name, "sheet": sheet.name}
    out, codes = [], []
    value, raw, blank, valid, cell = array("d"), [], bytearray(), bytearray(), []
    header_row, code_col = form.find_header(sheet.rows)
    keys, headers, cols, letters, header_cells, _ = form._district_columns(sheet.rows[header_row], header_row,
                                                                           code_col, where, out)
    code_rows = form._code_rows(sheet.rows, header_row, code_col, DEPARTMENT, book, where, out)
    special = form._special_cells(info, sheet, header_row, cols)
    for code in dict.fromkeys(i.code for i in book.department_indicators(DEPARTMENT)):
        row = code_rows.get(code)
        if row is None:
            out.append(P.make(Code.CODE_MISSING, code=code, **where))
            continue
        values = sheet.rows[row]
        raws = [values[col] if col < len(values) else "" for col in cols]
        here = [f"{letter}{row + 1}" for letter in letters]
        readings = form._read_row_with_special(book.indicators[code], raws, cols, here, row, headers, special,
                                               where, out)
        codes.append(code)
        for reading in readings:
            value.append(reading.value)
            raw.append(reading.raw)
            blank.append(reading.blank)
            valid.append(reading.valid)
        cell += here
    filled = [not all(blank[i::len(keys)]) for i in range(len(keys))]
    return form.SheetRead(DEPARTMENT, sheet.name, form.DistrictColumns(keys, headers, header_cells, filled),
                          form.Cells(value, raw, blank, valid, cell), out, None, codes)


@st.composite
def department_sheets(draw, book):
    """A sheet of the department: a title, a header row of district columns, rows of known, unknown, repeated and
    missing codes with entries, and some cells holding error values, formulas or lying in merged ranges."""
    from assess_xl.xlsx.parse import SheetData
    known = [i.code for i in book.department_indicators(DEPARTMENT)]
    if draw(st.booleans()):
        headers = draw(st.lists(st.sampled_from(HEADERS), min_size=0, max_size=6))
    else:  # as wide as a form of many districts (form.SPREAD_WIDTH), side by side or with a duplicate
        headers = [f"区{n}" for n in range(draw(st.integers(60, 80)))] + draw(st.sampled_from([[], ["区1"], ["目标"]]))
    width = 2 + len(headers)
    codes = draw(st.lists(st.sampled_from([*known, "9-99", known[0]]), max_size=len(known) + 2))
    rows = [["标题"], [], ["", "编号", *headers]]
    palette = draw(st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=4))  # a form repeats a few entries
    for code in codes:
        entries = draw(st.lists(st.sampled_from(palette), min_size=0, max_size=width - 2))
        if width > 20 and draw(st.booleans()):
            entries = [palette[n % len(palette)] for n in range(width - 2 - draw(st.integers(0, 1)))]
        rows.append(["", code, *entries])
    names = [cell_name(r, c) for r in range(HEADER_ROW + 1, len(rows)) for c in range(width)]
    errors = set(draw(st.lists(st.sampled_from(names), max_size=2))) if names else set()
    formulas = {name: "SUM(A1:A2)" for name in (draw(st.lists(st.sampled_from(names), max_size=2)) if names else [])}
    if draw(st.booleans()):
        errors.add("not a cell")  # a name the reader cannot place: every row looked at cell by cell
    merged = []
    if len(rows) > HEADER_ROW + 1 and draw(st.booleans()):
        r = draw(st.integers(HEADER_ROW + 1, len(rows) - 1))
        c = draw(st.integers(0, width - 1))
        merged.append((r, c, r, min(c + draw(st.integers(0, 2)), width - 1)))
    info = gather.FileInfo(Path("a.xlsx"), "a.xlsx")
    info.error_cells, info.formula_cells = {DEPARTMENT: errors}, {DEPARTMENT: formulas}
    return SheetData(DEPARTMENT, True, rows, merged), info


def _records(cells):
    """A Cells' fields as comparable lists. NaN stands for itself; 0.0 and -0.0 are equal, as the readings kept per
    indicator (form._known_readings) have always taken one for the other."""
    values = ["NaN" if math.isnan(value) else value for value in cells.value]
    return (values, cells.raw, bytes(cells.blank), bytes(cells.valid), cells.cells(), len(cells))


def test_a_sheet_read_by_distinct_entries_is_the_sheet_read_cell_by_cell(book):
    from assess_xl.read import form

    @settings(max_examples=400, deadline=None)
    @given(department_sheets(book))
    def check(drawn):
        sheet, info = drawn
        found = form.read_department_sheet(sheet, DEPARTMENT, book, info, None, None)
        expected = _read_cell_by_cell(sheet, book, info)
        assert found.columns == expected.columns
        assert _records(found.records) == _records(expected.records)
        assert found.codes == expected.codes
        assert found.problems == expected.problems
    check()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=40), st.integers(1, 600), st.integers(0, 1_200))  # narrow and wide
def test_a_rows_fields_are_spread_from_its_distinct_readings_as_read_one_by_one(entries, distinct, count):
    """Cells.add of a row of `count` entries of which `distinct` differ: one, a few or more than 256 of them."""
    from assess_xl.read import form
    from assess_xl.rules.components import Indicator
    indicator = Indicator("1-1", 1, DEPARTMENT, "数", "number")
    keys = [n % distinct for n in range(count)]
    readings = {key: interpret(indicator, entries[key % len(entries)]) for key in dict.fromkeys(keys)}
    letters = [column_letters(n) for n in range(count)]
    found = form.Cells(letters=letters)
    found.add(form.RowRead(keys, readings), "4")
    one_by_one = [readings[key] for key in keys]
    assert found.value.tobytes() == array("d", [r.value for r in one_by_one]).tobytes()
    assert found.raw == [r.raw for r in one_by_one]
    assert bytes(found.blank) == bytes(r.blank for r in one_by_one)
    assert bytes(found.valid) == bytes(r.valid for r in one_by_one)
    assert len(found) == count and found.cells() == [f"{letter}4" for letter in letters]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.booleans(), max_size=60), st.integers(0, 7))
def test_filled_columns_are_those_found_column_by_column(flags, width):
    from assess_xl.read import form
    blank = bytearray(flags[:len(flags) - len(flags) % width] if width else [])
    assert form._filled(blank, width) == [not all(blank[i::width]) for i in range(width)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.lists(st.sampled_from(["C4", "D5", "AA10"]), max_size=5).map(lambda cell: ("one by one", cell)),
                          st.tuples(st.integers(0, 40), st.lists(st.integers(1, 1_000), max_size=6))), max_size=5))
def test_the_merge_names_the_cells_as_the_sheets_do(sheets):
    """records._cell_names (numpy, in the main process) against Cells.cells for cells given one by one and for
    column letters by row numbers, empty ones too; each sheet twice (the names of a layout are made once), and once
    more with the same letters and its rows one higher (the same letters, another layout)."""
    from assess_xl.read import form, records
    cells = []
    again = [(first, rest if first == "one by one" else [row + 1 for row in rest]) for first, rest in sheets]
    for first, rest in [*sheets, *sheets, *again]:
        if first == "one by one":
            cells.append(form.Cells(cell=rest))
        else:
            cells.append(form.Cells(letters=[column_letters(n) for n in range(first)], rows=[str(row) for row in rest]))
    assert records._cell_names(cells).tolist() == [name for one in cells for name in one.cells()]
    assert records._cell_names(cells).dtype == object


def test_merged_ranges_outside_the_district_columns_change_no_read(book):
    """Only a merged range's cells in district columns are looked up: a sheet read with ranges merged over its context
    and code columns (as a form's are, row over row) reads as the sheet without them."""
    from dataclasses import replace
    from assess_xl.read import form

    @settings(max_examples=200, deadline=None)
    @given(department_sheets(book), st.lists(st.tuples(st.integers(0, 1), st.integers(0, 12), st.integers(0, 4)),
                                             max_size=4))
    def check(drawn, ranges):
        sheet, info = drawn
        context = [(HEADER_ROW + 1 + row, 0, HEADER_ROW + 1 + row + height, last) for last, row, height in ranges]
        with_context = replace(sheet, merged=[*context, *sheet.merged])
        found = form.read_department_sheet(with_context, DEPARTMENT, book, info, None, None)
        expected = form.read_department_sheet(sheet, DEPARTMENT, book, info, None, None)
        assert (found.columns, found.codes, found.problems) == (expected.columns, expected.codes, expected.problems)
        assert _records(found.records) == _records(expected.records)
    check()


def test_a_merged_range_is_looked_up_by_its_cells_in_the_columns_given_and_named_whole():
    from assess_xl.read import form
    lookup = form._merged_lookup([(3, 0, 4, 4), (9, 0, 9, 1), (6, 3, 6, 3)], {2, 3})
    assert lookup == {(3, 2): "A4:E5", (3, 3): "A4:E5", (4, 2): "A4:E5", (4, 3): "A4:E5", (6, 3): "D7:D7"}
    assert form._merged_lookup([(0, 0, 200, 200)], {2}) == {}  # more than 10,000 cells: not looked up
