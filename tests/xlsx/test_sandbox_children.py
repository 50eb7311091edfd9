"""What a reader child costs: it must not load the command line (pandas, click, rich), which
multiprocessing would otherwise re-run in every child as __mp_main__, nor what only the main process needs
(numpy, yaml, xlsxwriter), nor import anything itself to read a workbook (the fork server loaded it once
for all children), and a run leaves no pymp-* folder behind. Seen from outside, through the
installed console script (tests/importlog.py)."""
import time

from helpers import write_forms
from importlog import imports_by_process, main_pid, run_logged

from assess_xl.rules import load as rulebook

def _ends(pid: int, seconds: float = 10.0) -> bool:
    """Whether the process is gone (or a zombie: ended, not yet reaped) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


HEAVY = {"pandas", "click", "rich", "assess_xl.cli", "numpy", "yaml", "xlsxwriter"}


def test_reader_children_load_only_the_reader_and_leave_no_temp_folder(tmp_path):
    book = rulebook.load()
    write_forms(book, ["一区", "二区"], tmp_path / "inbox")
    done, events = run_logged(tmp_path, "collect", tmp_path / "inbox", "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    main, imported = main_pid(events), imports_by_process(events)
    servers = {int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == main
               and "python_calamine" in imported.get(int(pid), set())}
    children = {int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) in servers}
    assert servers and children, events  # the run did start reader children, and they were seen
    assert HEAVY <= imported[main]  # the log does see the main process load the command line
    for pid in servers | children:
        assert not HEAVY & imported.get(pid, set()), (pid, sorted(HEAVY & imported[pid]))
    for pid in children:  # what reading a workbook needs was loaded once, by the fork server
        assert imported.get(pid, set()) == set(), (pid, sorted(imported[pid]))
    assert not list((tmp_path / "tmp").glob("pymp-*"))
    assert all(_ends(pid) for pid in servers | children)  # the console script leaves without teardown: they still go
    # Started before the heavy imports, in the main process's own order of events (when the server itself
    # gets to write its first line depends on the load of the machine, not on the code).
    spawned = [e for e in events if e[0] == "spawn" and int(e[1]) == main and int(e[2]) in servers]
    assert spawned and events.index(spawned[0]) < events.index(["import", str(main), "pandas"])


def test_the_console_script_starts_the_fork_server_only_for_commands_that_read(tmp_path):
    """`forms` reads no returned workbook: no fork server is started for it."""
    done, events = run_logged(tmp_path, "forms", "--districts", "一区,二区", "-o", tmp_path / "forms")
    assert done.returncode == 0, done.stderr
    main = main_pid(events)
    started = [pid for kind, pid, parent in events if kind == "start" and int(parent) == main]
    assert not started


def test_a_reading_run_starts_the_fork_server_and_no_resource_tracker(tmp_path):
    """multiprocessing's resource tracker (an interpreter of its own, for semaphores and shared memory the
    sandbox never makes) is not started: the only interpreter the run starts is the fork server, and the
    children it forks are the readers."""
    book = rulebook.load()
    write_forms(book, ["一区", "二区"], tmp_path / "inbox")
    done, events = run_logged(tmp_path, "collect", tmp_path / "inbox", "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    main, imported = main_pid(events), imports_by_process(events)
    started = [int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == main]
    spawned = [int(pid) for kind, spawner, pid in events if kind == "spawn" and int(spawner) == main]
    assert len(started) == 1 and spawned == started, events
    assert "python_calamine" in imported[started[0]]  # the fork server
