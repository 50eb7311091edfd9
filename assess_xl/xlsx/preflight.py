"""The pre-flight: what untrusted bytes are before anything parses them. A bounded read of a file; its
format by first bytes; for zip containers their members' sizes and every XML part they hold (DTDs and
entities, sheet dimensions as a parser reads them, shared-string counts), so that what could exhaust
memory or crash a parser is refused with a catalogue verdict. The limits live here; xlsx.parse reads
only what passed. Knows nothing of where a file came from or what it says."""
from __future__ import annotations

import functools
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from xml.parsers import expat
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from assess_xl import problems as P
from assess_xl.problems import Code
from assess_xl.xlsx import zipmembers
from assess_xl.xlsx.layout import column_letters, column_number

if TYPE_CHECKING:
    import olefile  # imported where a legacy workbook is inspected

WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et"}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

# Caps that a real form never comes near (a 1,000-district form is about 1 MB unpacked per sheet).
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 2_000
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 300 * 1024 * 1024
MAX_RATIO = 200
MAX_ROWS, MAX_COLS = 100_000, 5_000
MAX_SHARED_STRINGS = 2_000_000
MAX_SHEET_CELLS = 2_000_000  # rows × columns a sheet may span; a 500-district form spans 45,000


class Refusable:
    """A verdict that may refuse: `rejected` is the reason in Chinese (empty when the bytes may go on),
    `rejected_code` its catalogue code. Dataclasses that mix this in declare both fields."""
    rejected: str
    rejected_code: str

    def reject(self, code: Code, **fields: object) -> None:
        self.rejected_code, self.rejected = code, P.text(code, **fields)

    def problem(self, file: str) -> P.Problem:
        """The refusal as the problem of `file`."""
        code = P.code_of(self.rejected_code)
        return P.Problem(code.level, code.value, self.rejected, file)


def openpyxl_is_defused() -> bool:
    """openpyxl parses XML with defusedxml only when it is installed (it is a dependency of ours)."""
    try:
        from openpyxl.xml import DEFUSEDXML
    except ImportError:
        return False
    return bool(DEFUSEDXML)


@dataclass
class Bounded(Refusable):
    """A file's bytes read by a bounded read, or why they could not be."""
    data: bytes = b""
    size: int = 0
    modified: datetime | None = None  # the file's time as the system gives it (plausible or not)
    rejected: str = ""
    rejected_code: str = ""


