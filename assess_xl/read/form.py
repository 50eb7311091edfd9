"""One returned workbook → what it says: its verdict, its validated metadata, and for each department
sheet the input cells found by code and district header. Runs in a child process (see merge and
sandbox): it takes a path, reads the file itself by a bounded read, and returns a compact, picklable
`FileRead`, so the main process never holds a file's bytes or parsed sheets. Never raises for bad input.

Which districts a run has is decided later, over all files (merge.run_districts); here district
columns are kept by their comparison key (layout.name_key) with the header as written."""
from __future__ import annotations

import functools
import itertools
import json
import math
import operator
import re
from array import array
from dataclasses import dataclass, field, replace
from datetime import datetime
from collections.abc import Sequence
from typing import Any, NamedTuple

from assess_xl import problems as P
from assess_xl.read import cells, gather
from assess_xl.read.cells import Reading, interpret, is_blank
from assess_xl.rules.components import Indicator
from assess_xl.xlsx.layout import (CONTEXT_HEADERS, GUIDE_SHEET, MAX_DISTRICT_NAME, MAX_DISTRICTS, META_SHEET, RESULT_META_SHEET,
                     RETURN_SHEET, TOOL, cell_name, column_letters, column_number, name_key, normalise_text, printable,
                     repeated_name_key)
from assess_xl.problems import Problem
from assess_xl.xlsx.collector import collection_paused
from assess_xl.xlsx.parse import SheetData, SheetTooLarge, parse_workbook
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code


# File verdicts, shown in 来源.
READ, REJECTED, DUPLICATE, NOT_A_FORM, OTHER_RULEBOOK, TOOL_OUTPUT = (
    "已读取", "已拒绝", "重复", "非填报表", "其他细则", "本工具输出")


class DistrictColumns(NamedTuple):
    """A sheet's district columns, as one list per field (sent back from a child as a few lists, not as
    an object per column)."""
    keys: list[str]  # layout.name_key of each header
    headers: list[str]  # the header as written (normalised)
    cells: list[str]  # where the header is, e.g. H3
    filled: list[bool]  # whether any input cell below it holds something


NO_COLUMNS = DistrictColumns([], [], [], [])


class RowRead(NamedTuple):
    """One indicator's row: each district column's entry (any key that stands for it), and what each distinct entry
    reads as, in the order first met."""
    entries: Sequence[Any]
    readings: dict[Any, Reading]


def _byte_table(flags: list[bool]) -> bytes:
    """A table for bytes.translate: byte n becomes flags[n] (0 or 1)."""
    return bytes(flags).ljust(256, b"\0")


def _spread_doubles(values: list[float], numbers: bytes) -> bytearray:
    """The machine bytes of an array of doubles holding values[n] for each byte n of `numbers` (at most 256 values):
    each of a double's 8 bytes translated from `numbers` by its own table and laid in its place, 8 bytes apart."""
    packed = array("d", values).tobytes()
    spread = bytearray(8 * len(numbers))
    for k in range(8):
        spread[k::8] = numbers.translate(packed[k::8].ljust(256, b"\0"))
    return spread


SPREAD_WIDTH = 64  # from this many columns a row's fields are spread from its distinct readings (measured: at 10
# columns gathering them reading by reading costs a third of spreading them, at 100 a little more)


