"""Deciding what a file is before anything parses it: which files to take from the given paths,
their hashes and times, their format by first bytes, and a pre-flight of zip containers and their
XML that refuses what could exhaust memory or crash a parser. Knows nothing of scoring."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

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


@dataclass
class FileInfo:
    path: Path
    name: str  # as shown to the user: relative to the folder given, else the path as given
    sha256: str = ""
    size: int = 0
    modified: datetime | None = None
    saved: datetime | None = None  # the workbook's own last-saved time (docProps/core.xml)
    format: str = ""  # xlsx, xlsm, xls, xlsb, ods
    data: bytes = b""
    rejected: str = ""  # reason in Chinese; empty when the file may be parsed
    macros: bool = False
    error_cells: dict[str, set[str]] = field(default_factory=dict)  # sheet name → cells holding error values
    formula_cells: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet name → {cell: formula}

    @property
    def submitted_at(self) -> datetime:
        return self.saved or self.modified or datetime.min.replace(tzinfo=timezone.utc)


def openpyxl_is_defused() -> bool:
    """openpyxl parses XML with defusedxml only when it is installed (it is a dependency of ours)."""
    try:
        from openpyxl.xml import DEFUSEDXML
    except ImportError:
        return False
    return bool(DEFUSEDXML)


def gather(paths: list[str | Path]) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Files to read from files and folders given; and (name, reason) for what was skipped.
    Symlinks inside folders are not followed; lock files (~$) and hidden files are skipped."""
    found, skipped, seen = [], [], set()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for path in sorted(given.rglob("*")):
                name = str(path.relative_to(given.parent))
                if path.is_symlink():
                    skipped.append((name, "符号链接，未跟随"))
                elif path.is_file():
                    reason = _skip_reason(path)
                    if reason:
                        skipped.append((name, reason))
                    elif path.suffix.lower() in WORKBOOK_SUFFIXES or not path.suffix:
                        _add(found, seen, path, name, skipped)
                    else:
                        skipped.append((name, f"扩展名{path.suffix}不是Excel工作簿，已跳过（如确是填报表，请改为.xlsx）"))
        elif given.exists():
            reason = _skip_reason(given)
            if reason:
                skipped.append((str(given), reason))
            else:
                _add(found, seen, given, str(given), skipped)
        else:
            skipped.append((str(given), "文件不存在"))
    return found, skipped


def _add(found, seen, path, name, skipped):
    key = os.path.realpath(path)
    if key in seen:
        skipped.append((name, "同一文件重复指定，只读取一次"))
        return
    seen.add(key)
    found.append((path, name))


def _skip_reason(path: Path) -> str:
    if path.name.startswith("~$"):
        return "Excel临时锁定文件，已跳过"
    if path.name.startswith("."):
        return "隐藏文件，已跳过"
    return ""


def load(path: Path, name: str) -> FileInfo:
    """Read a file's bytes (never opening it for writing), its size, time and hash. Whether it may
    be parsed is `inspect`'s decision, made in the same child process as the parse (see readback)."""
    info = FileInfo(path, name)
    try:
        stat = path.stat()
        info.size = stat.st_size
        info.modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc)
        if info.size > MAX_FILE_BYTES:
            info.rejected = f"文件过大（{info.size // 1048576} MB），不是正常的填报表，已拒绝。"
            return info
        with open(path, "rb") as handle:
            info.data = handle.read()
    except PermissionError:
        info.rejected = "没有读取该文件的权限。请检查文件权限后重试。"
        return info
    except OSError as exc:
        info.rejected = f"无法读取该文件（{exc.strerror or exc}）。"
        return info
    info.sha256 = hashlib.sha256(info.data).hexdigest()
    return info


INSPECTED = ("format", "rejected", "macros", "saved", "error_cells", "formula_cells")


def inspection(data: bytes) -> dict:
    """inspect() on bare bytes, returned as the fields it decides (picklable, for a child process)."""
    info = FileInfo(Path(), "", data=data)
    inspect(info)
    return {field: getattr(info, field) for field in INSPECTED}


def inspect(info: FileInfo) -> None:
    """Classify by first bytes and pre-flight the container; sets `format` or `rejected`."""
    head = info.data[:8]
    if not info.data:
        info.rejected = "文件是空的（0字节），请重新发送。"
    elif head.startswith(ZIP_MAGIC):
        _inspect_zip(info)
    elif head == OLE_MAGIC:
        if "EncryptionInfo".encode("utf-16-le") in info.data[:1 << 20] or b"E\x00n\x00c\x00r\x00y\x00p\x00t" in info.data:
            info.rejected = "文件已加密（设置了打开密码），无法读取。请让该部门取消密码后重新发送。"
        else:
            info.format = "xls"
    else:
        info.rejected = _not_a_workbook(info.data)


