"""Gathering what was given: which files to take from the given paths (folders walked, links, pipes,
lock and hidden files skipped), how each is read (a workbook or a container of them), and the record
of one file: its name as shown, hash, times and where it came from. The bytes themselves are judged
by xlsx.preflight. Knows nothing of scoring."""
from __future__ import annotations

import hashlib
import operator
import os
import stat
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

from assess_xl import problems as P
from assess_xl.xlsx import preflight
from assess_xl.xlsx.layout import FETCH_RECORD, printable
from assess_xl.xlsx.preflight import WORKBOOK_SUFFIXES, Refusable
from assess_xl.problems import Code

SEPARATOR = " › "  # between a container's name and a part's, in a name as shown: 收件.mbox#3 › 办公室.xlsx


@dataclass
class FileInfo(Refusable):
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

    @property
    def submitted_at(self) -> datetime:
        return self.mailed or self.saved or self.modified or EARLIEST

    @property
    def submission_key(self) -> tuple[float, float]:
        """Which of two submissions is later: the time it was sent or saved, then what truly comes later
        for it (a message's receipt, a file's time). Equal keys are a tie: nothing says which is later."""
        second = self.received if self.mailed else self.modified
        return self.submitted_at.timestamp(), second.timestamp() if second else 0.0

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled compactly, as a reader child sends one for every file it reads: its fields' values in order,
        the path as text and times in UTC without their timezone (which of them were in UTC marked by the bits of
        `utc`). Pickled as they are, a path is rebuilt from each of its parts and a time's timezone by calls of
        its own: this halves the cost of taking a file's read back in the run's process."""
        values = list(_VALUES(self))
        utc = 0
        for bit, position in enumerate(_TIMES):
            stamp = values[position]
            if stamp is not None and stamp.tzinfo is timezone.utc:
                values[position], utc = stamp.replace(tzinfo=None), utc | 1 << bit
        values[0] = os.fspath(values[0])
        return _unpickled_info, (utc, *values)


def _unpickled_info(utc: int, *values: Any) -> FileInfo:
    """A FileInfo as FileInfo.__reduce__ gave it."""
    restored = list(values)
    restored[0] = Path(restored[0])
    for bit, position in enumerate(_TIMES):
        if utc >> bit & 1:
            restored[position] = restored[position].replace(tzinfo=timezone.utc)
    info = FileInfo.__new__(FileInfo)
    info.__dict__.update(zip(_FIELDS, restored))
    return info


_FIELDS = [f.name for f in fields(FileInfo)]
_VALUES = operator.attrgetter(*_FIELDS)
_TIMES = [_FIELDS.index(name) for name in ("modified", "saved", "mailed", "received")]


EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)


def now_utc() -> datetime:
    """The clock, for callers that are not a run (a run reads it once and passes its time down)."""
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


MAIL_KINDS = {".eml": "eml", ".msg": "msg", ".mbox": "mbox", ".zip": "zip"}  # containers read for their workbooks
ARCHIVE_SUFFIXES = {".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz"}
MAX_CONTAINER_BYTES = 200 * 1024 * 1024  # a mailbox or a message with attachments


class Skipped(NamedTuple):
    """A path that was not read: as shown, why (catalogue message) and the catalogue code."""
    name: str
    reason: str
    code: Code

    @classmethod
    def of(cls, name: str, code: Code, **fields: object) -> "Skipped":
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
            skipped.append(Skipped.of(shown, Code.SKIP_MISSING))
            continue
        except OSError as exc:
            skipped.append(Skipped.of(shown, Code.SKIP_INACCESSIBLE, reason=P.reason(exc)))
            continue
        if stat.S_ISDIR(mode):
            _walk(given, found, skipped, seen)
        else:
            _consider(given, shown, mode, True, found, skipped, seen)
    return found, skipped


def _walk(folder: Path, found: list[tuple[Path, str]], skipped: list[Skipped], seen: set[str]) -> None:
    def unreadable(error: OSError) -> None:
        name = os.path.relpath(error.filename, folder.parent) if error.filename else str(folder)
        skipped.append(Skipped.of(display_name(name), Code.SKIP_UNREADABLE_FOLDER, reason=P.reason(error)))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        real_root = os.path.realpath(root)  # a file's real path is its folder's and its name: it is no link
        root_path = Path(root)
        shown_root = str(root_path.relative_to(folder.parent))  # a name is shown relative to the given folder's parent
        dirs.sort()
        for entry in sorted(dirs):
            if os.path.islink(os.path.join(root, entry)):
                skipped.append(Skipped.of(display_name(os.path.relpath(os.path.join(root, entry), folder.parent)),
                                          Code.SKIP_SYMLINK))
        for entry in sorted(files):
            if entry == FETCH_RECORD:  # fetch's own bookkeeping, not an input
                continue
            path = root_path / entry
            name = display_name(entry if shown_root == "." else shown_root + os.sep + entry)
            try:
                mode = path.lstat().st_mode
            except OSError as exc:
                skipped.append(Skipped.of(name, Code.SKIP_INACCESSIBLE, reason=P.reason(exc)))
                continue
            if stat.S_ISLNK(mode):
                skipped.append(Skipped.of(name, Code.SKIP_SYMLINK))
            else:
                _consider(path, name, mode, False, found, skipped, seen, os.path.join(real_root, entry))


def _consider(path: Path, name: str, mode: int, explicit: bool, found: list[tuple[Path, str]], skipped: list[Skipped],
              seen: set[str], real: str = "") -> None:
    """A regular file is taken unless its name says to skip it; anything else (pipes, devices) is skipped.
    `real` is its real path when known."""
    if not stat.S_ISREG(mode):
        skipped.append(Skipped.of(name, Code.SKIP_SPECIAL))
        return
    reason = _skip_reason(path, explicit)
    if reason:
        skipped.append(Skipped.of(name, reason[0], **reason[1]))
    else:
        _add(found, seen, path, name, skipped, real)


def _add(found: list[tuple[Path, str]], seen: set[str], path: Path, name: str, skipped: list[Skipped],
         real: str = "") -> None:
    key = real or os.path.realpath(path)
    if key in seen:
        skipped.append(Skipped.of(name, Code.SKIP_SAME_PATH))
        return
    seen.add(key)
    found.append((path, name))


def _skip_reason(path: Path, explicit: bool) -> tuple[Code, dict[str, str]] | None:
    suffix = path.suffix.lower()
    if path.name.startswith("~$") or (path.name.startswith(".~lock.") and path.name.endswith("#")):
        return Code.SKIP_LOCK, {}
    if path.name.startswith("."):
        return Code.SKIP_HIDDEN, {}
    if suffix == ".emlx":
        return Code.SKIP_MAIL, {"suffix": suffix}
    if suffix in ARCHIVE_SUFFIXES:
        return Code.SKIP_ARCHIVE, {"suffix": suffix}
    if not explicit and suffix and suffix not in WORKBOOK_SUFFIXES and suffix not in MAIL_KINDS and not _in_maildir(path):
        return Code.SKIP_SUFFIX, {"suffix": suffix}
    return None


def _in_maildir(path: Path) -> bool:
    """A message file of a Maildir folder (cur/ or new/ beside tmp/): its name has no useful suffix."""
    return path.parent.name in ("cur", "new") and (path.parent.parent / "tmp").is_dir()


def kind_of(path: Path) -> str:
    """How a gathered file is read: a workbook ('file') or a container of workbooks (eml, msg, mbox, zip)."""
    if _in_maildir(path):
        return "eml"
    return MAIL_KINDS.get(path.suffix.lower(), "file")


def load(path: str | Path, name: str, limit: int = 0, span: tuple[int, int] | None = None,
         now: datetime | None = None) -> FileInfo:
    """A file's bytes by the pre-flight's bounded read (`span` (offset, length) reads one message of a
    mailbox), with its size, time and hash; its time is kept when plausible at `now` (the run's time).
    Whether it may be parsed is `inspect`'s decision."""
    read = preflight.read_bounded(path, limit, span)
    info = FileInfo(Path(path), name, data=read.data, size=read.size, rejected=read.rejected,
                    rejected_code=read.rejected_code)
    info.modified = read.modified if plausible(read.modified, now or now_utc()) else None
    if not info.rejected:
        info.sha256 = hashlib.sha256(info.data).hexdigest()
    return info


def inspect(info: FileInfo, now: datetime | None = None) -> None:
    """The pre-flight's verdict on the file's bytes: sets `format` or `rejected`, and the workbook's own
    saved time when it is plausible at `now` (the run's time)."""
    verdict = preflight.check(info.data)
    info.format, info.rejected, info.rejected_code, info.macros = (verdict.format, verdict.rejected,
                                                                   verdict.rejected_code, verdict.macros)
    info.saved, info.error_cells, info.formula_cells = verdict.saved, verdict.error_cells, verdict.formula_cells
    if info.saved is not None and not plausible(info.saved, now or now_utc()):
        info.saved_ignored = info.saved.isoformat()[:40]
        info.saved = None