@dataclass
class Cells:
    """A sheet's input cells, one entry per (code, district column), code by code. The numbers and flags are packed
    (an array of doubles; bytes of 0 or 1), so that a child sends each as a few bytes rather than an object, and
    the merge takes them as arrays without a look at each. Their cells are not sent one by one either: a reader
    sends its sheet's column letters once and each code's row number (cells() makes the names where needed)."""
    value: array[float] = field(default_factory=lambda: array("d"))  # NaN where nothing usable was entered
    raw: list[str] = field(default_factory=list)  # the entry as typed
    blank: bytearray = field(default_factory=bytearray)
    valid: bytearray = field(default_factory=bytearray)
    cell: list[str] = field(default_factory=list)  # each entry's cell, e.g. H4, when given one by one; else
    letters: list[str] = field(default_factory=list)  # the district columns' letters, e.g. H
    rows: list[str] = field(default_factory=list)  # and each code's row number, e.g. 4: its cells are H4, I4, ...

    def add(self, row: RowRead, row_number: str) -> None:
        """One code's readings, one per district column (of `letters`), from its row `row_number`. A wide row's
        fields are spread from its few distinct readings (by each column's number among them, in C), not gathered
        reading by reading."""
        entries, readings = row
        if len(readings) == 1:  # a row of one entry repeated, as a row left blank: each field copied
            (reading,) = readings.values()
            count = len(entries)
            self.value.extend(array("d", (reading.value,)) * count)
            self.raw += [reading.raw] * count
            self.blank += bytes((reading.blank,)) * count
            self.valid += bytes((reading.valid,)) * count
        elif len(entries) >= SPREAD_WIDTH and len(readings) <= 256:
            numbers = bytes(map({entry: n for n, entry in enumerate(readings)}.__getitem__, entries))
            distinct = list(readings.values())
            self.value.frombytes(_spread_doubles([reading.value for reading in distinct], numbers))
            self.raw += map(tuple(reading.raw for reading in distinct).__getitem__, numbers)
            self.blank += numbers.translate(_byte_table([reading.blank for reading in distinct]))
            self.valid += numbers.translate(_byte_table([reading.valid for reading in distinct]))
        elif readings:  # a narrow row, or one of many distinct entries: reading by reading
            value, raw, blank, valid, _ = zip(*map(readings.__getitem__, entries))
            self.value.extend(value)
            self.raw += raw
            self.blank.extend(blank)
            self.valid.extend(valid)
        self.rows.append(row_number)

    def cells(self) -> list[str]:
        """Each entry's cell, e.g. H4: as given one by one, else each code's row number after each column's letters."""
        if self.cell or not self.rows:
            return self.cell
        return list(itertools.chain.from_iterable(map(cells_of, itertools.repeat(self.letters), self.rows)))

    def __len__(self) -> int:
        return len(self.raw)


def cells_of(letters: list[str], row_number: str) -> list[str]:
    """The cells of a row: its number after each column's letters."""
    return list(map(operator.add, letters, itertools.repeat(row_number)))


@dataclass
class SheetRead:
    """One department sheet of one file: its district columns and one record per input cell."""
    department: str
    sheet: str
    columns: DistrictColumns
    records: Cells
    problems: list[Problem]  # problems of cells; their district field holds the header as written
    expected: list[str] | None = None  # the districts the file's metadata lists, if valid
    codes: list[str] = field(default_factory=list)  # the codes read, in the order of the records: each has one
    # record per district column (columns.keys), so that key, code, file and sheet need not be sent per record


@dataclass
class FileMeta:
    """The hidden metadata of a form, validated: anything a sender wrote that is not well-formed is dropped."""
    fingerprint: str = ""
    title: str = ""
    year: str = ""
    districts: list[str] | None = None
    codes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FileRead:
    info: gather.FileInfo
    status: str = READ
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    sheets: list[SheetRead] = field(default_factory=list)
    meta: FileMeta | None = None


# ---- one file -----------------------------------------------------------------------------

def read_one(item: tuple[str, str], book: Rulebook, now: datetime | None = None) -> FileRead:
    """Everything one file (path, name as shown) says, in a child process. The submission order of
    its records is set later, when all files are known (merge)."""
    path, name = item
    import python_calamine  # noqa: F401  an ImportError here is the machine's fault, not the file's
    return read_loaded(gather.load(path, name, now=now), book, now)


def read_loaded(info: gather.FileInfo, book: Rulebook, now: datetime | None = None) -> FileRead:
    """What a loaded workbook says: its pre-flight, its parse and its sheets read, with the cycle collector paused
    (see collection_paused: the scans, the parsed rows and the records are many small objects, none cyclic)."""
    with collection_paused():
        return _read_loaded(info, book, now)


def _read_loaded(info: gather.FileInfo, book: Rulebook, now: datetime | None) -> FileRead:
    name = info.name
    if not info.rejected:
        gather.inspect(info, now)
    data, info.data = info.data, b""  # nothing of the bytes leaves this function
    if info.rejected:
        return FileRead(info, REJECTED, info.rejected, [info.problem(name)])
    try:
        sheets = parse_workbook(data)
    except SheetTooLarge as big:
        return _rejected(FileRead(info), Code.SHEET_TOO_LARGE, sheet=printable(big.sheet), rows=str(big.height),
                         columns=str(big.width))
    except MemoryError:
        return _rejected(FileRead(info), Code.PARSE_MEMORY)
    except Exception as exc:  # calamine's own error types: a verdict on the file, not a failure of ours
        if type(exc).__name__ == "PasswordError":
            return _rejected(FileRead(info), Code.ENCRYPTED)
        return _rejected(FileRead(info), Code.PARSE_ERROR, kind=P.reason(exc))
    return read_sheets(info, sheets, book)


