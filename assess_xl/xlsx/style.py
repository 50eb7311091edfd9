"""The house style of every workbook the tool writes: one way to open a workbook in memory (text stays
text: no formula, link or number is made from a string), one palette of cell formats, the hidden sheet
that tells a later run a workbook is the tool's own output, and print setup. Writers pick formats from
`styles` by name; a format a writer does not use is not written into its file."""
from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import DuplicateWorksheetName
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellRichStringTuple, CellStringTuple, Worksheet

from assess_xl.xlsx.deflate import Deflater, deflating, inflated
from assess_xl.xlsx.layout import RESULT_META_SHEET, TOOL
from assess_xl.xlsx.sharedstrings import HouseSharedStrings

FONT = "宋体"
WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}
HEADER_FILL, INPUT_FILL = "#D9E1F2", "#FFF2CC"
FIX_COLOR, OWED_COLOR = "#FF9999", "#F4B183"  # cells to fix (red) and cells still owed (orange) in return copies


class HouseWorksheet(Worksheet):  # type: ignore[misc]  # xlsxwriter ships no type hints
    """xlsxwriter's worksheet with its innermost loops made short for the cells the tool writes, writing the
    same bytes: `write_string` and `write_number` with a row and column number go straight to xlsxwriter's own
    `_write_string`/`_write_number` (past the decorator that parses 'A1' references), `write_row_cells` stores
    a row's cells at once as those two would, and saving writes a
    formatted string, number or blank cell without xlsxwriter's attribute list and escaping, which a cell
    reference and a format index never need. Every other cell, and a sheet with comments or in
    constant_memory mode, goes through xlsxwriter.

    For sheets written in two processes (xlsx.childsheets): `assembled` is the sheet's XML when it was
    assembled before saving (by another process: deflated already, xlsx.deflate.Deflated), and
    `renumber_strings` gives the shared strings new numbers when it is saved."""

    assembled: bytes | None = None
    string_numbers: Sequence[int | str] | None = None  # shared string number as written → as saved

    def renumber_strings(self, numbers: Sequence[int | str]) -> None:
        """Save each shared string written as number n as numbers[n] (a number, or a mark to be replaced by
        one: xlsx.childsheets assembles some sheets before their strings' numbers are known)."""
        self.string_numbers = numbers

    def write_string(self, row: Any, col: Any, *args: Any) -> int:
        if type(row) is int and type(col) is int:
            written: int = self._write_string(row, col, *args)
            return written
        return int(super().write_string(row, col, *args))

    def write_number(self, row: Any, col: Any, *args: Any) -> int:
        if type(row) is int and type(col) is int:
            written: int = self._write_number(row, col, *args)
            return written
        return int(super().write_number(row, col, *args))

    def _calculate_spans(self) -> None:
        """xlsxwriter's <row spans> (each block of 16 rows: first to last column with a cell), from each row's
        own columns rather than testing every column of the sheet in every row."""
        if self.comments:
            super()._calculate_spans()
            return
        spans: dict[int, str] = {}
        low = high = -1  # the block's first and last column with a cell (-1: none yet)
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = self.table.get(row)
            if cells:
                first, last = min(cells), max(cells)
                low, high = (first, last) if low < 0 else (min(low, first), max(high, last))
            if ((row + 1) % 16 == 0 or row == self.dim_rowmax) and low >= 0:
                spans[row // 16] = f"{low + 1}:{high + 1}"
                low = high = -1
        self.row_spans = spans

    def _write_rows(self) -> None:
        """xlsxwriter's loop over the rows of the sheet, each row's cells in column order."""
        if self.comments or self.constant_memory:
            self._renumber_table()
            super()._write_rows()
            return
        self._calculate_spans()
        styles: dict[Format, str] = {}  # a cell format → its ` s="N"` attribute
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells, info, span = self.table.get(row), self.row_info.get(row), self.row_spans.get(row // 16)
            if cells:
                start = self._row_start(row, span, info)
                if start is None:
                    self._write_row(row, span, info)
                    start = ""
                self._write_cells(row, cells, styles, start)
            elif info is not None:
                self._write_empty_row(row, span, info)

    def _row_start(self, row: int, span: str | None, info: Any) -> str | None:
        """xlsxwriter's <row> start tag (`_write_row`) at once for a row of no format, outline or hiding in a
        sheet of Excel 2007's format, the tool's rows; None for any other, which xlsxwriter writes."""
        if info is None:
            height = self.default_row_height
        elif info.row_format is None and not (info.hidden or info.level or info.collapsed):
            height = self.default_row_height if info.height is None else info.height
        else:
            return None
        if self.excel_version == 2010:
            return None
        spans = f' spans="{span}"' if span else ""
        if height != self.original_row_height or height != self.default_row_height:
            return f'<row r="{row + 1}"{spans} ht="{height * 0.75:.16g}" customHeight="1">'
        return f'<row r="{row + 1}"{spans}>'

    def _renumber_table(self) -> None:
        """The shared strings' new numbers put into the cells themselves (for xlsxwriter's own loop)."""
        numbers, self.string_numbers = self.string_numbers, None
        if numbers is None:
            return
        for cells in self.table.values():
            for col, cell in cells.items():
                if type(cell) in _SHARED_STRING_CELLS:
                    cells[col] = cell._replace(string=numbers[cell.string])

    def _write_cells(self, row: int, cells: dict[int, Any], styles: dict[Format, str], start: str) -> None:
        """A row's cells after `start` (its start tag, or "" when xlsxwriter has written it), and its end tag."""
        number, numbers, names = str(row + 1), self.string_numbers, _COLUMN_NAMES
        written: list[str] = [start]
        for col in sorted(cells):
            cell = cells[col]
            kind, cell_format = type(cell), cell.format
            if cell_format is None or kind not in _SHORT_CELLS:
                self.fh.write("".join(written))
                written.clear()
                if numbers is not None and kind in _SHARED_STRING_CELLS:
                    cell = cell._replace(string=numbers[cell.string])
                self._write_cell(row, col, cell)
                continue
            style = styles.get(cell_format) or styles.setdefault(cell_format, f' s="{cell_format._get_xf_index()}"')
            if kind is CellStringTuple:  # a shared string, by its index
                index = cell.string if numbers is None else numbers[cell.string]
                written.append(f'<c r="{names[col]}{number}"{style} t="s"><v>{index}</v></c>')
            elif kind is CellNumberTuple:
                written.append(f'<c r="{names[col]}{number}"{style}><v>{cell.number:.16G}</v></c>')
            else:
                written.append(f'<c r="{names[col]}{number}"{style}/>')
        written.append("</row>")
        self.fh.write("".join(written))

    def write_row_cells(self, row: int, col: int, cells: list[tuple[Any, Format | None]]) -> None:
        """One row's cells from column `col` on, each (text or number, format), stored as write_string and
        write_number store them, in the same order (so each text gets the same shared-string number). Where
        the row lies is checked once for the row, not once per cell; a text longer than half Excel's limit,
        a number that is not a plain finite int or float, and a sheet in constant_memory mode go through
        write_string and write_number."""
        last = col + len(cells) - 1
        if not cells or self.constant_memory or self._check_dimensions(row, col) or self._check_dimensions(row, last):
            for offset, (value, style) in enumerate(cells):
                self._write_one(row, col + offset, value, style)
            return
        stored, shared = self.table[row], self.str_table
        numbered = shared.string_table
        for column, (value, style) in enumerate(cells, col):
            kind = type(value)
            if kind is str and len(value) <= _SHORT_TEXT:
                index = numbered.get(value)
                if index is None:  # a new text: numbered (and counted) by xlsxwriter
                    index = shared._get_shared_string_index(value)
                else:
                    shared.count += 1
                stored[column] = _tuple(CellStringTuple, (index, style))
            elif kind is int or kind is float and math.isfinite(value):
                stored[column] = _tuple(CellNumberTuple, (value, style))
            else:
                self._write_one(row, column, value, style)

    def _write_one(self, row: int, col: int, value: Any, style: Format | None) -> None:
        if isinstance(value, str):
            self._write_string(row, col, value, style)
        else:
            self._write_number(row, col, value, style)


_SHORT_CELLS = (CellStringTuple, CellNumberTuple, CellBlankTuple)
_tuple = tuple.__new__  # a cell tuple made without its namedtuple's __new__ (a Python call per cell)
_SHARED_STRING_CELLS = (CellStringTuple, CellRichStringTuple)  # cells that hold a shared string's number


class _ColumnNames(dict[int, str]):
    """Column number → its letters ('A', …, 'XFD'), each worked out once."""

    def __missing__(self, col: int) -> str:
        name: str = self.setdefault(col, xl_col_to_name(col))
        return name


_COLUMN_NAMES = _ColumnNames()
_SHORT_TEXT = 32_767 // 2  # characters a text may have without xlsxwriter's check of its length in UTF-16


class CompactPackager(Packager):  # type: ignore[misc]  # xlsxwriter ships no type hints
    """xlsxwriter's in-memory packager, keeping each worksheet's XML as UTF-8 bytes as soon as the sheet is
    written and then dropping the sheet's cells: xlsxwriter kept every sheet's XML as text (two bytes a
    character, the header being Chinese) beside every sheet's cells until the whole package was zipped,
    0.1 MB per district sheet of a scorecard. The zip receives the same bytes."""

    def _write_worksheet_files(self) -> None:
        sheets = [sheet for sheet in self.workbook.worksheets() if not sheet.is_chartsheet]
        if not self.in_memory or any(sheet.constant_memory for sheet in sheets):
            super()._write_worksheet_files()
            return
        deflater = getattr(self.workbook, "deflater", None)
        for index, sheet in enumerate(sheets, start=1):
            xml = getattr(sheet, "assembled", None)
            if xml is None:
                xml = sheet_xml(sheet)
                sheet.table.clear()
            part = io.BytesIO(inflated(xml)) if deflater is None else deflater.submit(xml)
            self.filenames.append((part, f"xl/worksheets/sheet{index}.xml", True))

    def _write_shared_strings_file(self) -> None:
        """xlsxwriter's part, its plain texts written at once (xlsx.sharedstrings)."""
        if not self.workbook.str_table.count:
            return
        sst = HouseSharedStrings()
        sst.string_table = self.workbook.str_table
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system keeps one (Linux: `taskset`,
    a container's CPU set), else the machine's count (macOS and Windows have no os.sched_getaffinity)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def sheet_xml(sheet: Worksheet) -> bytes:
    """A worksheet's XML as UTF-8."""
    text = io.StringIO()
    sheet._set_xml_writer(text)
    sheet._assemble_xml_file()
    return text.getvalue().encode("utf-8")


class MemoryWorkbook(xlsxwriter.Workbook):  # type: ignore[misc]  # xlsxwriter ships no type hints
    """An xlsxwriter workbook written in memory with the house options; `content()` closes it and
    gives its bytes."""

    worksheet_class = HouseWorksheet
    deflater: Deflater | None = None  # while it is saved on two cores

    def __init__(self, **options: Any) -> None:
        self.buffer = io.BytesIO()
        self.names_in_use: set[str] = set()  # sheet names, lower case
        super().__init__(self.buffer, {**WORKBOOK_OPTIONS, **options})

    def _check_sheetname(self, sheetname: str | None, is_chartsheet: bool = False) -> str:
        """xlsxwriter's checks of a new sheet's name, its duplicate check (case ignored, as Excel does) made
        against a set: xlsxwriter compares the name with every sheet's, quadratic in a scorecard of 1,000
        district sheets."""
        sheets: list[Worksheet] = self.worksheets()
        self.worksheets_objs = []  # xlsxwriter's own loop then finds no sheet
        try:
            name: str = super()._check_sheetname(sheetname, is_chartsheet)
        finally:
            self.worksheets_objs = sheets
        if name.lower() in self.names_in_use:
            raise DuplicateWorksheetName(f"Sheetname '{name}', with case ignored, is already in use.")
        self.names_in_use.add(name.lower())
        return name

    def _get_packager(self) -> Packager:
        return CompactPackager()

    def _store_workbook(self) -> None:
        """Saved with the sheets deflated on another thread while the next are assembled (two cores)."""
        if usable_cores() < 2:
            super()._store_workbook()
            return
        with deflating() as self.deflater:
            super()._store_workbook()
        self.deflater = None

    def content(self) -> bytes:
        """Closes the workbook and gives its bytes. Its sheets then let go of it (each holds the workbook's
        add_format, a cycle), so that it is freed as soon as it is dropped: otherwise it waits for the cycle
        collector, and the collection after a scorecard (the objects writing left, the workbook's with them)
        is a tenth of the time of writing 100 district sheets."""
        self.close()
        for sheet in self.worksheets():
            sheet.workbook_add_format = None
        return self.buffer.getvalue()


_CELL = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1}  # a cell of a table we lay out
_LIST = {"font_name": FONT, "border": 1}  # a cell of a plain list a person fills or copies from
_INPUT = {**_CELL, "text_wrap": True, "align": "center", "bg_color": INPUT_FILL, "locked": False}
_INPUTS = {"input": _INPUT, "input_percent": {**_INPUT, "num_format": "0.0%"},
           "input_number": {**_INPUT, "num_format": "General"}}

PALETTE: dict[str, dict[str, Any]] = {
    # titles and lines of text above a table
    "title": {"font_name": FONT, "font_size": 14, "bold": True},
    "title_centered": {"font_name": FONT, "font_size": 14, "bold": True, "align": "center", "valign": "vcenter",
                       "text_wrap": True},
    "subtitle": {"font_name": FONT, "font_size": 10, "font_color": "#404040"},
    "warn": {"font_name": FONT, "font_size": 10, "bold": True, "font_color": "#C00000"},
    "hint": {"font_name": FONT, "font_size": 9, "font_color": "#595959", "text_wrap": True, "valign": "top"},
    "label": {"font_name": FONT, "font_size": 11, "bold": True},
    "plain": {"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"},
    "big": {"font_name": FONT, "font_size": 12, "bold": True, "num_format": "0.00", "align": "left"},
    "big_int": {"font_name": FONT, "font_size": 12, "bold": True, "num_format": "0", "align": "left"},
    # tables we lay out (forms, scorecard, status)
    "header": {**_CELL, "bold": True, "align": "center", "text_wrap": True, "bg_color": HEADER_FILL},
    "text": {**_CELL, "text_wrap": True},
    "code": {**_CELL, "text_wrap": True, "align": "center", "bold": True},
    "center": {**_CELL, "align": "center"},
    "score": {**_CELL, "num_format": "0.00", "align": "center"},
    "int": {**_CELL, "num_format": "0", "align": "center"},
    "bold_text": {**_CELL, "bold": True, "text_wrap": True, "bg_color": "#F2F2F2"},
    "bold_score": {**_CELL, "bold": True, "num_format": "0.00", "align": "center", "bg_color": "#F2F2F2"},
    "missing": {**_CELL, "align": "center", "font_color": "#C00000", "bold": True},
    "red": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    # input cells of a form, and the same marked in a return copy: to fix, still owed
    **_INPUTS,
    **{f"{name}_{mark}": {**spec, "bg_color": color, "bold": True}
       for name, spec in _INPUTS.items() for mark, color in (("fix", FIX_COLOR), ("owed", OWED_COLOR))},
    # plain lists (contacts, adjustments, the rulebook workbook, a replay)
    "list_header": {**_LIST, "bold": True, "bg_color": HEADER_FILL},
    "list_header_wrap": {**_LIST, "bold": True, "bg_color": HEADER_FILL, "text_wrap": True},
    "list_cell": _LIST,
    "list_text": {**_LIST, "text_wrap": True},
    "list_text_top": {**_LIST, "text_wrap": True, "valign": "top"},
    "list_number": {**_LIST, "num_format": "0.00"},
    "list_note": {**_LIST, "italic": True, "font_color": "#595959", "text_wrap": True, "bg_color": "#F2F2F2",
                  "valign": "top"},
    "list_input": {**_LIST, "bg_color": INPUT_FILL, "locked": False},
    "list_input_date": {**_LIST, "bg_color": INPUT_FILL, "locked": False, "num_format": "yyyy-mm-dd"},
}


def styles(workbook: xlsxwriter.Workbook) -> dict[str, Format]:
    """The house palette as formats of `workbook`, by name."""
    return {name: workbook.add_format(spec) for name, spec in PALETTE.items()}


def write_result_metadata(workbook: xlsxwriter.Workbook, fields: dict[str, str]) -> None:
    """A hidden sheet that tells a later run this workbook is the tool's own output, not a form."""
    ws = workbook.add_worksheet(RESULT_META_SHEET)
    for row, (key, value) in enumerate({"tool": TOOL, **fields}.items()):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, value)
    ws.hide()


def print_setup(ws: Worksheet, title_rows: tuple[int, int]) -> None:
    """A4 landscape, fit to width, repeated title rows, page numbers in the footer."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(*title_rows)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&C第 &P 页 共 &N 页")
