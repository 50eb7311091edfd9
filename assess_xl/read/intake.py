"""Deciding what a file is before anything parses it: which files to take from the given paths,
their hashes and times, their format by first bytes, and a pre-flight of zip containers and their
XML that refuses what could exhaust memory or crash a parser. Knows nothing of scoring."""
from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from defusedxml import EntitiesForbidden

from assess_xl import problems as P
from assess_xl.xlsx.layout import FETCH_RECORD, printable

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


@dataclass
class FileInfo:
    path: Path
    name: str  # as shown to the user: relative to the folder given, else the path as given
    sha256: str = ""
    size: int = 0
    modified: datetime | None = None
    saved: datetime | None = None  # the workbook's own last-saved time (core.xml, meta.xml, OLE properties)
    saved_ignored: str = ""  # a saved time that was written but is implausible (before 1990 or in the future)
    format: str = ""  # xlsx, xlsm, xls, ods
    data: bytes = b""
    rejected: str = ""  # reason in Chinese; empty when the file may be parsed
    macros: bool = False
    rejected_code: str = ""  # the catalogue code of `rejected`
    mailed: datetime | None = None  # when the message it came in was sent (its Date, never later than its receipt)
    received: datetime | None = None  # when that message was received (top Received header): breaks ties
    envelope: str = ""  # sender, date, subject and Message-ID of that message, for 来源
    sender: str = ""  # the sender's address (lower case), when the file came by mail
    error_cells: dict[str, set[str]] = field(default_factory=dict)  # sheet name → cells holding error values
    formula_cells: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet name → {cell: formula}

    def reject(self, code: str, **fields) -> None:
        self.rejected_code, self.rejected = code, P.text(code, **fields)

    @property
    def submitted_at(self) -> datetime:
        return self.mailed or self.saved or self.modified or EARLIEST

    @property
    def submission_key(self) -> tuple[float, float]:
        """Which of two submissions is later: the time it was sent or saved, then what truly comes later
        for it (a message's receipt, a file's time). Equal keys are a tie: nothing says which is later."""
        second = self.received if self.mailed else self.modified
        return self.submitted_at.timestamp(), second.timestamp() if second else 0.0


EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def plausible(stamp: datetime | None, now: datetime) -> bool:
    """A saved or file time that can decide a conflict: after 1990 and not in the future. A sender
    cannot make a file win every conflict by writing the year 9999 into it."""
    return stamp is not None and EARLIEST <= stamp <= now + FUTURE_SLACK


def display_name(name: str) -> str:
    """A path as a person reads it: file names that are not UTF-8 (GBK names from Windows archives,
    decoded by Python with surrogate escapes) are decoded as GB18030, else shown with a replacement
    mark; control and bidi characters shown visibly (layout.printable)."""
    try:
        name.encode("utf-8")
        return printable(name)
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
    try:
        return printable(raw.decode("gb18030"))
    except UnicodeDecodeError:
        return printable(raw.decode("utf-8", "replace"))


def openpyxl_is_defused() -> bool:
    """openpyxl parses XML with defusedxml only when it is installed (it is a dependency of ours)."""
    try:
        from openpyxl.xml import DEFUSEDXML
    except ImportError:
        return False
    return bool(DEFUSEDXML)


MAIL_KINDS = {".eml": "eml", ".msg": "msg", ".mbox": "mbox", ".zip": "zip"}  # containers read for their workbooks
ARCHIVE_SUFFIXES = {".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz"}
MAX_CONTAINER_BYTES = 200 * 1024 * 1024  # a mailbox or a message with attachments


class Skipped(NamedTuple):
    """A path that was not read: as shown, why (catalogue message) and the catalogue code."""
    name: str
    reason: str
    code: str

    @classmethod
    def of(cls, name: str, code: str, **fields) -> "Skipped":
        return cls(name, P.text(code, **fields), code)


def gather(paths: list[str | Path]) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """Files to read from files and folders given; and (name, reason) for what was skipped.
    Only regular files are taken: symlinks inside folders are not followed, pipes and devices are
    listed as skipped, as are unreadable folders, lock files (~$) and hidden files."""
    found: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for given in map(Path, paths):
        shown = display_name(str(given))
        try:
            mode = given.stat().st_mode
        except FileNotFoundError:
            skipped.append(Skipped.of(shown, "skip_missing"))
            continue
        except OSError as exc:
            skipped.append(Skipped.of(shown, "skip_inaccessible", reason=P.reason(exc)))
            continue
        if stat.S_ISDIR(mode):
            _walk(given, found, skipped, seen)
        else:
            _consider(given, shown, mode, True, found, skipped, seen)
    return found, skipped