def _rejected(result: FileRead, code: Code, **fields: str) -> FileRead:
    """The file's verdict: rejected, with the catalogue code as the problem's kind."""
    return replace(result, status=REJECTED, reason=P.text(code, **fields),
                   problems=[*result.problems, P.make(code, file=result.info.name, **fields)])


def read_sheets(info: gather.FileInfo, sheets: dict[str, SheetData], book: Rulebook) -> FileRead:
    notes: list[Problem] = []
    status, reason, meta, reads = _read_sheets(info, sheets, book, notes)
    return FileRead(info, status, reason, notes, reads, meta)


def _read_sheets(info: gather.FileInfo, sheets: dict[str, SheetData], book: Rulebook,
                 notes: list[Problem]) -> tuple[str, str, FileMeta | None, list[SheetRead]]:
    """(status, reason, metadata, sheet reads) of one parsed workbook; problems go to `notes`."""
    name = info.name
    if info.saved_ignored:
        notes.append(P.make(Code.SAVED_TIME_IMPLAUSIBLE, file=name, raw=info.saved_ignored))
    if info.macros:
        notes.append(P.make(Code.FILE_MACROS, file=name))
    if info.format not in ("xlsx", "xlsm"):
        notes.append(P.make(Code.FILE_FORMAT, file=name, format=info.format))
    if _is_tool_output(sheets):
        return TOOL_OUTPUT, P.text(Code.TOOL_OUTPUT), None, []
    meta = read_metadata(sheets, name, notes)
    if meta is not None and meta.fingerprint != book.fingerprint:
        problem = P.make(Code.OTHER_RULEBOOK, file=name, found=f"{meta.title}，{meta.year}年度", found_fp=meta.fingerprint,
                         expected_title=book.title, expected_fp=book.fingerprint)
        notes.append(problem)
        return OTHER_RULEBOOK, problem.message, meta, []
    if meta is None:
        notes.append(P.make(Code.NO_METADATA, file=name))
    assigned = _assign_sheets(sheets, book, name, notes)
    if not assigned:
        listed = "、".join(printable(s) for s in sheets) or "无"
        notes.append(P.make(Code.NOT_A_FORM, file=name, sheets=listed))
        return NOT_A_FORM, P.text(Code.NOT_A_FORM, sheets=listed), None, []  # says nothing about the run's districts
    reads = [read_department_sheet(sheet, department, book, info, meta.codes.get(department) if meta else None,
                                   meta.districts if meta else None) for department, sheet in assigned.items()]
    return READ, "", meta, reads


def _is_tool_output(sheets: dict[str, SheetData]) -> bool:
    sheet = sheets.get(RESULT_META_SHEET)
    return sheet is not None and any(len(row) >= 2 and row[0] == "tool" and row[1] == TOOL for row in sheet.rows)


# ---- metadata -----------------------------------------------------------------------------

def read_metadata(sheets: dict[str, SheetData], file_name: str, notes: list[Problem]) -> FileMeta | None:
    """The form's hidden metadata, every field checked as untrusted data; None when there is none."""
    sheet = sheets.get(META_SHEET)
    if sheet is None:
        return None
    fields: dict[str, str] = {}
    for row in sheet.rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0] and isinstance(row[1], str):
            fields[row[0]] = row[1]
    if fields.get("tool") != TOOL:
        return None
    meta = FileMeta(fingerprint=fields.get("fingerprint", "")[:64], title=printable(fields.get("title", ""))[:200],
                    year=printable(fields.get("year", ""))[:20])
    meta.districts = _district_list(fields.get("districts"))
    if meta.districts is None:
        notes.append(P.make(Code.METADATA_INVALID, file=file_name, field="districts"))
    for key, value in fields.items():
        if key.startswith("codes:"):
            codes = _checked_codes(value)
            if codes is None:
                notes.append(P.make(Code.METADATA_INVALID, file=file_name, field=printable(key)[:60]))
            else:
                meta.codes[key[len("codes:"):]] = list(codes)
    return meta


