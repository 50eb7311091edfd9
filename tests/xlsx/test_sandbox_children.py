"""What a reader child costs: it must not load the command line (pandas, click, rich), which
multiprocessing would otherwise re-run in every child as __mp_main__, nor what only the main process needs
(numpy, yaml, xlsxwriter), nor import anything itself to read a workbook (the fork server loaded it once
for all children), and a run leaves no pymp-* folder behind. Seen from outside, through the
installed console script (tests/importlog.py)."""
import subprocess
import sys
import time

from helpers import attachment, message, write_forms
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
    servers = fork_servers(events, main)
    children = {int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) in servers}
    assert servers and children, events  # the run did start reader children, and they were seen
    # the log does see the main process load the command line (PyYAML only where the rulebook's parse is not
    # kept yet: rules.parsed)
    assert HEAVY - {"yaml"} <= imported[main]
    server_made = made_at(events, main, servers)
    held_by_server = {what for kind, pid, what in events[:server_made] if kind == "import" and int(pid) == main}
    assert not HEAVY & held_by_server, sorted(HEAVY & held_by_server)  # not loaded before the server was forked
    for pid in servers | children:
        assert not HEAVY & imported.get(pid, set()), (pid, sorted(HEAVY & imported[pid]))
    for pid in children:  # what reading a workbook needs was loaded once, for the fork server
        assert imported.get(pid, set()) == set(), (pid, sorted(imported[pid]))
    assert not list((tmp_path / "tmp").glob("pymp-*"))
    assert all(_ends(pid) for pid in servers | children)  # the console script leaves without teardown: they still go
    assert server_made < events.index(["import", str(main), "pandas"])  # in the main process's own order


def made_at(events: list[list[str]], main: int, servers: set[int]) -> int:
    """Where in the log the main process made its first server (forked it, or spawned an interpreter)."""
    return events.index(next(e for e in events if e[0] in ("forked", "spawn") and int(e[1]) == main
                             and int(e[2]) in servers))


def fork_servers(events: list[list[str]], main: int) -> set[int]:
    """The processes the main process made that forked others: its fork servers."""
    made = {int(pid) for kind, pid, parent in events if kind in ("start", "fork") and int(parent) == main}
    return {pid for pid in made if any(kind == "fork" and int(parent) == pid for kind, _, parent in events)}


def test_the_console_script_starts_the_fork_server_only_for_commands_that_read(tmp_path):
    """`forms` reads no returned workbook: no fork server is started for it."""
    done, events = run_logged(tmp_path, "forms", "--districts", "一区,二区", "-o", tmp_path / "forms")
    assert done.returncode == 0, done.stderr
    main = main_pid(events)
    started = [pid for kind, pid, parent in events if kind == "start" and int(parent) == main]
    assert not started


def test_a_reading_run_forks_its_fork_server_and_starts_no_interpreter(tmp_path):
    """The fork server is a fork of the run, taken once it has imported the reader (not a second interpreter
    importing it again), and multiprocessing's resource tracker (an interpreter of its own, for semaphores and
    shared memory the sandbox never makes) is not started: the run starts no interpreter at all, and its
    only fork is the server, whose forks are the readers."""
    book = rulebook.load()
    write_forms(book, ["一区", "二区"], tmp_path / "inbox")
    done, events = run_logged(tmp_path, "collect", tmp_path / "inbox", "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    main = main_pid(events)
    started = [int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == main]
    spawned = [int(pid) for kind, spawner, pid in events if kind == "spawn" and int(spawner) == main]
    forked = [int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) == main]
    assert started == [] and spawned == [] and len(forked) == 1, events
    assert fork_servers(events, main) == set(forked)
    readers = {int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) == forked[0]}
    assert readers and not any(imports_by_process(events).get(pid) for pid in readers)  # the reader came with it


READER_ONLY = {"python_calamine", "assess_xl.read.mail", "email.message", "email.policy"}


def test_the_parser_and_the_mail_reader_are_loaded_by_the_server_not_the_run(tmp_path):
    """The run hands files out and takes their reads back: the server, forked from it, loads the parser and the
    mail reader itself; the readers import nothing, a message's attachment included."""
    book = rulebook.load()
    forms = write_forms(book, ["一区", "二区"], tmp_path / "inbox")
    mailed = forms.pop(sorted(forms)[0])
    disposition = 'attachment; filename="form.xlsx"'
    (tmp_path / "inbox" / "mail.eml").write_bytes(message([attachment(mailed.read_bytes(), disposition)]))
    mailed.unlink()
    done, events = run_logged(tmp_path, "collect", tmp_path / "inbox", "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    assert f"（已读取 {len(forms) + 1}）" in done.stdout  # the message's attachment too
    main, imported = main_pid(events), imports_by_process(events)
    servers = fork_servers(events, main)
    readers = {int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) in servers}
    assert not READER_ONLY & imported[main], sorted(READER_ONLY & imported[main])
    assert all(READER_ONLY <= imported[server] for server in servers)
    assert readers and not any(imported.get(pid) for pid in readers), [imported.get(pid) for pid in readers]


def test_readers_of_a_forked_server_collect_cycles_though_the_run_paused_it(tmp_path):
    """The console script pauses the cycle collector while it starts, and the fork server is forked then: the
    server and its readers turn it back on (a reader kept for many files would otherwise keep every cycle)."""
    script = ("import gc\nfrom multiprocessing import forkserver\nfrom assess_xl.xlsx import sandbox\n"
              "gc.disable()\nsandbox.start_early()\n"
              "print(forkserver._forkserver._forkserver_pid is not None, gc.isenabled(),\n"
              "      sandbox.run_isolated(eval, ['__import__(\"gc\").isenabled()']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.stdout.split() == ["True", "False", "[True]"], done.stderr