def _not_a_workbook(data: bytes) -> str:
    start = data[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<table" in start:
        return "文件实际是网页（HTML），只是扩展名像Excel，不是填报表。请用Excel打开后另存为.xlsx再发送。"
    if start.startswith(b"<?xml"):
        return "文件是XML文本，不是Excel工作簿。请另存为.xlsx再发送。"
    if start.startswith(b"%pdf"):
        return "文件是PDF，不是Excel工作簿。请发送填写好的.xlsx文件。"
    if data[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return "文件是空的或损坏的压缩包，不是完整的Excel工作簿。请重新发送。"
    return "文件不是Excel工作簿（可能是文本、CSV或下载不完整的文件）。请发送填写好的.xlsx文件。"


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension[^>]*\bref="[A-Z]*\d*:?([A-Z]+)(\d+)"')
_ANY_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_SST_TAG = re.compile(rb"<(?:\w+:)?sst\b[^>]*>")
_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+\d+)"[^>]*?\bt="e"')
_FORMULA_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+\d+)"[^>]*>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f>)')


def _inspect_zip(info: FileInfo) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(info.data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        info.rejected = "文件已损坏（压缩结构不完整，可能下载或复制不完整）。请重新发送。"
        return
    if len(members) > MAX_MEMBERS:
        info.rejected = f"文件内部包含{len(members)}个部件，远超正常填报表，疑为恶意文件，已拒绝。"
        return
    total = sum(m.file_size for m in members)
    biggest = max((m.file_size for m in members), default=0)
    if biggest > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES or total > MAX_RATIO * max(len(info.data), 1) + 10_000_000:
        info.rejected = f"文件解压后达{total // 1048576} MB，远超正常填报表（压缩炸弹），已拒绝。"
        return
    names = {m.filename for m in members}
    if "mimetype" in names and b"opendocument.spreadsheet" in _read(archive, "mimetype"):
        info.format = "ods"
        _check_xml(info, archive, [n for n in names if n.endswith(".xml")])
        return
    if "xl/workbook.bin" in names:
        info.format = "xlsb"
    elif "xl/workbook.xml" in names:
        info.format = "xlsx"
    else:
        info.rejected = "文件是压缩包，但不是Excel工作簿。请发送填写好的.xlsx文件。"
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
            info.rejected = f"文件已损坏（部件{part}无法解压）。请重新发送。"
            return
        head = data[:4096]
        if b"<!DOCTYPE" in head or b"<!ENTITY" in data[:65536]:
            info.rejected = f"文件部件{part}含有XML实体声明（可能是XML炸弹或外部实体攻击），已拒绝。"
            return
        if is_sheet:
            if not _sheet_size_ok(info, part, data):
                return
            if b't="e"' in data:
                info.error_cells[part] = {m.decode() for m in _ERROR_CELL.findall(data)}
            if _ANY_FORMULA.search(data):  # not "<formula1>" of a data validation
                info.formula_cells[part] = {ref.decode(): (text or b"").decode("utf-8", "replace")
                                            for ref, text in _FORMULA_CELL.findall(data)}
        elif part == "xl/sharedStrings.xml":
            for tag in _SST_TAG.findall(head):
                for count in (_attribute(tag, b"count"), _attribute(tag, b"uniqueCount")):
                    if count and (not count.isdigit() or int(count) > MAX_SHARED_STRINGS):
                        info.rejected = f"文件的共享字符串数量声称为{count[:20]}，远超正常填报表，已拒绝。"
                        return


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def _sheet_size_ok(info, part, data) -> bool:
    # The declared dimension and the row numbers are cheap to check; a cell that lies beyond them
    # can still exhaust the parser, which is why parsing runs in a memory-limited child (sandbox).
    dimension = _DIMENSION.findall(data[:4096])
    max_col = max((_column_number(c) for c, _ in dimension), default=0)
    max_row = max([int(r) for _, r in dimension] + [int(r) for r in set(_ROW_REF.findall(data))], default=0)
    if max_row > MAX_ROWS or max_col > MAX_COLS:
        info.rejected = (f"工作表部件{part}的范围达到第{max_row}行、第{max_col}列，远超正常填报表"
                         f"（可能导致读取程序崩溃），已拒绝。")
        return False
    return True


_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]+)</dcterms:modified>")


def _saved_time(archive, names) -> datetime | None:
    if "docProps/core.xml" not in names:
        return None
    match = _MODIFIED.search(_read(archive, "docProps/core.xml"))
    if not match:
        return None
    try:
        stamp = datetime.fromisoformat(match.group(1).decode().strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


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