def _string_list(text: object, max_items: int, max_length: int) -> list[str] | None:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list) or len(value) > max_items:
        return None
    if not all(isinstance(v, str) and 0 < len(v) <= max_length for v in value):
        return None
    return [str(v) for v in value]


# The longest metadata text whose check a child remembers (every form and copy of a run lists the same codes and
# districts: checked once per child). Longer texts, a hostile file's, are checked each time and not kept, so that what
# one file leaves in a child's memory stays small beside its limit (a later file is not refused for want of memory).
REMEMBERED_TEXT = 256 * 1024


def _checked_codes(text: str) -> tuple[str, ...] | None:
    """A department's codes as the metadata lists them (a JSON list of at most 1,000 codes of 1 to 40 characters)."""
    return _remembered_codes(text) if len(text) <= REMEMBERED_TEXT else _codes(text)


def _codes(text: str) -> tuple[str, ...] | None:
    codes = _string_list(text, 1_000, 40)
    return None if codes is None else tuple(codes)


_remembered_codes = functools.lru_cache(maxsize=64)(_codes)


def _district_list(text: object) -> list[str] | None:
    """The metadata's list of districts, when every name is shown as written and no two compare alike."""
    if not isinstance(text, str):
        return None
    checked = _remembered_district_list if len(text) <= REMEMBERED_TEXT else _checked_district_list
    names = checked(text, MAX_DISTRICTS)
    return None if names is None else list(names)


def _checked_district_list(text: str, limit: int) -> tuple[str, ...] | None:
    names = _string_list(text, limit, MAX_DISTRICT_NAME)
    if names is None or any(printable(n) != n or not name_key(n) for n in names):
        return None
    if len({name_key(n) for n in names}) != len(names):
        return None
    return tuple(names)


_remembered_district_list = functools.lru_cache(maxsize=64)(_checked_district_list)


# ---- sheets -------------------------------------------------------------------------------

def _assign_sheets(sheets: dict[str, SheetData], book: Rulebook, file_name: str,
                   notes: list[Problem]) -> dict[str, SheetData]:
    """Department → its sheet: by name (compared as names are), or by the codes it holds when renamed."""
    departments = {repeated_name_key(d): d for d in book.departments}
    by_department: dict[str, list[SheetData]] = {}
    for sheet in sheets.values():
        if sheet.name in (META_SHEET, GUIDE_SHEET, RETURN_SHEET):
            continue
        department = departments.get(repeated_name_key(sheet.name)) or _department_by_codes(sheet, book)
        if department:
            by_department.setdefault(department, []).append(sheet)
    assigned: dict[str, SheetData] = {}
    for department in book.departments:
        found = by_department.get(department, [])
        if len(found) > 1:
            notes.append(P.make(Code.SHEET_DUPLICATE, file=file_name, department=department,
                                sheets="、".join(printable(s.name) for s in found)))
            continue
        if found:
            sheet = found[0]
            if not sheet.visible:
                notes.append(P.make(Code.SHEET_HIDDEN, file=file_name, sheet=sheet.name))
            if repeated_name_key(sheet.name) != repeated_name_key(department):
                notes.append(P.make(Code.SHEET_RENAMED, file=file_name, sheet=sheet.name, department=department))
            assigned[department] = sheet
    return assigned


def _department_by_codes(sheet: SheetData, book: Rulebook) -> str | None:
    header = find_header(sheet.rows)
    if header is None:
        return None
    row_index, code_col = header
    codes = {_normalised(str(r[code_col])) for r in sheet.rows[row_index + 1:] if code_col < len(r)}
    owners = {book.indicators[c].department for c in codes if c in book.indicators}
    return owners.pop() if len(owners) == 1 else None


def find_header(rows: list[list[Any]]) -> tuple[int, int] | None:
    """(row, column) of the `编号` header cell, looked for in the first 30 rows and 60 columns."""
    for r, row in enumerate(rows[:30]):
        for c, cell in enumerate(row[:60]):
            if isinstance(cell, str) and _normalised(cell) == "编号":
                return r, c
    return None