def _walk(folder: Path, found, skipped, seen) -> None:
    def unreadable(error: OSError) -> None:
        name = os.path.relpath(error.filename, folder.parent) if error.filename else str(folder)
        skipped.append(Skipped.of(display_name(name), "skip_unreadable_folder", reason=P.reason(error)))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs.sort()
        for entry in sorted(dirs):
            if os.path.islink(os.path.join(root, entry)):
                skipped.append(Skipped.of(display_name(os.path.relpath(os.path.join(root, entry), folder.parent)),
                                          "skip_symlink"))
        for entry in sorted(files):
            if entry == FETCH_RECORD:  # fetch's own bookkeeping, not an input
                continue
            path = Path(root, entry)
            name = display_name(str(path.relative_to(folder.parent)))
            try:
                mode = path.lstat().st_mode
            except OSError as exc:
                skipped.append(Skipped.of(name, "skip_inaccessible", reason=P.reason(exc)))
                continue
            if stat.S_ISLNK(mode):
                skipped.append(Skipped.of(name, "skip_symlink"))
            else:
                _consider(path, name, mode, False, found, skipped, seen)


def _consider(path: Path, name: str, mode: int, explicit: bool, found, skipped, seen) -> None:
    """A regular file is taken unless its name says to skip it; anything else (pipes, devices) is skipped."""
    if not stat.S_ISREG(mode):
        skipped.append(Skipped.of(name, "skip_special"))
        return
    reason = _skip_reason(path, explicit)
    if reason:
        skipped.append(Skipped.of(name, reason[0], **reason[1]))
    else:
        _add(found, seen, path, name, skipped)


def _add(found, seen, path, name, skipped):
    key = os.path.realpath(path)
    if key in seen:
        skipped.append(Skipped.of(name, "skip_same_path"))
        return
    seen.add(key)
    found.append((path, name))


def _skip_reason(path: Path, explicit: bool) -> tuple[str, dict] | None:
    suffix = path.suffix.lower()
    if path.name.startswith("~$") or (path.name.startswith(".~lock.") and path.name.endswith("#")):
        return "skip_lock", {}
    if path.name.startswith("."):
        return "skip_hidden", {}
    if suffix == ".emlx":
        return "skip_mail", {"suffix": suffix}
    if suffix in ARCHIVE_SUFFIXES:
        return "skip_archive", {"suffix": suffix}
    if not explicit and suffix and suffix not in WORKBOOK_SUFFIXES and suffix not in MAIL_KINDS and not _in_maildir(path):
        return "skip_suffix", {"suffix": suffix}
    return None


def _in_maildir(path: Path) -> bool:
    """A message file of a Maildir folder (cur/ or new/ beside tmp/): its name has no useful suffix."""
    return path.parent.name in ("cur", "new") and (path.parent.parent / "tmp").is_dir()


def kind_of(path: Path) -> str:
    """How a gathered file is read: a workbook ('file') or a container of workbooks (eml, msg, mbox, zip)."""
    if _in_maildir(path):
        return "eml"
    return MAIL_KINDS.get(path.suffix.lower(), "file")