def read_bounded(path: str | Path, limit: int = 0, span: tuple[int, int] | None = None) -> Bounded:
    """A regular file's bytes by a bounded read (never opening it for writing, never waiting on a pipe),
    at most `limit` (MAX_FILE_BYTES when 0); `span` (offset, length) reads one message of a mailbox."""
    read = Bounded()
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        read.reject(Code.NO_PERMISSION)
        return read
    except OSError as exc:
        read.reject(Code.UNREADABLE, reason=P.reason(exc))
        return read
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            read.reject(Code.NOT_REGULAR)
            return read
        read.modified = datetime.fromtimestamp(status.st_mtime, tz=timezone.utc)
        if span is not None:
            os.lseek(handle, span[0], os.SEEK_SET)
            limit = min(limit or MAX_FILE_BYTES, span[1])
        read.data = _bounded_read(handle, (limit or MAX_FILE_BYTES) + (span is None))
    except OSError as exc:
        read.reject(Code.UNREADABLE, reason=P.reason(exc))
        return read
    finally:
        os.close(handle)
    read.size = len(read.data)
    if read.size > (limit or MAX_FILE_BYTES):
        read.data = b""
        read.reject(Code.TOO_LARGE, limit=(limit or MAX_FILE_BYTES) // 1048576)
    return read


def _bounded_read(handle: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(handle, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


@dataclass
class Verdict(Refusable):
    """What the pre-flight says of a workbook's bytes: its format, or why it is refused; and what its
    XML says that the parser does not (macros, the saved time, error values and formulas by sheet)."""
    format: str = ""  # xlsx, xlsm, xls, ods
    rejected: str = ""
    rejected_code: str = ""
    macros: bool = False
    saved: datetime | None = None  # the workbook's own last-saved time (core.xml, meta.xml, OLE properties)
    error_cells: dict[str, set[str]] = field(default_factory=dict)  # sheet name → cells holding error values
    formula_cells: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet name → {cell: formula}


def check(data: bytes) -> Verdict:
    """Classify by first bytes and pre-flight the container."""
    verdict = Verdict()
    head = data[:8]
    if not data:
        verdict.reject(Code.EMPTY_FILE)
    elif head.startswith(ZIP_MAGIC):
        _inspect_zip(verdict, data)
    elif head == OLE_MAGIC:
        _inspect_ole(verdict, data)
    else:
        verdict.reject(_not_a_workbook(data))
    return verdict


def _inspect_ole(verdict: Verdict, data: bytes) -> None:
    """Legacy .xls (and encrypted OOXML, which is an OLE container): read the OLE directory, not a
    byte search, so a cell that says "Encrypt" is not mistaken for encryption."""
    import olefile
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:  # olefile raises several types for a broken container: all mean "damaged"
        verdict.reject(Code.OLE_DAMAGED)
        return
    try:
        if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
            verdict.reject(Code.ENCRYPTED)
            return
        stream = next((s for s in ("Workbook", "Book") if ole.exists(s)), None)
        if stream is None:
            verdict.reject(Code.OFFICE_NOT_EXCEL)
            return
        if _biff_has_filepass(ole.openstream(stream).read(1 << 16)):
            verdict.reject(Code.ENCRYPTED)
            return
        verdict.format = "xls"
        verdict.saved = _ole_saved_time(ole)
    except Exception:  # a malformed directory or property set: the file is damaged
        verdict.reject(Code.OLE_DAMAGED)
    finally:
        ole.close()


_BIFF_FILEPASS, _BIFF_EOF = 0x002F, 0x000A


def _biff_has_filepass(head: bytes) -> bool:
    """Whether the workbook globals (before their first EOF record) hold a FILEPASS record."""
    offset = 0
    while offset + 4 <= len(head):
        kind = int.from_bytes(head[offset:offset + 2], "little")
        length = int.from_bytes(head[offset + 2:offset + 4], "little")
        if kind == _BIFF_FILEPASS:
            return True
        if kind == _BIFF_EOF:
            return False
        offset += 4 + length
    return False


def _ole_saved_time(ole: olefile.OleFileIO) -> datetime | None:
    stamp = ole.get_metadata().last_saved_time
    if not isinstance(stamp, datetime):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _not_a_workbook(data: bytes) -> Code:
    start = data[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<table" in start:
        return Code.HTML
    if start.startswith(b"<?xml"):
        return Code.XML_TEXT
    if start.startswith(b"%pdf"):
        return Code.PDF
    if data[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return Code.EMPTY_ZIP
    return Code.NOT_A_WORKBOOK


_SST_TAG = re.compile(rb"<(?:\w+:)?sst\b[^>]*>")


def _inspect_zip(verdict: Verdict, data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError):  # the last: a version zipfile cannot read
        verdict.reject(Code.ZIP_DAMAGED)
        return
    if len(members) > MAX_MEMBERS:
        verdict.reject(Code.TOO_MANY_PARTS, count=len(members))
        return
    total = sum(m.file_size for m in members)
    biggest = max((m.file_size for m in members), default=0)
    if biggest > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES or total > MAX_RATIO * max(len(data), 1) + 10_000_000:
        verdict.reject(Code.ZIP_BOMB, size=total // 1048576)
        return
    in_order = list(dict.fromkeys(m.filename for m in members))  # parts are checked in the archive's order: a
    names = set(in_order)  # workbook with two faulty parts is refused for the same one in every run
    if "mimetype" in names and b"opendocument.spreadsheet" in _read(archive, "mimetype"):
        verdict.format = "ods"
        whole = _check_xml(verdict, archive, [n for n in in_order if n.endswith(".xml")], data)
        if not verdict.rejected and "meta.xml" in names:
            verdict.saved = _time_in(_ODS_DATE, _read(archive, "meta.xml", whole), local=True)
        return
    if "xl/workbook.bin" in names:  # binary parts no pre-flight can check; calamine panics on some
        verdict.reject(Code.XLSB_UNSUPPORTED)
        return
    if "xl/workbook.xml" in names:
        verdict.format = "xlsx"
    else:
        verdict.reject(Code.ZIP_NOT_EXCEL)
        return
    verdict.macros = any(n.lower().endswith("vbaproject.bin") for n in names)
    if verdict.macros:
        verdict.format = "xlsm"
    xml_parts = [n for n in in_order if n.endswith((".xml", ".rels"))]
    whole = _check_xml(verdict, archive, xml_parts, data)
    if not verdict.rejected:
        verdict.saved = _saved_time(archive, names, whole)
        if verdict.error_cells or verdict.formula_cells:  # by part until now: by sheet name from here on
            parts = _sheet_parts(archive, whole)
            verdict.error_cells = {sheet: verdict.error_cells.get(part, set()) for sheet, part in parts.items()}
            verdict.formula_cells = {sheet: verdict.formula_cells.get(part, {}) for sheet, part in parts.items()}


def _read(archive: zipfile.ZipFile, name: str, whole: dict[str, bytes] | None = None) -> bytes:
    """A member's bytes: as the XML check already read them whole (`whole`), else read now."""
    if whole and name in whole:
        return whole[name]
    try:
        return archive.read(name)
    except Exception:  # a corrupt member: the caller treats empty bytes as unreadable
        return b""


_HEAD = 65536  # what is read of a part other than a sheet: its declarations come first


def _check_xml(verdict: Verdict, archive: zipfile.ZipFile, parts: list[str], source: bytes) -> dict[str, bytes]:
    """Each XML part's declarations and each sheet's reach; returns the parts it read whole (to the end,
    their checksum verified), so that what is read again later is not decompressed twice. `source` is the
    archive's bytes (its members are read straight from them where zipfile would read the same)."""
    whole: dict[str, bytes] = {}
    for part in parts:
        is_sheet = part.startswith("xl/worksheets/sheet") and part.endswith(".xml")
        try:  # of a part other than a sheet the head is enough, and saves decompressing twice
            data = zipmembers.read(archive, source, part, -1 if is_sheet else _HEAD)
        except Exception:
            verdict.reject(Code.PART_DAMAGED, part=part)
            return whole
        if is_sheet:
            if not _check_sheet_part(verdict, part, data):
                return whole
            continue
        if _declares(data):
            verdict.reject(Code.XML_ENTITIES, part=part)
            return whole
        if part == "xl/sharedStrings.xml" and not _shared_strings_ok(verdict, data[:4096]):
            return whole
        if len(data) < _HEAD:
            whole[part] = data
    return whole


def _check_sheet_part(verdict: Verdict, part: str, data: bytes) -> bool:
    """The sheet's DTD or entity declarations, its size as the parser will read it, and where its error values
    and formulas are (noted for read-back). A plain sheet (_plain_scan) has none of them and no `<!` at all, so
    that it passes the search for declarations too: it is answered first."""
    if _is_plain(data):
        return True
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:_HEAD]:
        verdict.reject(Code.XML_ENTITIES, part=part)
        return False
    try:
        scan = _SheetScanner().scan_part(data)
    except SheetPartTooLarge as big:
        verdict.reject(Code.SHEET_PART_TOO_LARGE, part=part, rows=big.rows, columns=big.columns)
        return False
    except (SyntaxError, ValueError, EntitiesForbidden):  # not well-formed XML, or a DTD / entity
        verdict.reject(Code.PART_DAMAGED, part=part)
        return False
    if scan.errors:
        verdict.error_cells[part] = scan.errors
    if scan.formulas:
        verdict.formula_cells[part] = scan.formulas
    return True


class _Remembered(set[bytes]):
    """Parts found harmless before, by their bytes: kept for parts of at most MAX_KEPT_SHEET bytes (the caller does not
    look a larger one up, which would hash it), forgotten when they would hold more than MAX_KEPT_SHEETS bytes."""
    held = 0

    def add(self, data: bytes) -> None:
        if len(data) > MAX_KEPT_SHEET:
            return
        if self.held + len(data) > MAX_KEPT_SHEETS:
            self.clear()
        super().add(data)
        self.held += len(data)

    def clear(self) -> None:
        super().clear()
        self.held = 0


MAX_KEPT_SHEET = 256 * 1024
MAX_KEPT_SHEETS = 16 * 1024 * 1024
# Sheets found plain before (a run's forms share the sheets their senders did not touch), under the limits they were
# found within (forgotten when the limits change).
_plain_before = _Remembered()
_plain_limits = (MAX_ROWS, MAX_COLS, MAX_SHEET_CELLS)
# Parts other than sheets found without declarations before (a run's forms share their themes, styles, relationships…;
# zipmembers gives the same bytes object for each, so that looking one up hashes nothing).
_undeclared_before = _Remembered()


def _is_plain(data: bytes) -> bool:
    """Whether the sheet is plain and within every limit: _plain_scan's search, its tags held against its dimension
    rounded up (_within_rounded_dimension) rather than against the dimension itself."""
    global _plain_limits
    if _plain_limits != (MAX_ROWS, MAX_COLS, MAX_SHEET_CELLS):
        forget()
        _plain_limits = (MAX_ROWS, MAX_COLS, MAX_SHEET_CELLS)
    if len(data) <= MAX_KEPT_SHEET and data in _plain_before:
        return True
    if _plain(data, _within_rounded_dimension) is None:
        return False
    _plain_before.add(data)
    return True


def _declares(data: bytes) -> bool:
    """Whether a part other than a sheet holds a DOCTYPE (in its first 4 KB) or an entity declaration."""
    if len(data) <= MAX_KEPT_SHEET and data in _undeclared_before:
        return False
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        return True
    _undeclared_before.add(data)
    return False


def forget() -> None:
    """Drop what was remembered of parts seen before (for measurements and tests)."""
    _plain_before.clear()
    _undeclared_before.clear()
    zipmembers.forget()


def _shared_strings_ok(verdict: Verdict, head: bytes) -> bool:
    for tag in _SST_TAG.findall(head):
        for count in (_attribute(tag, b"count"), _attribute(tag, b"uniqueCount")):
            if count and (not count.isdigit() or int(count) > MAX_SHARED_STRINGS):
                verdict.reject(Code.SHARED_STRINGS, count=count[:20])
                return False
    return True


@dataclass
class SheetScan:
    """What a sheet's XML says, read by an XML parser as the workbook reader will read it."""
    rows: int = 0  # the furthest row and column any cell, row or declared dimension reaches
    columns: int = 0
    errors: set[str] = field(default_factory=set)  # cells holding error values (t="e")
    formulas: dict[str, str] = field(default_factory=dict)  # cell → formula text

    def reach(self, row: int, column: int) -> None:
        self.rows, self.columns = max(self.rows, row), max(self.columns, column)
        if self.rows > MAX_ROWS or self.columns > MAX_COLS or self.rows * self.columns > MAX_SHEET_CELLS:
            raise SheetPartTooLarge(self.rows, self.columns)


class SheetPartTooLarge(Exception):
    def __init__(self, rows: int, columns: int):
        super().__init__(rows, columns)
        self.rows, self.columns = rows, columns


_REF = re.compile(r"\$?([A-Za-z]{1,7})\$?([0-9]{1,15})")


def _ref(text: str | None) -> tuple[int, int] | None:
    """(row, column) of a reference such as XFD1048576; None when absent or not a reference."""
    if text is None:
        return None
    found = _REF.fullmatch(text) or _REF.fullmatch(text.strip())
    if not found:
        return None
    letters, row = found.groups()
    return int(row), _column_number(letters)


@functools.lru_cache(maxsize=1 << 14)
def _column_number(letters: str) -> int:
    """The one-based column of `letters` (A → 1), as a sheet's reach is counted."""
    return column_number(letters) + 1


def scan_sheet(data: bytes) -> SheetScan:
    """Every row and cell of a worksheet part, through a real XML parser (quotes of either kind,
    whitespace, namespace prefixes all as the reader sees them; DTDs and entity declarations refused).
    A row or cell without a reference follows the one before, as readers place it. Stops as soon as
    the sheet is too large."""
    return _plain_scan(data) or _SheetScanner().scan_part(data)


# A sheet as spreadsheet programs write it: UTF-8, every row and cell opening with its reference in double
# quotes, the dimension likewise; no formula, no error value, no comment, CDATA, DOCTYPE or processing
# instruction, no prefixed cell, row, dimension or formula element.
_DECLARATION = re.compile(rb'<\?xml version="1\.0"(?: encoding="(?:UTF|utf)-8")?(?: standalone="(?:yes|no)")?\s*\?>\s*')
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"')
_PLAIN_ROW = re.compile(rb'<row r="([1-9][0-9]{0,6})"')
_PLAIN_DIMENSION = re.compile(rb'<dimension ref="([A-Z]{1,3})([1-9][0-9]{0,6})(?::([A-Z]{1,3})([1-9][0-9]{0,6}))?"')
# Anything a plain sheet does not hold, found in one pass over its tags: a comment, CDATA, DOCTYPE or processing
# instruction (<! or <?), a formula, and a cell, row or dimension tag that is not one of the plain ones above
# (another spelling of its reference, or none).
_NOT_PLAIN_TAG = re.compile(rb'<(?:[!?]|f[\s/>]'
                            rb'|c(?! r="[A-Z]{1,3}[1-9][0-9]{0,6}")[\s/>]'
                            rb'|row(?! r="[1-9][0-9]{0,6}")[\s/>]'
                            rb'|dimension(?! ref="[A-Z]{1,3}[1-9][0-9]{0,6}(?::[A-Z]{1,3}[1-9][0-9]{0,6})?")[\s/>])')
_PREFIXED = re.compile(rb":(?:c|row|dimension|f)[\s/>]")  # a prefixed cell, row, dimension or formula element
_ERROR_TYPE = re.compile(rb't(?<=\st)\s*=\s*["\'][e&]')  # t="e" (or a character reference) anywhere


def _plain_scan(data: bytes) -> SheetScan | None:
    """scan_sheet of a plain sheet (above) by a few searches over its bytes instead of a Python call per
    element; None for any other sheet, which the element-by-element scan then reads. It answers only when
    the answer is certain to be the scan's: the XML is well-formed (expat, with no handler), so every `<`
    opens a tag; every cell, row and dimension tag is one of the plain ones counted, so each has an
    explicit reference and none is placed after the one before; nothing can be an error value or formula
    (a sheet within its dimension: no cell tag has a type attribute starting with e or &; any other: no
    attribute named t anywhere does). A sheet that reaches past the limits is left to the scan, which names
    where it stopped."""
    return _plain(data, _reach_within_dimension)


def _plain(data: bytes, within: Callable[[bytes, int], SheetScan | None]) -> SheetScan | None:
    """_plain_scan, with `within` answering for a sheet whose tags are all plain and lie within a bound its first
    plain dimension gives (its reach; or, for _is_plain, a bound within the limits that the reach cannot pass)."""
    start = _content_start(data)
    if start is None or b"\0" in data or _has_prefixed(data, start):
        return None
    scan = within(data, start)
    if scan is None and not _ERROR_TYPE.search(data, start):
        scan = _reach_of_plain_tags(data, start)
    if scan is None:
        return None
    try:
        expat.ParserCreate(namespace_separator="}").Parse(data, True)
    except expat.ExpatError:
        return None
    return scan


_COLON_LOOKS = 64  # a sheet's colons looked at one by one (namespace declarations, a few ranges) before a search


def _has_prefixed(data: bytes, start: int) -> bool:
    """Whether _PREFIXED matches from `start`: at each of the first _COLON_LOOKS colons, found by a byte search
    (memchr) where the regular search would step through every byte, then by that search from there on."""
    at = start
    for _ in range(_COLON_LOOKS):
        at = data.find(b":", at)
        if at < 0:
            return False
        if _PREFIXED.match(data, at):
            return True
        at += 1
    return _PREFIXED.search(data, at) is not None


def _content_start(data: bytes) -> int | None:
    """Where a plain sheet's first element opens: after its XML declaration, if it has one of the plain ones
    (version 1.0, UTF-8); None for any other start."""
    start = 0
    if data.startswith(b"<?"):
        declaration = _DECLARATION.match(data)
        if declaration is None:
            return None
        start = declaration.end()
    return start if data[start:start + 1] == b"<" else None


def _reach_within_dimension(data: bytes, start: int, rounded: bool = False) -> SheetScan | None:
    """The reach of a plain sheet whose every cell, row and dimension tag is plain and lies within its first plain
    dimension (as programs write them), and whose every cell tag is as programs write it (_not_plain_or_past):
    that dimension's own, found by one search for a tag that is not so (or is not plain in another way:
    _NOT_PLAIN_TAG) instead of a Python object per cell. None when there is no dimension, it reaches past the
    limits, or some tag is not so. `rounded`: the same with the dimension rounded up (_rounded), which answers with
    a bound the sheet's reach does not pass (a sheet within its dimension is within the rounded one too)."""
    dimension = _PLAIN_DIMENSION.search(data, start)
    if dimension is None:
        return None
    rows = max(int(number) for number in dimension.group(2, 4) if number)
    columns = max(_column_number(letters.decode()) for letters in dimension.group(1, 3) if letters)
    if rounded:
        rows, columns = _rounded(rows, columns)
    if not _within_limits(rows, columns) or _not_plain_or_past(rows, columns).search(data, start):
        return None
    return SheetScan(rows, columns)


# For _is_plain, which needs no reach: rounded, the dimensions of a run's many forms are a few, so that a child compiles
# a few searches (_not_plain_or_past), each costing as much as reading a sheet, rather than one per dimension.
_within_rounded_dimension = functools.partial(_reach_within_dimension, rounded=True)


def _within_limits(rows: int, columns: int) -> bool:
    return rows <= MAX_ROWS and columns <= MAX_COLS and rows * columns <= MAX_SHEET_CELLS


_ROUNDED_COLUMNS = (26, 702)  # Z, ZZ: every column of one or two letters


def _rounded(rows: int, columns: int) -> tuple[int, int]:
    """A bound no less than (rows, columns): rows up to the largest number of as many digits (9, 99, 999…), columns up to
    the last of as many letters (Z, ZZ); where that passes a limit, the bound itself."""
    rounded = (10 ** len(str(rows)) - 1, next((bound for bound in _ROUNDED_COLUMNS if columns <= bound), columns))
    return rounded if _within_limits(*rounded) else (rows, columns)


# The rest of a cell tag as programs write it, after its reference: a style, a type that is not an error value
# (nor starts with a character reference), in that order, each optional, then the tag's end (/> or >, the XML
# being well-formed). No other attribute, no other spelling.
_PLAIN_CELL_REST = rb'(?: s="[0-9]++")?+(?: t="[^e&"][^"]*+")?+[/>]'


@functools.lru_cache(maxsize=256)  # the forms of a run share a few dimensions
def _not_plain_or_past(rows: int, columns: int) -> re.Pattern[bytes]:
    """_NOT_PLAIN_TAG, with a cell, row or dimension tag that lies past row `rows` or column `columns`, and a
    cell tag that is not written as programs write it (_PLAIN_CELL_REST), as not plain."""
    row = _at_most(str(rows), "1", "0", "9")
    cell = _at_most(column_letters(columns - 1), "A", "A", "Z") + row
    return re.compile(rb'<(?:[!?]|f[\s/>]'
                      rb'|c(?! r="' + cell.encode() + rb'"' + _PLAIN_CELL_REST + rb')[\s/>]'
                      rb'|row(?! r="' + row.encode() + rb'")[\s/>]'
                      rb'|dimension(?! ref="' + cell.encode() + rb'(?::' + cell.encode() + rb')?")[\s/>])')


def _at_most(bound: str, first: str, low: str, high: str) -> str:
    """A regular expression (a group) for the numerals of at most `bound`'s value, written as it is: digits with
    no leading zero (`first` 1, `low` 0, `high` 9), or column letters (A, A, Z). One as long is smaller where,
    after a common start, its next symbol is; a shorter numeral is smaller. Those as long as the bound come first
    (most numerals up to a bound are as long as it); a shorter one's symbols are taken possessively, as what
    follows a numeral in a reference is never one of its symbols (giving one back could not help a match)."""
    longest = len(bound)
    choices = []
    for at, symbol in enumerate(bound):
        lowest = first if at == 0 else low
        if symbol > lowest:
            rest = f"[{low}-{high}]{{{longest - at - 1}}}" if at < longest - 1 else ""
            choices.append(f"{bound[:at]}[{lowest}-{chr(ord(symbol) - 1)}]{rest}")
    choices.append(bound)
    if longest > 1:
        choices.append(f"[{first}-{high}]" + (f"[{low}-{high}]{{0,{longest - 2}}}+" if longest > 2 else ""))
    return "(?:" + "|".join(choices) + ")"


def _reach_of_plain_tags(data: bytes, start: int) -> SheetScan | None:
    """The reach of a sheet whose every cell, row and dimension tag is plain, from every reference they give;
    None when one is not plain or the sheet reaches past the limits."""
    if _NOT_PLAIN_TAG.search(data, start):
        return None
    cells, rows, dimensions = (pattern.findall(data, start) for pattern in (_PLAIN_CELL, _PLAIN_ROW, _PLAIN_DIMENSION))
    letters = {letter for ref in dimensions for letter in ref[0::2] if letter}
    numbers = {number for ref in dimensions for number in ref[1::2] if number} | set(rows)
    if cells:
        cell_letters, cell_numbers = zip(*cells)
        letters.update(cell_letters)
        numbers.update(cell_numbers)
    scan = SheetScan(max(map(int, numbers), default=0), max(map(_column_number, map(bytes.decode, letters)), default=0))
    return scan if _within_limits(scan.rows, scan.columns) else None


class _SheetScanner:
    """scan_sheet's state, fed by expat's callbacks directly (ElementTree's pull parser, which defusedxml
    wraps in pure Python, built an element for every cell and cost most of reading a large form). Only
    element starts are followed, except inside a formula (<f>), whose text is kept."""

    def __init__(self) -> None:
        self.scan = SheetScan()
        self.row = self.column = 0
        self.last_cell = (0, 0)  # (row, column) of the last <c>: where a formula belongs
        self.formula: list[str] | None = None  # the text of the <f> being read
        self.inside_formula = 0  # elements open inside that <f>
        self.formula_text = False  # still in the <f>'s own text (what comes before any element inside it)
        self.kinds: dict[str, str] = {}  # tag as expat gives it (namespace}name) → its local name
        self.parser = expat.ParserCreate(namespace_separator="}")

    def scan_part(self, data: bytes) -> SheetScan:
        parser = self.parser
        parser.StartElementHandler = self.start
        parser.StartDoctypeDeclHandler = _forbid_dtd
        parser.EntityDeclHandler = _forbid_entity
        parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
        parser.ExternalEntityRefHandler = _forbid_external
        parser.buffer_text = True
        try:
            parser.Parse(data, True)
        except expat.ExpatError as exc:
            raise SyntaxError(str(exc)) from None
        return self.scan

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        kind = self.kinds.get(tag)
        if kind is None:
            kind = self.kinds[tag] = tag.rsplit("}", 1)[-1]
        if self.formula is not None:
            self.inside_formula, self.formula_text = self.inside_formula + 1, False
        elif kind == "c":
            row, column = _ref(attributes.get("r")) or (max(self.row, 1), self.column + 1)
            self.row, self.column = self.last_cell = row, column
            scan = self.scan
            if row > scan.rows or column > scan.columns:
                scan.reach(row, column)
            if attributes.get("t") == "e":
                scan.errors.add(self.cell())
        elif kind == "row":
            self.row, self.column = _row_number(attributes.get("r"), self.row), 0
            self.scan.reach(self.row, 0)
        elif kind == "f":
            self.formula, self.inside_formula, self.formula_text = [], 0, True
            self.parser.EndElementHandler, self.parser.CharacterDataHandler = self.end, self.text
        elif kind == "dimension":
            for end in str(attributes.get("ref", "")).split(":"):
                self.scan.reach(*(_ref(end) or (0, 0)))

    def end(self, tag: str) -> None:
        if self.inside_formula:
            self.inside_formula -= 1
            return
        self.scan.formulas[self.cell()] = "".join(self.formula or [])
        self.formula, self.formula_text = None, False
        self.parser.EndElementHandler = self.parser.CharacterDataHandler = None

    def text(self, data: str) -> None:
        if self.formula_text and self.formula is not None:
            self.formula.append(data)

    def cell(self) -> str:
        row, column = self.last_cell
        return f"{column_letters(column - 1)}{row}"


def _forbid_dtd(name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _forbid_entity(name: str, is_parameter_entity: bool, value: str | None, base: str | None, sysid: str | None,
                   pubid: str | None, notation_name: str | None) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _forbid_unparsed_entity(name: str, base: str | None, sysid: str | None, pubid: str | None,
                            notation_name: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _forbid_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _row_number(text: str | None, previous: int) -> int:
    return int(text) if text and text.strip().isdigit() else previous + 1


_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]{1,60})</dcterms:modified>")
_ODS_DATE = re.compile(rb"<dc:date>([^<]{1,60})</dc:date>")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def _saved_time(archive: zipfile.ZipFile, names: set[str], whole: dict[str, bytes]) -> datetime | None:
    if "docProps/core.xml" not in names:
        return None
    return _time_in(_MODIFIED, _read(archive, "docProps/core.xml", whole), local=False)


def _time_in(pattern: re.Pattern[bytes], xml: bytes, local: bool) -> datetime | None:
    """An ISO time found by `pattern`; without a zone it is UTC (OOXML) or local time (ODF,
    which LibreOffice writes without a zone). None when absent or not a time."""
    match = pattern.search(xml)
    if not match:
        return None
    text = _FRACTION.sub(r"\1", match.group(1).decode("ascii", "replace").strip().replace("Z", "+00:00"))
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    try:
        if stamp.tzinfo is None:
            stamp = stamp.astimezone() if local else stamp.replace(tzinfo=timezone.utc)
        return stamp.astimezone(timezone.utc)
    except (OverflowError, OSError):  # at the edge of the calendar: kept, so it is reported as implausible
        edge = datetime.max if stamp.year > 2000 else datetime.min
        return edge.replace(tzinfo=timezone.utc)


_TAG_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_TAG_REL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")


def _attribute(tag: bytes, name: bytes) -> str:
    """One attribute of an XML tag, whatever the order of attributes (programs differ)."""
    match = _attribute_pattern(name).search(tag)
    return match.group(1).decode("utf-8", "replace") if match else ""


@functools.lru_cache(maxsize=None)
def _attribute_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb'(?:^|\s)' + name + rb'="([^"]*)"')


def _sheet_parts(archive: zipfile.ZipFile, whole: dict[str, bytes] | None = None) -> dict[str, str]:
    """Sheet name → its XML part, from xl/workbook.xml and its relationships."""
    from html import unescape
    rels = {_attribute(tag, b"Id"): _attribute(tag, b"Target")
            for tag in _TAG_REL.findall(_read(archive, "xl/_rels/workbook.xml.rels", whole))}
    out = {}
    for tag in _TAG_SHEET.findall(_read(archive, "xl/workbook.xml", whole)):
        target = rels.get(_attribute(tag, b"r:id"), "")
        if target.startswith("/"):
            part = target.lstrip("/")
        else:
            part = f"xl/{target}"
        out[unescape(_attribute(tag, b"name"))] = part
    return out