def read_department_sheet(sheet: SheetData, department: str, book: Rulebook, info: gather.FileInfo,
                          expected_codes: list[str] | None, expected_districts: list[str] | None) -> SheetRead:
    """Records for every (code, district column) input cell of one department sheet, and its problems."""
    where = {"file": info.name, "sheet": sheet.name}
    out: list[Problem] = []
    codes: list[str] = []
    header = find_header(sheet.rows)
    if header is None:
        return SheetRead(department, sheet.name, NO_COLUMNS, Cells(), [P.make(Code.NO_HEADER, **where)],
                         expected_districts)
    header_row, code_col = header
    keys, headers, cols, letters, header_cells, _ = _district_columns(sheet.rows[header_row], header_row, code_col,
                                                                      where, out)
    found = Cells(letters=letters)
    code_rows = _code_rows(sheet.rows, header_row, code_col, department, book, where, out)
    wanted = expected_codes or [i.code for i in book.department_indicators(department)]
    special = _special_cells(info, sheet, header_row, cols)
    for code in dict.fromkeys(wanted):
        indicator = book.indicators.get(code)
        if indicator is None or indicator.department != department:
            continue
        row = code_rows.get(code)
        if row is None:
            out.append(P.make(Code.CODE_MISSING, code=code, **where))
            continue
        readings = _read_row(indicator, sheet.rows[row], cols, letters, row, headers, special, where, out)
        codes.append(code)
        found.add(readings, str(row + 1))
    columns = DistrictColumns(keys, headers, header_cells, _filled(found.blank, len(keys)))
    return SheetRead(department, sheet.name, columns, found, out, expected_districts, codes)


def _filled(blank: bytearray, width: int) -> list[bool]:
    """Whether each of `width` columns has an entry not blank, `blank` holding rows of `width` flags (0 or 1) one
    after another: the rows' flags and-ed together as one number each, not column by column."""
    if not width:
        return []
    all_blank = int.from_bytes(b"\x01" * width, "little")
    for start in range(0, len(blank), width):
        all_blank &= int.from_bytes(blank[start:start + width], "little")
    return [not flag for flag in all_blank.to_bytes(width, "little")]


@dataclass(frozen=True)
class SpecialCells:
    """The input cells of one sheet that are not plain entries: error values, formulas, merged ranges."""
    errors: set[str]  # cells holding an error value
    formulas: dict[str, str]  # cell → formula
    merged: dict[tuple[int, int], str]  # (row, district column) → the merged range it lies in, e.g. "H4:I4"
    cells: set[str]  # every cell above
    rows: set[int] | None  # the rows (zero-based) with one of them in a district column; None: not known


def _special_cells(info: gather.FileInfo, sheet: SheetData, header_row: int, cols: list[int]) -> SpecialCells:
    """The sheet's special cells, and the rows where one lies in a district column (`cols`). Of merged ranges, only their
    cells in district columns: no other cell is read (a form's context columns are merged, row over row)."""
    errors = info.error_cells.get(sheet.name, set())
    formulas = info.formula_cells.get(sheet.name, {})
    district_cols = set(cols)
    merged = _merged_lookup([m for m in sheet.merged if m[0] > header_row], district_cols)  # titles are ours
    names = errors | set(formulas)
    named = _positions_of(names)
    rows = None if named is None else {r for r, c in itertools.chain(named, merged) if c in district_cols}
    return SpecialCells(errors, formulas, merged, names | {cell_name(r, c) for r, c in merged}, rows)


_CELL_NAME = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")


def _positions_of(names: set[str]) -> list[tuple[int, int]] | None:
    """The zero-based (row, column) of cell names such as H4; None when one of them is not such a name."""
    matches = [_CELL_NAME.fullmatch(name) for name in names]
    if not all(matches):
        return None
    return [(int(match.group(2)) - 1, column_number(match.group(1))) for match in matches if match]


