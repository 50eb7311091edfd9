"""The house workbook's shortcuts inside xlsxwriter write exactly what xlsxwriter writes."""
import gc
import re
import io
import zipfile
from datetime import datetime

import pytest
import xlsxwriter
from xlsxwriter.exceptions import DuplicateWorksheetName, InvalidWorksheetName

from assess_xl.xlsx.collector import collection_paused
from assess_xl.xlsx.style import WORKBOOK_OPTIONS, MemoryWorkbook, styles


def fill(workbook) -> None:
    """Every kind of cell, with and without a format, on two sheets, with row heights, rows of only a
    height, cells written out of column order or in 'A1' notation, and a comment on the second sheet."""
    formats = styles(workbook)
    for name in ("甲区", "Sheet"):
        ws = workbook.add_worksheet(name)
        ws.set_row(2, 31.5)
        values = ["文本", 'a & b < c > "d"\n第二行', "", " 前后空格 ", "=1+1", 0, -3.25, 1e-7, 12345678901234567890,
                  2.675, True, datetime(2008, 1, 20, 9, 30)]
        for r, value in enumerate(values):
            for c, style in enumerate([None, formats["text"], formats["score"]]):
                if isinstance(value, str):
                    ws.write_string(r, c, value, style)
                elif isinstance(value, bool):
                    ws.write_boolean(r, c, value, style)
                elif isinstance(value, datetime):
                    ws.write_datetime(r, c, value, style)
                else:
                    ws.write_number(r, c, value, style)
        ws.write_blank(20, 1, None, formats["bold_text"])
        ws.write_formula(21, 1, "=A7*2", formats["int"], 0)
        ws.write_rich_string(22, 1, "甲", formats["warn"], "乙", formats["text"])
        for r in range(30, 75):  # several blocks of 16 rows (<row spans>), cells written right to left, gaps
            for c in (7, 3, 5) if r % 3 else (4,) if r % 5 else ():
                ws.write_string(r, c, f"{r}-{c}", formats["text"])
            ws.set_row(r, 15 + r % 4 * 7.5)  # rows 45, 60 and 75 only have a height
        ws.write_string("K80", "A1 notation", formats["text"])
        ws.write_number("J80", 80, formats["score"])
        rows_of_every_kind(ws, formats)
        if name == "Sheet":
            ws.write_comment(40, 6, "批注")  # a sheet with comments is saved by xlsxwriter itself


def rows_of_every_kind(ws, formats) -> None:
    """Rows with cells and each kind of row setting: a height, the default height, no height, a format,
    hidden, an outline level, collapsed, and the same on rows without cells."""
    settings = [dict(height=20), dict(height=15), dict(height=None), dict(height=None, cell_format=formats["text"]),
                dict(height=18, options={"hidden": True}), dict(height=None, options={"level": 1}),
                dict(height=12, options={"level": 2, "collapsed": True}), dict(height=0)]
    for n, setting in enumerate(settings):
        for r in (90 + n, 110 + n):
            ws.set_row(r, **setting)
            if r < 110:
                ws.write_string(r, n % 3, f"行{r}", formats["text"])


def parts(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_house_worksheets_save_the_same_bytes_as_xlsxwriter():
    ours = MemoryWorkbook()
    fill(ours)
    buffer = io.BytesIO()
    theirs = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    fill(theirs)
    theirs.close()
    mine, reference = parts(ours.content()), parts(buffer.getvalue())
    assert mine.keys() == reference.keys()
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/sharedStrings.xml", "xl/styles.xml"):
        assert b"<c r=" in mine[name] or not name.startswith("xl/worksheets")
        assert mine[name] == reference[name], name
    assert {n: p for n, p in mine.items() if n != "docProps/core.xml"} == {
        n: p for n, p in reference.items() if n != "docProps/core.xml"}  # the compact packager's parts too


@pytest.mark.parametrize("default_height", [None, 20, 15])
def test_rows_save_the_same_bytes_as_xlsxwriter_under_any_default_height(default_height):
    """The house <row> tag is xlsxwriter's whatever the sheet's default row height, also in a sheet that
    Excel 2010's data bars put in that format (xlsxwriter writes its rows)."""
    def filled(workbook):
        formats = styles(workbook)
        for bars in (False, True):
            ws = workbook.add_worksheet()
            if default_height is not None:
                ws.set_default_row(default_height)
            rows_of_every_kind(ws, formats)
            if bars:
                ws.conditional_format(90, 0, 100, 2, {"type": "data_bar", "data_bar_2010": True})
        return workbook

    buffer = io.BytesIO()
    theirs = filled(xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS))
    theirs.close()
    mine, reference = parts(filled(MemoryWorkbook()).content()), parts(buffer.getvalue())
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        assert b"<row r=" in mine[name] and mine[name] == reference[name], name


