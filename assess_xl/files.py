"""Writing output files safely, for the command line and the console alike: every file is written
beside its target and moved into place only when all are written, never over a workbook someone has
open, with the permissions of a normally created file. Failures are one exception carrying a problem
from the catalogue."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from assess_xl.problems import Code
from assess_xl import problems as P
from assess_xl.problems import Problem


class WriteError(P.AssessError):
    """Nothing was written; `problem` says why and what to do (in Chinese)."""


def cache_folder() -> Path | None:
    """This tool's folder among the user's caches ($XDG_CACHE_HOME, %LOCALAPPDATA% or ~/.cache): what it keeps
    there only saves work and may be deleted at any time. None where the user has no home folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no entry in the password database
            return None
    return Path(base) / "assess-xl"


def replace_cached(target: Path, text: str) -> None:
    """A cache file written whole beside `target` and moved into place: a reader sees the old one or the new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(text)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def lock_names(target: Path) -> list[str]:
    """Excel and WPS leave `~$name` beside an open workbook (with long names, its first two letters
    replaced), LibreOffice `.~lock.name#`."""
    return [f"~${target.name}", f"~${target.name[2:]}", f".~lock.{target.name}#"]


def refuse_if_in_use(target: Path) -> None:
    """Replacing a workbook that is open in Excel, WPS or LibreOffice loses someone's work."""
    if any((target.parent / lock).exists() for lock in lock_names(target)):
        raise WriteError(P.make(Code.FILE_OPEN_ELSEWHERE, where=str(target)))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files(files: list[tuple[Path, bytes]]) -> None:
    """Write every file beside its target, then move all into place: on any failure (no permission,
    a full disk, a parent that is a file) nothing is half-written and the old files stay as they were.
    Files get the permissions of a normally created file (the umask), so colleagues can open them."""
    mode = 0o666 & ~_umask()
    temporaries: list[str] = []
    try:
        staged = []
        for target, content in files:
            refuse_if_in_use(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
            temporaries.append(temporary)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
            staged.append((temporary, target))
        for temporary, target in staged:
            os.replace(temporary, target)
    except OSError as exc:
        raise WriteError(write_failure(exc, files[0][0] if len(files) == 1 else files[0][0].parent)) from None
    finally:
        for temporary in temporaries:
            if os.path.exists(temporary):
                os.unlink(temporary)


def write_failure(exc: OSError, where: Path) -> Problem:
    if exc.errno == errno.ENOSPC:
        return P.make(Code.WRITE_NO_SPACE, where=str(where))
    if isinstance(exc, PermissionError):
        return P.make(Code.WRITE_PERMISSION, where=str(where))
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return P.make(Code.WRITE_NOT_FOLDER, where=str(where))
    return P.make(Code.WRITE_FAILED, where=str(where), reason=P.reason(exc))


def write_file(target: Path, content: bytes) -> None:
    """One file, written as write_files writes."""
    write_files([(target, content)])