def _read_row(indicator: Indicator, values: list[Any], cols: list[int], letters: list[str], row: int,
              headers: list[str], special: SpecialCells, where: dict[str, str], out: list[Problem]) -> RowRead:
    """The readings of one indicator's row (`letters`: each column's); a form repeats the same few entries, so
    each distinct entry is interpreted once (for the whole run: `_known_readings`). The cells are named only
    when a problem or a special cell needs them."""
    raws = _entries(values, cols)
    if special.cells and (special.rows is None or row in special.rows):
        cells_here = cells_of(letters, str(row + 1))
        if not special.cells.isdisjoint(cells_here):
            by_cell = _read_row_with_special(indicator, raws, cols, cells_here, row, headers, special, where, out)
            return RowRead(range(len(by_cell)), dict(enumerate(by_cell)))
    known = _known_readings(indicator)
    # Texts and decimals are their own keys (never equal to each other); other types go with their type, as
    # 1 == 1.0 == True.
    keys = raws if set(map(type, raws)) <= _OWN_KEYS else list(zip(map(type, raws), raws))
    distinct = dict.fromkeys(keys)
    for key in distinct:
        if key not in known:
            known[key] = interpret(indicator, key[1] if type(key) is tuple else key)
    readings = {key: known[key] for key in distinct}
    if any(reading.notes for reading in readings.values()):
        cells_here = cells_of(letters, str(row + 1))
        for i, key in enumerate(keys):
            reading = readings[key]
            if reading.notes:
                at = {"cell": cells_here[i], "district": headers[i], "code": indicator.code, **where}
                out.extend(P.make(kind, raw=reading.raw, **fields, **at) for kind, fields in reading.notes)
    if len(known) > MAX_KNOWN:
        known.clear()
    return RowRead(keys, readings)


_OWN_KEYS = {str, float}


def _entries(values: list[Any], cols: list[int]) -> list[Any]:
    """The row's value in each of `cols` ("" past its end)."""
    if cols and cols[-1] < len(values):  # cols rise left to right (_header_columns)
        if cols[-1] - cols[0] == len(cols) - 1:  # side by side, as in a form: one slice
            return values[cols[0]:cols[-1] + 1]
        return list(map(values.__getitem__, cols))
    width = len(values)
    return [values[col] if col < width else "" for col in cols]


MAX_KNOWN = 4096  # distinct entries kept per indicator (a hostile file may hold many)
_KNOWN: dict[int, tuple[Indicator, dict[Any, Reading]]] = {}


def _known_readings(indicator: Indicator) -> dict[Any, Reading]:
    """What each entry already seen for `indicator` means (an entry as typed, or (type, value) when not
    text). Kept for the child's run: one department's copies repeat the same few entries file after file."""
    entry = _KNOWN.get(id(indicator))
    if entry is None or entry[0] is not indicator:
        entry = _KNOWN[id(indicator)] = (indicator, {})
    return entry[1]


def _read_row_with_special(indicator: Indicator, raws: list[Any], cols: list[int], cells_here: list[str], row: int,
                           headers: list[str], special: SpecialCells, where: dict[str, str],
                           out: list[Problem]) -> list[Reading]:
    """_read_row of a row holding error values, formulas or merged cells: cell by cell."""
    readings = []
    for i, raw in enumerate(raws):
        at = {"cell": cells_here[i], "district": headers[i], "code": indicator.code, **where}
        if cells_here[i] in special.cells:
            reading = _read_special(indicator, raw, at, special, special.merged.get((row, cols[i])), out)
        else:
            reading = interpret(indicator, raw)
            out.extend(P.make(kind, raw=reading.raw, **fields, **at) for kind, fields in reading.notes)
        readings.append(reading)
    return readings


def _read_special(indicator: Indicator, raw: Any, at: dict[str, str], special: SpecialCells,
                  merged_range: str | None, out: list[Problem]) -> Reading:
    if merged_range:
        out.append(P.make(Code.MERGED_INPUT, range=merged_range, **at))
    if at["cell"] in special.errors:
        out.append(P.make(Code.ERROR_VALUE, raw="错误值", expected=indicator.what_to_type(), **at))
        return Reading(math.nan, "#错误值", False, False, [])
    formula = special.formulas.get(at["cell"])
    if formula is not None:
        if is_blank(raw):
            out.append(P.make(Code.FORMULA_NO_VALUE, raw=f"={formula}", formula=f"={formula}",
                              expected=indicator.what_to_type(), **at))
            return Reading(math.nan, f"={formula}", False, False, [])
        out.append(P.make(Code.FORMULA_CACHED, raw=raw, formula=f"={formula}", **at))
    reading = interpret(indicator, raw)
    out.extend(P.make(kind, raw=reading.raw, **fields, **at) for kind, fields in reading.notes)
    return reading._replace(notes=[])


