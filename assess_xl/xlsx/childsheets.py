"""Some sheets of a workbook written on the machine's other core: a forked child writes the cells of the
first sheets of a run of sheets and assembles their XML while this process writes the rest, and the
workbook comes out byte for byte as if one process had written every sheet in order.

Two things a workbook numbers in the order sheets are written are put right when the child's part comes
back: shared strings (a text gets its number when it is first written; the child's sheets come first, so
the child's numbers stand, and the texts this process wrote since the fork are numbered again after the
child's new ones) and cell formats (a format gets its number when a sheet's XML first uses it, so the
child first assembles the sheets written before the fork, then its own, and this process takes the
numbers it gave). A child that fails, dies or sends something that does not fit raises ChildFailed: the
caller then writes the workbook again in one process. The child dies with this process; nothing is
written to disk (a pipe carries its part)."""
from __future__ import annotations

import os
import pickle
import signal
import select
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from xlsxwriter.worksheet import Worksheet

from assess_xl.xlsx.sandbox import _die_with_run
from assess_xl.xlsx.style import HouseWorksheet, MemoryWorkbook, sheet_xml, usable_cores

Item = TypeVar("Item")
# What a sheet keeps outside its own XML that the workbook's other parts (workbook.xml, defined names,
# app.xml) read: copied from the child's sheets to this process's.
CARRIED = ("hidden", "selected", "autofilter_area", "print_area_range", "repeat_row_range", "repeat_col_range")
# What a sheet written in the child must not hold: parts of the package outside the sheet's XML, which
# are prepared when the workbook closes in this process.
CHILD_SECONDS = 30.0  # the least time the child is given to send its part, from the fork
ATTACHED = ("charts", "images", "shapes", "tables", "header_images", "footer_images", "background_image",
            "comments", "buttons_list", "hyperlinks", "has_vml", "has_header_vml", "has_dynamic_arrays")


class ChildFailed(Exception):
    """The child's part could not be used (it failed, died or wrote what does not fit): write in one process."""


@dataclass(frozen=True)
class _Part:
    """What the child sends back: its new shared strings in order and how often it used any, the cell
    formats' numbers, and each of its sheets' carried attributes and XML."""
    strings: list[str]
    uses: int
    format_keys: dict[str, int]
    format_numbers: list[tuple[int, int]]
    sheets: list[tuple[dict[str, Any], bytes]]


@dataclass(frozen=True)
class _State:
    """The workbook when the child was forked."""
    strings: int
    uses: int
    formats: int
    format_keys: int
    dxf_keys: int
    sheets: int


def can_fork() -> bool:
    """Fork available and two cores for this process. Other threads may run (the terminal's progress, the
    console's server): the child takes no lock another thread could hold (it writes nothing but its pipe,
    logs nothing, and the house worksheet caches nothing behind a lock) and leaves with os._exit."""
    return hasattr(os, "fork") and usable_cores() > 1


