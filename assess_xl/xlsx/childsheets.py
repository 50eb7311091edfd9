"""Some sheets of a workbook written on the machine's other core: a forked child writes the cells of the
first sheets of a run of sheets and assembles their XML while this process writes the rest, and the
workbook comes out byte for byte as if one process had written every sheet in order.

Two things a workbook numbers in the order sheets are written are put right when the child's part comes
back: shared strings (a text gets its number when it is first written; the child's sheets come first, so
the child's numbers stand, and the texts this process wrote since the fork are numbered again after the
child's new ones) and cell formats (a format gets its number when a sheet's XML first uses it, so the
sheets written before the fork are assembled, as copies, to number theirs before it; the child then
assembles its own, and this process takes the numbers it gave). A child that fails, dies or sends
something that does not fit raises ChildFailed: the caller then writes the workbook again in one process.
The child dies with this process; nothing is written to disk (a pipe carries its part).

While the child works, `join()` assembles this process's sheets that come after the child's (it would
otherwise do so alone once the child's part is in): their cell formats numbered on from those of the sheets
before the fork, which stands when the child's sheets use no other format (else they are assembled again
when the workbook is saved, as before), and each text first written since the fork marked in the XML until
the child's part says which number it takes."""
from __future__ import annotations

import copy
import os
import pickle
import re
import signal
import select
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from xlsxwriter.worksheet import Worksheet

from assess_xl.xlsx.deflate import deflated
from assess_xl.xlsx.sandbox import _die_with_run
from assess_xl.xlsx import textwidths
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


_MARKED = re.compile(rb"<v><(\d+)>")  # a shared string's number left to fill in (`<` is never data in XML)


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
    first: int  # the index of the child's first sheet
    format_indices: dict[str, int]  # the cell formats numbered: key → number
    format_numbers: list[int | None]  # each cell format's number (xf_index)


@dataclass(frozen=True)
class _Early:
    """This process's sheets after the child's, assembled while the child worked, their cell formats numbered
    on from those the sheets before the child's use (which stands if the child's sheets use no other)."""
    sheets: list[HouseWorksheet]
    xml: list[list[bytes]]  # each sheet's XML split at its marks: text, a mark's number, text, …


def can_fork() -> bool:
    """Fork available and two cores for this process. Other threads may run (the terminal's progress, the
    console's server): the child takes no lock another thread could hold (it writes nothing but its pipe,
    logs nothing, and the house worksheet caches nothing behind a lock) and leaves with os._exit."""
    return hasattr(os, "fork") and usable_cores() > 1


LOADAVG = "/proc/loadavg"  # Linux: its fourth field is "ready to run/all" scheduling entities
LOOKS = 3  # looks at the count of processes ready to run, a moment apart: one that shows a core idle is enough


def other_core_idle() -> bool:
    """Whether a core besides this process's is idle now, as far as the system says: fewer tasks ready to
    run (this one among them) than the machine has cores, at one of a few looks a moment apart. On a machine
    whose cores are all busy a child takes CPU from this process and adds what forking costs (at 100
    districts under load 3-4: 8 % more CPU and wall for the whole collect). Where the system does not say
    (no /proc/loadavg), a core is taken to be idle."""
    cores = os.cpu_count() or 1
    for look in range(LOOKS):
        ready = _tasks_ready()
        if ready is None or ready < cores:
            return True
        if look + 1 < LOOKS:
            time.sleep(0.0005)
    return False