def _merged_lookup(merged: list[tuple[int, int, int, int]], columns: set[int]) -> dict[tuple[int, int], str]:
    """(row, column) → the merged range it lies in, e.g. "H4:I4", for the cells of `columns` in ranges of at most 10,000
    cells (a later range over an earlier one)."""
    lookup = {}
    for r0, c0, r1, c1 in merged:
        if (r1 - r0 + 1) * (c1 - c0 + 1) > 10_000:
            continue
        inside = [c for c in range(c0, c1 + 1) if c in columns]
        if not inside:
            continue
        text = f"{cell_name(r0, c0)}:{cell_name(r1, c1)}"
        for r in range(r0, r1 + 1):
            for c in inside:
                lookup[(r, c)] = text
    return lookup


_CONTEXT_KEYS = {name_key(h) for h in CONTEXT_HEADERS}


@functools.lru_cache(maxsize=1 << 14)  # every department sheet of a file, and every file, has the same headers
def _header_key(text: str) -> tuple[str, str]:
    """A header's comparison key and how it is shown (at most 100 characters, hidden characters visible)."""
    return name_key(text), printable(text)[:100]


_column_letters = functools.lru_cache(maxsize=1 << 14)(column_letters)
# Sheet names, headers and codes repeat in every sheet of every file a child reads: each compared once.
_normalised = functools.lru_cache(maxsize=1 << 14)(normalise_text)


class HeaderColumns(NamedTuple):
    """A header row's district columns, in order: each one's key (layout.name_key), header as shown, column and
    column letters, each header's cell; and for each key found in more than one column, its first header and its
    second column. The same lists for every sheet of the same header row (sent once in a file's pickle)."""
    keys: list[str]
    headers: list[str]
    columns: list[int]
    letters: list[str]
    cells: list[str]
    duplicates: list[tuple[str, int]]


def _district_columns(header: list[Any], header_row: int, code_col: int, where: dict[str, str],
                      out: list[Problem]) -> HeaderColumns:
    """The district-like headers of a header row (each key once; duplicates are problems). Worked out once per
    distinct row (_header_columns): every department sheet of a form, and every copy of it, has the same one."""
    found = _header_columns(tuple(header), tuple(map(type, header)), code_col, header_row)  # 1 == 1.0 == True
    for shown, col in found.duplicates:
        out.append(P.make(Code.DISTRICT_DUPLICATE, district=shown, cell=cell_name(header_row, col), **where))
    return found


@functools.lru_cache(maxsize=64)
def _header_columns(header: tuple[Any, ...], types: tuple[type, ...], code_col: int, header_row: int) -> HeaderColumns:
    columns: dict[str, list[tuple[str, int]]] = {}
    for col, cell in enumerate(header):
        key, shown = _header_key(cells.raw_text(cell).strip() if cell is not None else "")
        if col == code_col or not key or key in _CONTEXT_KEYS:
            continue
        columns.setdefault(key, []).append((shown, col))
    kept = {key: found[0] for key, found in columns.items() if len(found) == 1}
    duplicates = [(found[0][0], found[1][1]) for found in columns.values() if len(found) > 1]
    cols = [col for _, col in kept.values()]
    letters = [_column_letters(col) for col in cols]
    return HeaderColumns(list(kept), [shown for shown, _ in kept.values()], cols, letters,
                         list(map(operator.add, letters, itertools.repeat(str(header_row + 1)))), duplicates)


def _code_rows(rows: list[list[Any]], header_row: int, code_col: int, department: str, book: Rulebook,
               where: dict[str, str], out: list[Problem]) -> dict[str, int]:
    found: dict[str, list[int]] = {}
    for r in range(header_row + 1, len(rows)):
        cell = rows[r][code_col] if code_col < len(rows[r]) else ""
        code = _normalised(cells.raw_text(cell)) if cell not in (None, "") else ""
        if not code:
            continue
        indicator = book.indicators.get(code)
        if indicator is None or indicator.department != department:
            out.append(P.make(Code.CODE_UNKNOWN, raw=code, cell=cell_name(r, code_col), **where))
            continue
        found.setdefault(code, []).append(r)
    result = {}
    for code, hits in found.items():
        if len(hits) > 1:
            out.append(P.make(Code.CODE_DUPLICATE, code=code, cell=cell_name(hits[1], code_col), **where))
        else:
            result[code] = hits[0]
    return result

