"""`fetch` as one library call: the output folder of .eml files, its list of messages read (the
seen-list), and the IMAP download (read.imap) into them. Failures are one FetchError whose message
comes from the catalogue."""
from __future__ import annotations

import errno
import imaplib
import os
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from assess_xl.problems import Code
from assess_xl import problems as P
from assess_xl import files
from assess_xl.read import imap
from assess_xl.xlsx.layout import FETCH_RECORD

_RECORD_REASONS = {errno.ENOSPC: "磁盘已满", errno.EROFS: "所在的盘是只读的", errno.EACCES: "没有写入权限",
                   errno.EPERM: "没有写入权限", errno.EISDIR: "同名的是一个文件夹",
                   errno.ENOTDIR: "路径中有同名的文件而不是文件夹", errno.EEXIST: "路径中有同名的文件而不是文件夹"}


class FetchError(P.AssessError):
    """Nothing (more) was fetched; the problem says why and what to do."""


class FetchRecord:
    """fetch's output folder: the .eml files saved there and its list of messages read (one key a line,
    appended after each batch, so a run stopped half-way keeps what it did). Checked writable before
    anything is downloaded."""

    def __init__(self, folder: Path):
        self.folder, self.path = folder, folder / FETCH_RECORD
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise FetchError(record_failure(exc, self.path)) from None

    def known(self) -> set[str]:
        names = {p.name for p in self.folder.glob("*.eml")}
        try:
            return names | set(self.path.read_text(encoding="utf-8", errors="replace").split())
        except OSError as exc:
            raise FetchError(record_failure(exc, self.path)) from None

    def deliver(self, found: list[tuple[str, bytes]], keys: list[str]) -> list[bool]:
        """Save the new files, then remember every message read; which files were new."""
        new, seen = [], set()
        for name, _ in found:  # a name is its content's hash: the same name twice is the same message
            new.append(name not in seen and not (self.folder / name).exists())
            seen.add(name)
        files.write_files([(self.folder / name, raw) for (name, raw), fresh in zip(found, new) if fresh])
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("".join(f"{key}\n" for key in keys))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise FetchError(record_failure(exc, self.path)) from None
        return new


def record_failure(exc: OSError, path: Path) -> P.Problem:
    return P.make(Code.FETCH_RECORD_UNWRITABLE, path=path, reason=_RECORD_REASONS.get(exc.errno or 0, "系统拒绝写入"))


def since_day(since: str | None) -> date | None:
    """`--since 2008-01-01` as a date."""
    if not since:
        return None
    try:
        return datetime.strptime(since, "%Y-%m-%d").date()
    except ValueError:
        raise FetchError(P.make(Code.FETCH_DATE_INVALID, raw=since)) from None


def fetch(server: imap.Server, folder: str, since: date | None, record: FetchRecord, mark_seen: bool,
          departments: dict[str, str], progress: Callable[[int, int], None] | None = None) -> imap.Fetched:
    """Every new message with a workbook into the record's folder, saved under its sender's department
    (`departments`: address in lower case → department) when known."""
    try:
        return imap.fetch_new(server, folder, since, record.known(), record.deliver, mark_seen,
                              lambda address: departments.get(address.lower(), address), progress)
    except (imap.ServerFault, imaplib.IMAP4.error, OSError) as exc:
        raise FetchError(P.make(Code.FETCH_FAILED, host=server.host, reason=imap.connection_reason(exc, server))) from None


def summary(fetched: imap.Fetched, folder: Path) -> list[str]:
    """What a fetch saved and left, in Chinese (the messages skipped or to retry are `fetched`'s own lines)."""
    if fetched.saved:
        lines = [P.text(Code.FETCH_SAVED, count=len(fetched.saved), folder=folder)]
    else:
        lines = [P.text(Code.FETCH_NO_WORKBOOK if fetched.total else Code.FETCH_NOTHING_NEW)]
    if fetched.without_workbook:
        lines.append(P.text(Code.FETCH_WITHOUT_WORKBOOK, count=fetched.without_workbook))
    if fetched.already:
        lines.append(P.text(Code.FETCH_ALREADY, count=fetched.already))
    return lines