def test_sheet_names_are_checked_as_xlsxwriter_checks_them():
    """Duplicates are refused whatever their case, among a thousand sheets; xlsxwriter's other checks still apply."""
    workbook = MemoryWorkbook()
    for n in range(1000):
        workbook.add_worksheet(f"第{n}区")
    with pytest.raises(DuplicateWorksheetName):
        workbook.add_worksheet("第999区")
    workbook.add_worksheet("Abc")
    with pytest.raises(DuplicateWorksheetName):
        workbook.add_worksheet("aBC")
    with pytest.raises(InvalidWorksheetName):
        workbook.add_worksheet("名[1]")
    with pytest.raises(InvalidWorksheetName):
        workbook.add_worksheet("区" * 32)
    assert workbook.add_worksheet().name == "Sheet1006"  # xlsxwriter counts every sheet asked for, as before
    assert len(workbook.worksheets()) == 1002


def test_a_row_of_cells_at_once_saves_what_cell_by_cell_saves():
    """write_row_cells stores what write_string and write_number store, in the same order (shared strings
    numbered alike): plain texts and numbers, a text past half Excel's limit, a numpy number, a row out of
    the sheet, the same text twice."""
    import numpy as np

    rows = [["甲", 1, 2.5, "", "甲"], ["长" * 20_000, np.float64(0.1), -7, "乙\n丙"], [3, "丁"]]
    starts = [0, 2, 16_384 - 2]

    def write(workbook, at_once: bool) -> None:
        formats = styles(workbook)
        ws = workbook.add_worksheet("表")
        for r, (row, start) in enumerate(zip(rows + [rows[0]], starts + [0])):
            cells = [(value, formats["text"] if isinstance(value, str) else formats["score"]) for value in row]
            r = r if r < 3 else 1_048_576  # the last row lies outside the sheet: nothing is stored
            if at_once:
                ws.write_row_cells(r, start, cells)
                continue
            for c, (value, style) in enumerate(cells, start=start):
                (ws.write_string if isinstance(value, str) else ws.write_number)(r, c, value, style)

    ours, theirs = MemoryWorkbook(), MemoryWorkbook()
    write(ours, True)
    write(theirs, False)
    mine, reference = parts(ours.content()), parts(theirs.content())
    assert b"<c r=" in mine["xl/worksheets/sheet1.xml"]
    for name in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml"):
        assert mine[name] == reference[name], name


def test_a_row_of_cells_refuses_what_write_number_refuses():
    ws = MemoryWorkbook().add_worksheet()
    with pytest.raises(TypeError):
        ws.write_row_cells(0, 0, [(1.0, None), (float("nan"), None)])


def test_collection_is_paused_while_writing_and_resumes_as_it_was():
    seen = []

    @collection_paused()
    def write(fail: bool) -> None:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("xlsxwriter refused")

    assert gc.isenabled()
    write(False)
    with pytest.raises(ValueError):
        write(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        write(False)
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()


def test_rich_strings_renumbered_as_plain_texts_are():
    """A sheet whose shared strings are given new numbers (xlsx.childsheets) saves its rich strings' numbers
    renumbered too, through xlsxwriter's loop as through the house one."""
    workbook = MemoryWorkbook()
    look = styles(workbook)
    ws = workbook.add_worksheet("甲")
    ws.write_string(0, 0, "一", look["text"])
    ws.write_rich_string(1, 0, "甲", look["warn"], "乙", look["text"])
    ws.write_rich_string(2, 0, "丙", look["warn"], "丁")
    ws.renumber_strings([7, 8, 9])
    xml = parts(workbook.content())["xl/worksheets/sheet1.xml"]
    assert [int(n) for n in re.findall(rb't="s"><v>(\d+)</v>', xml)] == [7, 8, 9]


def test_a_saved_workbook_is_freed_once_dropped_without_the_cycle_collector():
    """Its sheets let go of it when it is saved: dropping it frees it (sheets, cells, charts) at once, instead
    of leaving it to the next collection, which would also scan everything writing left behind."""
    import weakref
    workbook = MemoryWorkbook()
    fill(workbook)
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series({"values": ["甲区", 0, 2, 5, 2]})
    workbook.worksheets()[0].insert_chart(30, 0, chart)
    sheets = [weakref.ref(sheet) for sheet in workbook.worksheets()]
    dropped = weakref.ref(workbook)
    with collection_paused():
        assert workbook.content().startswith(b"PK")
        del workbook, chart
        assert dropped() is None and not any(sheet() for sheet in sheets)