def load(path: str | Path, name: str, limit: int = 0, span: tuple[int, int] | None = None) -> FileInfo:
    """Read a regular file's bytes by a bounded read (never opening it for writing, never waiting on a
    pipe), its size, time and hash; `span` (offset, length) reads one message of a mailbox. Whether
    it may be parsed is `inspect`'s decision."""
    info = FileInfo(Path(path), name)
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        info.reject("no_permission")
        return info
    except OSError as exc:
        info.reject("unreadable", reason=P.reason(exc))
        return info
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            info.reject("not_regular")
            return info
        modified = datetime.fromtimestamp(status.st_mtime, tz=timezone.utc)
        info.modified = modified if plausible(modified, now_utc()) else None
        if span is not None:
            os.lseek(handle, span[0], os.SEEK_SET)
            limit = min(limit or MAX_FILE_BYTES, span[1])
        info.data = _bounded_read(handle, (limit or MAX_FILE_BYTES) + (span is None))
    except OSError as exc:
        info.reject("unreadable", reason=P.reason(exc))
        return info
    finally:
        os.close(handle)
    info.size = len(info.data)
    if info.size > (limit or MAX_FILE_BYTES):
        info.data = b""
        info.reject("too_large", limit=(limit or MAX_FILE_BYTES) // 1048576)
        return info
    info.sha256 = hashlib.sha256(info.data).hexdigest()
    return info


def _bounded_read(handle: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(handle, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def inspect(info: FileInfo) -> None:
    """Classify by first bytes and pre-flight the container; sets `format` or `rejected`, and the
    workbook's own saved time when it is plausible."""
    head = info.data[:8]
    if not info.data:
        info.reject("empty_file")
    elif head.startswith(ZIP_MAGIC):
        _inspect_zip(info)
    elif head == OLE_MAGIC:
        _inspect_ole(info)
    else:
        info.reject(_not_a_workbook(info.data))
    if info.saved is not None and not plausible(info.saved, now_utc()):
        info.saved_ignored = info.saved.isoformat()[:40]
        info.saved = None


def _inspect_ole(info: FileInfo) -> None:
    """Legacy .xls (and encrypted OOXML, which is an OLE container): read the OLE directory, not a
    byte search, so a cell that says "Encrypt" is not mistaken for encryption."""
    import olefile
    try:
        ole = olefile.OleFileIO(io.BytesIO(info.data))
    except Exception:  # olefile raises several types for a broken container: all mean "damaged"
        info.reject("ole_damaged")
        return
    try:
        if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
            info.reject("encrypted")
            return
        stream = next((s for s in ("Workbook", "Book") if ole.exists(s)), None)
        if stream is None:
            info.reject("office_not_excel")
            return
        if _biff_has_filepass(ole.openstream(stream).read(1 << 16)):
            info.reject("encrypted")
            return
        info.format = "xls"
        info.saved = _ole_saved_time(ole)
    except Exception:  # a malformed directory or property set: the file is damaged
        info.reject("ole_damaged")
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


def _ole_saved_time(ole) -> datetime | None:
    stamp = ole.get_metadata().last_saved_time
    if not isinstance(stamp, datetime):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _not_a_workbook(data: bytes) -> str:
    start = data[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<table" in start:
        return "html"
    if start.startswith(b"<?xml"):
        return "xml_text"
    if start.startswith(b"%pdf"):
        return "pdf"
    if data[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return "empty_zip"
    return "not_a_workbook"


_SST_TAG = re.compile(rb"<(?:\w+:)?sst\b[^>]*>")
def _inspect_zip(info: FileInfo) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(info.data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        info.reject("zip_damaged")
        return
    if len(members) > MAX_MEMBERS:
        info.reject("too_many_parts", count=len(members))
        return
    total = sum(m.file_size for m in members)
    biggest = max((m.file_size for m in members), default=0)
    if biggest > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES or total > MAX_RATIO * max(len(info.data), 1) + 10_000_000:
        info.reject("zip_bomb", size=total // 1048576)
        return
    names = {m.filename for m in members}
    if "mimetype" in names and b"opendocument.spreadsheet" in _read(archive, "mimetype"):
        info.format = "ods"
        _check_xml(info, archive, [n for n in names if n.endswith(".xml")])
        if not info.rejected and "meta.xml" in names:
            info.saved = _time_in(_ODS_DATE, _read(archive, "meta.xml"), local=True)
        return
    if "xl/workbook.bin" in names:  # binary parts no pre-flight can check; calamine panics on some
        info.reject("xlsb_unsupported")
        return
    if "xl/workbook.xml" in names:
        info.format = "xlsx"
    else:
        info.reject("zip_not_excel")
        return
    info.macros = any(n.lower().endswith("vbaproject.bin") for n in names)
    if info.macros:
        info.format = "xlsm"
    xml_parts = [n for n in names if n.endswith((".xml", ".rels"))]
    _check_xml(info, archive, xml_parts)
    if not info.rejected:
        info.saved = _saved_time(archive, names)
        parts = _sheet_parts(archive)
        info.error_cells = {sheet: info.error_cells.get(part, set()) for sheet, part in parts.items()}
        info.formula_cells = {sheet: info.formula_cells.get(part, {}) for sheet, part in parts.items()}


def _read(archive, name) -> bytes:
    try:
        return archive.read(name)
    except Exception:  # a corrupt member: the caller treats empty bytes as unreadable
        return b""


def _check_xml(info: FileInfo, archive, parts) -> None:
    for part in parts:
        is_sheet = part.startswith("xl/worksheets/sheet") and part.endswith(".xml")
        try:
            if is_sheet:
                data = archive.read(part)
            else:  # declarations come first: the head is enough, and saves decompressing twice
                with archive.open(part) as stream:
                    data = stream.read(65536)
        except Exception:
            info.reject("part_damaged", part=part)
            return
        head = data[:4096]
        if b"<!DOCTYPE" in head or b"<!ENTITY" in data[:65536]:
            info.reject("xml_entities", part=part)
            return
        if is_sheet and not _check_sheet_part(info, part, data):
            return
        if part == "xl/sharedStrings.xml" and not _shared_strings_ok(info, head):
            return


def _check_sheet_part(info: FileInfo, part: str, data: bytes) -> bool:
    """The sheet's size as the parser will read it, and where its error values and formulas are
    (noted for read-back)."""
    try:
        scan = scan_sheet(data)
    except SheetTooLarge as big:
        info.reject("sheet_part_too_large", part=part, rows=big.rows, columns=big.columns)
        return False
    except (SyntaxError, ValueError, EntitiesForbidden):  # not well-formed XML, or a DTD / entity
        info.reject("part_damaged", part=part)
        return False
    if scan.errors:
        info.error_cells[part] = scan.errors
    if scan.formulas:
        info.formula_cells[part] = scan.formulas
    return True


def _shared_strings_ok(info: FileInfo, head: bytes) -> bool:
    for tag in _SST_TAG.findall(head):
        for count in (_attribute(tag, b"count"), _attribute(tag, b"uniqueCount")):
            if count and (not count.isdigit() or int(count) > MAX_SHARED_STRINGS):
                info.reject("shared_strings", count=count[:20])
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
            raise SheetTooLarge(self.rows, self.columns)


class SheetTooLarge(Exception):
    def __init__(self, rows: int, columns: int):
        super().__init__(rows, columns)
        self.rows, self.columns = rows, columns


_REF = re.compile(r"\$?([A-Za-z]{1,7})\$?([0-9]{1,15})")


def _ref(text: str | None) -> tuple[int, int] | None:
    """(row, column) of a reference such as XFD1048576; None when absent or not a reference."""
    found = _REF.fullmatch((text or "").strip())
    if not found:
        return None
    column = 0
    for letter in found.group(1).upper():
        column = column * 26 + ord(letter) - 64
    return int(found.group(2)), column


def scan_sheet(data: bytes) -> SheetScan:
    """Every row and cell of a worksheet part, through a real XML parser (quotes of either kind,
    whitespace, namespace prefixes all as the reader sees them; DTDs refused). A row or cell without
    a reference follows the one before, as readers place it. Stops as soon as the sheet is too large."""
    from defusedxml.ElementTree import iterparse
    scan, row, column, cell = SheetScan(), 0, 0, ""
    for event, element in iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True):
        name = element.tag.rsplit("}", 1)[-1]
        if event == "start" and name == "dimension":
            for end in str(element.get("ref", "")).split(":"):
                scan.reach(*(_ref(end) or (0, 0)))
        elif event == "start" and name == "row":
            row, column = _row_number(element.get("r"), row), 0
            scan.reach(row, 0)
        elif event == "start" and name == "c":
            row, column = _ref(element.get("r")) or (max(row, 1), column + 1)
            cell = f"{_letters(column)}{row}"
            scan.reach(row, column)
            if element.get("t") == "e":
                scan.errors.add(cell)
        elif event == "end" and name == "f":
            scan.formulas[cell] = element.text or ""
        elif event == "end" and name in ("c", "row"):
            element.clear()
    return scan


def _row_number(text: str | None, previous: int) -> int:
    return int(text) if text and text.strip().isdigit() else previous + 1


def _letters(column: int) -> str:
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]{1,60})</dcterms:modified>")
_ODS_DATE = re.compile(rb"<dc:date>([^<]{1,60})</dc:date>")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def _saved_time(archive, names) -> datetime | None:
    if "docProps/core.xml" not in names:
        return None
    return _time_in(_MODIFIED, _read(archive, "docProps/core.xml"), local=False)


def _time_in(pattern, xml: bytes, local: bool) -> datetime | None:
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
    match = re.search(rb'(?:^|\s)' + name + rb'="([^"]*)"', tag)
    return match.group(1).decode("utf-8", "replace") if match else ""


def _sheet_parts(archive) -> dict[str, str]:
    """Sheet name → its XML part, from xl/workbook.xml and its relationships."""
    from html import unescape
    rels = {_attribute(tag, b"Id"): _attribute(tag, b"Target")
            for tag in _TAG_REL.findall(_read(archive, "xl/_rels/workbook.xml.rels"))}
    out = {}
    for tag in _TAG_SHEET.findall(_read(archive, "xl/workbook.xml")):
        target = rels.get(_attribute(tag, b"r:id"), "")
        if target.startswith("/"):
            part = target.lstrip("/")
        else:
            part = f"xl/{target}"
        out[unescape(_attribute(tag, b"name"))] = part
    return out