def _tasks_ready() -> int | None:
    try:
        with open(LOADAVG, encoding="ascii") as file:
            return int(file.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


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
        """Takes the child's part in; every sheet must have been written by now (this process's sheets after
        the child's are assembled here, while the child finishes)."""
        if self.pid is None:
            return
        early = _assemble_early(self.workbook, self._state(), len(self.theirs))
        data, status = self._received()
        if status != 0 or not data:
            raise ChildFailed(f"status {status}")
        try:
            part = pickle.loads(data)
        except Exception as exc:  # a cut-off message
            raise ChildFailed(repr(exc)) from exc
        if isinstance(part, str):
            raise ChildFailed(part)
        _take(self.workbook, part, self.theirs, self._state(), early)

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
    0 (or no second core, or none idle) nothing is forked and `mine` is every item."""
    theirs = int(len(items) * share) if share and can_fork() and not workbook.constant_memory else 0
    if theirs and not other_core_idle():
        theirs = 0
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
    _number_earlier_formats(workbook, theirs[0][1].index)
    table = workbook.str_table
    state = _State(table.unique_count, table.count, len(workbook.formats), len(workbook.xf_format_indices),
                   len(workbook.dxf_format_indices), len(workbook.worksheets()), theirs[0][1].index,
                   dict(workbook.xf_format_indices), [f.xf_index for f in workbook.formats])
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
        textwidths.save()  # what this child measured, for the next run (os._exit skips the exit handlers)
        with open(pipe, "wb") as out:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    finally:
        os._exit(status)


def _part(workbook: MemoryWorkbook, sheets: list[Worksheet], state: _State) -> _Part:
    _check_self_contained(workbook, sheets, state)
    xml = [deflated(sheet_xml(sheet)) for sheet in sheets]  # compressed here, on the core this process frees
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
        if not _self_contained(sheet):
            raise ValueError(f"sheet {sheet.name} holds parts outside its XML")


def _self_contained(sheet: Worksheet) -> bool:
    """A sheet whose XML is the same assembled now or when the workbook is saved."""
    return isinstance(sheet, HouseWorksheet) and not sheet.is_chartsheet and not sheet.constant_memory and not any(
        getattr(sheet, name, None) for name in ATTACHED)


def _number_earlier_formats(workbook: MemoryWorkbook, first: int) -> None:
    """The cell formats the sheets before the `first` use numbered, as saving the sheets in order numbers them
    (before the fork: the child's sheets and this process's later ones number theirs after them). Each is
    assembled as a copy: assembling changes a sheet (its selections, its count of relations), and these
    sheets are assembled again when the workbook is saved."""
    for earlier in workbook.worksheets()[:first]:
        sheet_xml(_copy_to_assemble(earlier))


def _copy_to_assemble(sheet: Worksheet) -> Worksheet:
    """A copy of `sheet` that assembling changes instead of it (its lists, dicts and sets copied too); the
    cell formats are the sheet's own, so assembling the copy numbers them."""
    copied = copy.copy(sheet)
    copied.__dict__.update({name: copy.copy(value) for name, value in vars(sheet).items()
                            if isinstance(value, (list, dict, set))})
    return copied


def _assemble_early(workbook: MemoryWorkbook, state: _State, child_sheets: int) -> _Early | None:
    """This process's sheets after the child's, as many in a row as are self-contained, assembled with each
    text first written since the fork marked (`<v><n>`), its number being known once the child's are in
    (None when there are none)."""
    sheets = []
    for sheet in workbook.worksheets()[state.first + child_sheets:]:
        if not _self_contained(sheet) or workbook.vba_project:
            break
        sheets.append(sheet)
    if not sheets:
        return None
    marks: list[int | str] = [*range(state.strings), *(f"<{n}>" for n in range(state.strings, workbook.str_table.unique_count))]
    xml = []
    for sheet in sheets:
        sheet.renumber_strings(marks)
        xml.append(_MARKED.split(sheet_xml(sheet)))
    return _Early(sheets, xml)


def _take(workbook: MemoryWorkbook, part: _Part, theirs: list[Worksheet], state: _State, early: _Early | None) -> None:
    """The child's part into the workbook: its strings before those this process wrote since the fork,
    its numbering of formats, its sheets' attributes and XML, and the numbers of the strings marked in the
    sheets assembled early. When the child numbered formats of its own, the sheets assembled early are
    assembled again when the workbook is saved."""
    if any(sheet.table for sheet in theirs):
        raise ChildFailed("this process wrote into the child's sheets")
    if early is not None and part.format_keys != state.format_indices:
        _numbered_as_at_fork(workbook, state)
        early = None
    if early is None:
        _take_format_numbers(workbook, part, state)
    numbers = _strings_after(workbook, part, state)
    for sheet in workbook.worksheets():
        if sheet not in theirs and isinstance(sheet, HouseWorksheet):
            sheet.renumber_strings(numbers)
    for sheet, (carried, xml) in zip(theirs, part.sheets):
        for name, value in carried.items():
            setattr(sheet, name, value)
        sheet.assembled = xml
    if early is not None:
        _fill_marks(early, numbers)


def _numbered_as_at_fork(workbook: MemoryWorkbook, state: _State) -> None:
    """The cell formats' numbers put back as they were at the fork (this process numbered some since)."""
    workbook.xf_format_indices.clear()
    workbook.xf_format_indices.update(state.format_indices)
    for cell_format, number in zip(workbook.formats, state.format_numbers):
        cell_format.xf_index = number


def _take_format_numbers(workbook: MemoryWorkbook, part: _Part, state: _State) -> None:
    if len(workbook.xf_format_indices) != state.format_keys:
        raise ChildFailed("this process numbered formats the child numbers")
    workbook.xf_format_indices.clear()
    workbook.xf_format_indices.update(part.format_keys)
    for position, number in part.format_numbers:
        workbook.formats[position].xf_index = number


def _fill_marks(early: _Early, numbers: list[int]) -> None:
    """The sheets assembled early, their marked strings numbered: their XML is final, their cells are dropped."""
    for sheet, pieces in zip(early.sheets, early.xml):
        pieces[1::2] = [b"<v>%d" % numbers[int(mark)] for mark in pieces[1::2]]
        sheet.assembled = b"".join(pieces)
        sheet.table.clear()


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
