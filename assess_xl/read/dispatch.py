"""Handing the gathered files to the sandbox's children, round by round (mailbox → messages →
attachments), and taking back each file's read. Needs neither pandas nor numpy, so that a run can
start the reading before it imports them (`Reading(..., ahead=True)`): the children read while the
run's own process loads the rest. Knows nothing of merging."""
from __future__ import annotations

import functools
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from assess_xl import problems as P
from assess_xl.problems import Code
from assess_xl.read import gather
from assess_xl.read.form import REJECTED, FileRead
from assess_xl.read.units import Split, Unit, again_apart, quiet_messages, read_unit
from assess_xl.rules.model import Rulebook
from assess_xl.xlsx import sandbox

OnRead = Callable[[FileRead], None]


def read_units(units: list[Unit], book: Rulebook, workers: int | None = None, now: datetime | None = None,
               on_read: OnRead | None = None,
               caller_busy: threading.Event | None = None) -> tuple[list[FileRead], list[str]]:
    """Every unit read in its own sandboxed child, containers split round by round (mailbox →
    messages → attachments); the reads in the order the files were given, and the units no child
    could read (a fault of the machine). `on_read` is told of each file's read as soon as it is done;
    while `caller_busy` is set, one core is left to the caller (sandbox.isolation)."""
    placed: list[tuple[tuple[int, ...], FileRead]] = []
    failures: list[str] = []
    quiet: list[tuple[str, str, int]] = []
    run = os.urandom(16).hex()  # names this run to the children: orders of units compare within a run only
    with sandbox.isolation(read_unit, (book, now, run), workers, caller_busy=caller_busy) as read_all:
        while units:
            current = units
            told = None if on_read is None else functools.partial(_tell, on_read, current)
            following: list[Unit] = []
            sizes = [_size(unit) for unit in current]
            for unit, outcome in zip(current, read_all(current, told, largest_first(sizes), sizes)):
                if isinstance(outcome, sandbox.Failure):
                    retry = again_apart(unit) if outcome.kind != "worker" else None
                    if retry is not None:
                        following.append(retry)
                        continue
                    failures += [unit.name] if outcome.kind == "worker" else []
                elif isinstance(outcome, Split):
                    following += outcome.units
                    quiet += outcome.quiet
                placed += [(unit.order, read) for read in _reads_of(unit, outcome)]
            units = following
    placed.sort(key=lambda pair: pair[0])
    return [read for _, read in placed] + quiet_messages(quiet), failures


def largest_first(sizes: list[int]) -> list[int]:
    """The units' indexes by their sizes, largest first, as children are given them: a large file given last
    would leave one child reading it alone at the end while the other waits. Units of one size keep their
    order, and the sandbox hands them to one child where it can: copies of one file are of one size, and a
    child that has read a file need not parse its later copies (units._read_file)."""
    return sorted(range(len(sizes)), key=lambda n: -sizes[n])


def _size(unit: Unit) -> int:
    if unit.span is not None:
        return unit.span[1]
    try:
        return os.stat(unit.path).st_size
    except OSError:  # the child reports it
        return 0


def _reads_of(unit: Unit, outcome: list[FileRead] | Split | sandbox.Failure) -> list[FileRead]:
    """The files a unit's outcome reads (a container's own reads; its parts come in the next round)."""
    if isinstance(outcome, sandbox.Failure):
        return [_failed(unit.path, unit.name, outcome)]
    return list(outcome.reads) if isinstance(outcome, Split) else list(outcome)


def _tell(on_read: OnRead, units: list[Unit], index: int, outcome: list[FileRead] | Split | sandbox.Failure) -> None:
    if isinstance(outcome, sandbox.Failure) and outcome.kind != "worker" and again_apart(units[index]) is not None:
        return  # read again apart in the next round: its verdict is told then
    for read in _reads_of(units[index], outcome):
        on_read(read)


def _failed(path: str, name: str, failure: sandbox.Failure) -> FileRead:
    code = _FAILURE_CODES.get(failure.kind, Code.PARSE_ERROR)
    fields: dict[str, Any] = {"kind": failure.detail.split(":")[0], "seconds": int(sandbox.seconds_per_item()),
                              "how": _how(failure)}
    return FileRead(gather.FileInfo(Path(path), name), REJECTED, P.text(code, **fields), [P.make(code, file=name, **fields)])


def _how(failure: sandbox.Failure) -> str:
    """How a child died, in words: a signal by name, else its exit status."""
    if failure.detail.startswith("exit "):
        return f"退出状态{failure.detail[5:]}"
    return f"信号{failure.detail}" if failure.detail else "进程异常结束"


_FAILURE_CODES = {"crash": Code.PARSE_CRASH, "timeout": Code.PARSE_TIMEOUT, "memory": Code.PARSE_MEMORY,
                  "worker": Code.WORKER_FAILED, "error": Code.PARSE_ERROR}


def first_units(found: list[tuple[Path, str]]) -> list[Unit]:
    """The gathered (path, name) pairs as the first round of units, numbered in the order given."""
    return [Unit(str(path), name, gather.kind_of(path), (number,)) for number, (path, name) in enumerate(found)]


class Reading:
    """The files gathered from `paths` and their reads. With `ahead`, the reads are taken on a thread of
    this process (the children do the reading; the thread hands them files and takes back results) and
    the caller goes on, e.g. importing pandas, until it asks for `result()`; otherwise they are taken now.
    While the caller goes on, it keeps a core: the children take the others, and the caller's core too once
    it asks for the result (the reading of a few files is over by then; a long one gets every core)."""

    def __init__(self, paths: Sequence[str | Path], book: Rulebook, workers: int | None = None, now: datetime | None = None,
                 on_read: OnRead | None = None, ahead: bool = False) -> None:
        self.found, self.skipped = gather.gather(list(paths))
        self._outcome: tuple[list[FileRead], list[str]] | None = None
        self._error: BaseException | None = None
        self.caller_busy = threading.Event()
        if ahead:
            self.caller_busy.set()
        work = functools.partial(read_units, first_units(self.found), book, workers, now, on_read, self.caller_busy)
        self._thread: threading.Thread | None = None
        if ahead:
            self._thread = threading.Thread(target=self._take, args=(work,), name="assess-xl-reading", daemon=True)
            self._thread.start()
        else:
            self._outcome = work()

    def _take(self, work: Callable[[], tuple[list[FileRead], list[str]]]) -> None:
        try:
            self._outcome = work()
        except BaseException as exc:  # noqa: B036  raised again in the caller's thread by result()
            self._error = exc

    def result(self) -> tuple[list[FileRead], list[str]]:
        """The reads in the order the files were given, and the files no child could read (waits for them)."""
        self.caller_busy.clear()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome
