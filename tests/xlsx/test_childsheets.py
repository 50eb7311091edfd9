"""Sheets written by a forked child (xlsx.childsheets): the same bytes as one process, a failing child
reported (never a wrong workbook), and nothing left behind."""
import os
import signal
import tempfile
import time
from datetime import datetime

import pytest

from assess_xl.xlsx import childsheets, style
from assess_xl.xlsx.deflate import Deflated
from assess_xl.xlsx.style import MemoryWorkbook, styles
from helpers import gone



@pytest.fixture
def two_cores(monkeypatch):
    """Fork and two cores, one of them taken to be idle whatever the machine is doing meanwhile."""
    if not childsheets.can_fork():
        pytest.skip("needs fork, two cores and no other thread in this process")
    monkeypatch.setattr(childsheets, "other_core_idle", lambda: True)


def sheet_texts(n: int) -> list[str]:
    """Texts of sheet n: some every sheet shares, some only this sheet has, one shared by neighbours."""
    return ["共有的标题", f"只在第{n}张", f"第{n // 2}对", "共有的说明"]


def write_sheet(ws, n: int, look) -> None:
    for row, text in enumerate(sheet_texts(n)):
        ws.write_string(row, 0, text, look["text"])
        ws.write_number(row, 1, n + row / 4, look["score"])
    ws.write_string(5, 0, f"格式只在第{n}张用过", look["missing"] if n == 1 else look["warn"] if n == 4 else look["plain"])
    ws.write_row_cells(6, 0, [("一行", look["header"]), (n, look["int"]), ("无格式", None)])
    ws.write_string(7, 0, f"无格式的第{n}张")  # a text new to each sheet, without a format (xlsxwriter's own loop)
    ws.write_rich_string(8, 0, "甲", look["warn"], f"乙{n}", look["text"], look["center"])
    ws.set_row(6, 30)
    ws.set_column(0, 0, 20)
    ws.print_area(0, 0, 6, 2)
    ws.repeat_rows(0, 1)
    if n == 2:
        ws.hide()


def formats_only_here(ws, n: int, look) -> None:
    """write_sheet, the formats used by one sheet only being used by sheets 4 and 5 (this process's at 0.5)."""
    write_sheet(ws, {1: 5, 4: 1, 5: 4}.get(n, n), look)


def workbook_bytes(share: float, write=write_sheet, inside=None) -> tuple[bytes, int | None]:
    """A first sheet, six sheets split between a child (`share` of them) and this process, and a sheet
    after them; returns the bytes and the child's pid (None when none was forked)."""
    workbook = MemoryWorkbook()
    workbook.set_properties({"created": datetime(2008, 1, 5)})
    look = styles(workbook)
    first = workbook.add_worksheet("首页")
    first.write_string(0, 0, "共有的标题", look["title"])
    first.freeze_panes(1, 1)  # assembling a sheet with panes changes it (its selections)
    items = [(n, workbook.add_worksheet(f"第{n}张")) for n in range(6)]

    def write_items(pairs):
        for n, ws in pairs:
            write(ws, n, look)

    with childsheets.written_beside(workbook, items, write_items, share) as beside:
        pid = beside.pid
        write_items(beside.mine)
        if inside is not None:
            inside(beside)
        last = workbook.add_worksheet("末页")
        last.write_string(0, 0, "共有的说明", look["text"])
        last.write_string(1, 0, "只在末页", look["hint"])
        beside.join()
        return workbook.content(), pid


@pytest.mark.parametrize("share", [0.2, 0.5, 0.99])
def test_same_bytes_as_one_process(share, two_cores):
    alone, none = workbook_bytes(0.0)
    split, pid = workbook_bytes(share)
    assert none is None and pid is not None
    assert split == alone


def assembled_early(beside) -> list[bool]:
    """After join(): which of this process's sheets after the child's have their XML already."""
    sheets = beside.workbook.worksheets()
    after = sheets.index(beside.theirs[-1]) + 1
    return [sheet.assembled is not None for sheet in sheets[after:]]


def test_this_process_assembles_its_sheets_while_the_child_works(two_cores):
    """The formats first used by this process's sheets numbered on from those before the fork, the texts it
    wrote since the fork (with and without a format, a rich string) numbered after the child's."""
    seen = []
    split, pid = workbook_bytes(0.5, formats_only_here, inside=lambda beside: seen.append(beside))
    alone, _ = workbook_bytes(0.0, formats_only_here)
    assert pid is not None and split == alone
    assert assembled_early(seen[0]) == [True, True, True]


def test_sheets_assembled_again_when_the_child_used_a_format_of_its_own(two_cores):
    seen = []
    split, pid = workbook_bytes(0.5, inside=lambda beside: seen.append(beside))
    assert pid is not None and split == workbook_bytes(0.0)[0]
    assert assembled_early(seen[0]) == [False, False, False]


def test_child_sheets_come_deflated_and_save_on_one_core_too(monkeypatch, two_cores):
    """The child's sheets come back deflated; a workbook saved without the deflating thread (one core by
    then) writes them inflated, the same bytes."""
    seen = []

    def one_core_from_now(beside):
        seen.append(beside)
        monkeypatch.setattr(style, "usable_cores", lambda: 1)

    split, pid = workbook_bytes(0.5, formats_only_here, inside=one_core_from_now)
    assert pid is not None and all(isinstance(sheet.assembled, Deflated) for sheet in seen[0].theirs)
    monkeypatch.undo()
    assert split == workbook_bytes(0.0, formats_only_here)[0]


def failing(ws, n, look):
    if os.getpid() != PARENT:
        raise RuntimeError("坏了")
    write_sheet(ws, n, look)


def dying(ws, n, look):
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    write_sheet(ws, n, look)


PARENT = os.getpid()


@pytest.mark.parametrize("write, reason", [(failing, "RuntimeError: 坏了"), (dying, "status -9")])
def test_a_failed_child_is_reported_and_gone(write, reason, tmp_path, monkeypatch, two_cores):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pids = []
    with pytest.raises(childsheets.ChildFailed, match=reason):
        workbook_bytes(0.5, write, inside=lambda beside: pids.append(beside.pid))
    assert pids and pids[0] is not None  # the failure surfaced at join, after this process wrote its part
    assert gone(pids[0])
    assert list(tmp_path.iterdir()) == []


def test_child_ended_when_this_process_fails(tmp_path, monkeypatch, two_cores):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pids = []

    def fail_here(beside):
        pids.append(beside.pid)
        raise KeyError("这边出错")

    with pytest.raises(KeyError):
        workbook_bytes(0.5, inside=fail_here)
    assert pids and pids[0] is not None and gone(pids[0])
    assert list(tmp_path.iterdir()) == []


def test_no_child_when_no_core_is_idle(monkeypatch, two_cores):
    monkeypatch.setattr(childsheets, "other_core_idle", lambda: False)
    content, pid = workbook_bytes(0.5)
    assert pid is None
    assert content == workbook_bytes(0.0)[0]


@pytest.mark.parametrize("loadavg, cores, idle", [
    ("0.10 0.20 0.30 1/345 999\n", 2, True),  # only this process ready to run
    ("1.90 1.80 1.70 2/345 999\n", 2, False),  # another one too: no core left
    ("3.90 3.80 3.70 5/345 999\n", 8, True),  # a larger machine with cores to spare
    ("garbage", 2, True), (None, 2, True)])  # unreadable or missing: taken to be idle
def test_an_idle_core_is_one_the_ready_tasks_leave(loadavg, cores, idle, tmp_path, monkeypatch):
    path = tmp_path / "loadavg"
    if loadavg is not None:
        path.write_text(loadavg, encoding="ascii")
    monkeypatch.setattr(childsheets, "LOADAVG", str(path))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert childsheets.other_core_idle() is idle


def test_no_child_on_one_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    content, pid = workbook_bytes(0.5)
    assert pid is None
    monkeypatch.undo()
    assert content == workbook_bytes(0.0)[0]


def hanging(ws, n, look):
    if os.getpid() != PARENT:
        time.sleep(600)
    write_sheet(ws, n, look)


def test_a_hanging_child_is_ended_at_its_deadline(monkeypatch, two_cores):
    monkeypatch.setattr(childsheets, "CHILD_SECONDS", 1.0)
    pids = []
    started = time.monotonic()
    with pytest.raises(childsheets.ChildFailed, match="status -1"):
        workbook_bytes(0.5, hanging, inside=lambda beside: pids.append(beside.pid))
    assert time.monotonic() - started < 30 and pids and gone(pids[0])