class Beside(Generic[Item]):
    """The split: `mine` are the items this process writes; `join()` takes the child's part into the
    workbook (raising ChildFailed when it cannot) before the workbook is closed."""

    def __init__(self, workbook: MemoryWorkbook, mine: list[tuple[Item, Worksheet]]) -> None:
        self.workbook, self.mine = workbook, mine
        self.pid: int | None = None
        self.pipe: int | None = None
        self.theirs: list[Worksheet] = []
        self.state: _State | None = None
        self.forked = 0.0  # time.monotonic() at the fork

    def join(self) -> None:
        if self.pid is None:
            return
        data, status = self._received()
        if status != 0 or not data:
            raise ChildFailed(f"status {status}")
        try:
            part = pickle.loads(data)
        except Exception as exc:  # a cut-off message
            raise ChildFailed(repr(exc)) from exc
        if isinstance(part, str):
            raise ChildFailed(part)
        _take(self.workbook, part, self.theirs, self._state())

    def _state(self) -> _State:
        assert self.state is not None
        return self.state

    def _received(self) -> tuple[bytes, int]:
        """All the child wrote to the pipe, and how it ended; a child that has not finished by its deadline
        (CHILD_SECONDS after the fork at least, or twice as long as this process took for its part) is ended."""
        assert self.pid is not None and self.pipe is not None
        deadline = time.monotonic() + max(CHILD_SECONDS, 2 * (time.monotonic() - self.forked))
        chunks = []
        while select.select([self.pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(self.pipe, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            self.stop()
            return b"", -1
        os.close(self.pipe)
        self.pipe = None
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return b"".join(chunks), os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """End and reap the child if it is still there (the build failed or was interrupted)."""
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = None


@contextmanager
def written_beside(workbook: MemoryWorkbook, items: Sequence[tuple[Item, Worksheet]],
                   write: Callable[[list[tuple[Item, Worksheet]]], None], share: float) -> Iterator[Beside[Item]]:
    """Writes the first of `items` (each an item and the empty sheet it goes to, the sheets consecutive and
    added last) here, then forks a child that writes the next `share` of them with `write` and returns their
    XML; the block writes `mine` and every later sheet, then calls `join()` before closing the workbook.
    The first item is written before the fork so that what every item needs the first time (fonts, the
    measures of texts they share) is there for both processes instead of being made in each. With `share`
    0 (or no second core) nothing is forked and `mine` is every item."""
    theirs = int(len(items) * share) if can_fork() and not workbook.constant_memory else 0
    ahead = 1 if theirs and len(items) > theirs else 0
    beside: Beside[Item] = Beside(workbook, list(items[ahead + theirs:]))
    if theirs:
        write(list(items[:ahead]))
        _fork(beside, workbook, list(items[ahead:ahead + theirs]), write)
    try:
        yield beside
    finally:
        beside.stop()


def _fork(beside: Beside[Item], workbook: MemoryWorkbook, theirs: list[tuple[Item, Worksheet]],
          write: Callable[[list[tuple[Item, Worksheet]]], None]) -> None:
    table = workbook.str_table
    state = _State(table.unique_count, table.count, len(workbook.formats), len(workbook.xf_format_indices),
                   len(workbook.dxf_format_indices), len(workbook.worksheets()))
    reading, writing = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reading)
        _child(workbook, theirs, write, state, writing, parent)
    os.close(writing)
    beside.pid, beside.pipe, beside.state, beside.forked = pid, reading, state, time.monotonic()
    beside.theirs = [sheet for _, sheet in theirs]


def _child(workbook: MemoryWorkbook, theirs: list[tuple[Any, Worksheet]], write: Callable[[list[Any]], None],
           state: _State, pipe: int, parent: int) -> None:
    status = 1
    try:
        _die_with_run(parent)
        try:
            write(theirs)
            message: _Part | str = _part(workbook, [sheet for _, sheet in theirs], state)
        except Exception as exc:  # told to the parent, which writes these sheets itself
            message = f"{type(exc).__name__}: {exc}"[:300]
        with open(pipe, "wb") as out:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    finally:
        os._exit(status)


def _part(workbook: MemoryWorkbook, sheets: list[Worksheet], state: _State) -> _Part:
    _check_self_contained(workbook, sheets, state)
    first = sheets[0].index
    for earlier in workbook.worksheets()[:first]:  # numbers the formats they use first, as saving in order does
        sheet_xml(earlier)
    xml = [sheet_xml(sheet) for sheet in sheets]
    formats = [(position, f.xf_index) for position, f in enumerate(workbook.formats) if f.xf_index is not None]
    strings = list(workbook.str_table.string_table)[state.strings:]
    return _Part(strings, workbook.str_table.count - state.uses, dict(workbook.xf_format_indices), formats,
                 [({name: getattr(sheet, name) for name in CARRIED}, text) for sheet, text in zip(sheets, xml)])


def _check_self_contained(workbook: MemoryWorkbook, sheets: list[Worksheet], state: _State) -> None:
    """The child's sheets changed nothing of the workbook but the shared strings, and hold nothing outside
    their own XML: anything else would be lost in this process (ValueError, told to the parent)."""
    if (len(workbook.formats), len(workbook.dxf_format_indices), len(workbook.worksheets())) != (
            state.formats, state.dxf_keys, state.sheets) or len(workbook.xf_format_indices) != state.format_keys:
        raise ValueError("the child's sheets added formats or sheets")
    for sheet in sheets:
        if not isinstance(sheet, HouseWorksheet) or sheet.is_chartsheet or any(getattr(sheet, name, None) for name in ATTACHED):
            raise ValueError(f"sheet {sheet.name} holds parts outside its XML")


def _take(workbook: MemoryWorkbook, part: _Part, theirs: list[Worksheet], state: _State) -> None:
    """The child's part into the workbook: its strings before those this process wrote since the fork,
    its numbering of formats, its sheets' attributes and XML."""
    if len(workbook.xf_format_indices) != state.format_keys or any(sheet.table for sheet in theirs):
        raise ChildFailed("this process numbered formats or wrote into the child's sheets")
    numbers = _strings_after(workbook, part, state)
    for sheet in workbook.worksheets():
        if sheet not in theirs and isinstance(sheet, HouseWorksheet):
            sheet.renumber_strings(numbers)
    workbook.xf_format_indices.clear()
    workbook.xf_format_indices.update(part.format_keys)
    for position, number in part.format_numbers:
        workbook.formats[position].xf_index = number
    for sheet, (carried, xml) in zip(theirs, part.sheets):
        for name, value in carried.items():
            setattr(sheet, name, value)
        sheet.assembled = xml


def _strings_after(workbook: MemoryWorkbook, part: _Part, state: _State) -> list[int]:
    """Puts the child's new strings after those of before the fork and this process's new ones after them;
    returns each string number this process gave → its number now."""
    table = workbook.str_table
    given = list(table.string_table)
    numbered = {text: number for number, text in enumerate(given[:state.strings])}
    for text in part.strings:
        numbered.setdefault(text, len(numbered))
    for text in given[state.strings:]:
        numbered.setdefault(text, len(numbered))
    table.string_table = numbered
    table.unique_count = len(numbered)
    table.count += part.uses
    return [numbered[text] for text in given]
