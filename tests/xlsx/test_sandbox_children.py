"""What a reader child costs: it must not load the command line (pandas, click, rich), which
multiprocessing would otherwise re-run in every child as __mp_main__, nor what only the main process needs
(numpy, yaml, xlsxwriter), and a run leaves no pymp-* folder behind. Seen from outside, through the installed console script: a sitecustomize on PYTHONPATH logs,
in every process of the run, each process forked and each module imported."""
import os

from helpers import assess_xl, write_forms

from assess_xl.rules import load as rulebook

WATCHER = '''
import os, sys
_LOG = os.environ["IMPORT_LOG"]

def _write(line):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(line + "\\n")

_write(f"start {os.getpid()} {os.getppid()}")
os.register_at_fork(after_in_child=lambda: _write(f"fork {os.getpid()} {os.getppid()}"))

def _hook(event, args):
    if event == "import":
        _write(f"import {os.getpid()} {args[0]}")

sys.addaudithook(_hook)

import multiprocessing.util as _util  # the fork server is spawned through it: the spawning process logs when
_spawn = _util.spawnv_passfds


def _logged_spawn(path, args, passfds):
    pid = _spawn(path, args, passfds)
    _write(f"spawn {os.getpid()} {pid}")
    return pid


_util.spawnv_passfds = _logged_spawn
'''
HEAVY = {"pandas", "click", "rich", "assess_xl.cli", "numpy", "yaml", "xlsxwriter"}


def _run_logged(tmp_path, *args):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(WATCHER, encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "imports.log"
    done = assess_xl(*args, env={"PYTHONPATH": str(tmp_path / "site"), "IMPORT_LOG": str(log),
                                 "TMPDIR": str(tmp_path / "tmp")})
    events = [line.split(" ", 2) for line in log.read_text(encoding="utf-8").splitlines()]
    return done, events


def test_reader_children_load_only_the_reader_and_leave_no_temp_folder(tmp_path):
    book = rulebook.load()
    write_forms(book, ["一区", "二区"], tmp_path / "inbox")
    done, events = _run_logged(tmp_path, "collect", tmp_path / "inbox", "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    main = next(int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == os.getpid())
    imported: dict[int, set[str]] = {}
    for kind, pid, what in events:
        if kind == "import":
            imported.setdefault(int(pid), set()).add(what)
    servers = {int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == main
               and "python_calamine" in imported.get(int(pid), set())}
    children = {int(pid) for kind, pid, parent in events if kind == "fork" and int(parent) in servers}
    assert servers and children, events  # the run did start reader children, and they were seen
    assert HEAVY <= imported[main]  # the log does see the main process load the command line
    for pid in servers | children:
        assert not HEAVY & imported.get(pid, set()), (pid, sorted(HEAVY & imported[pid]))
    assert not list((tmp_path / "tmp").glob("pymp-*"))
    # Started before the heavy imports, in the main process's own order of events (when the server itself
    # gets to write its first line depends on the load of the machine, not on the code).
    spawned = [e for e in events if e[0] == "spawn" and int(e[1]) == main and int(e[2]) in servers]
    assert spawned and events.index(spawned[0]) < events.index(["import", str(main), "pandas"])


def test_the_console_script_starts_the_fork_server_only_for_commands_that_read(tmp_path):
    """`forms` reads no returned workbook: no fork server is started for it."""
    done, events = _run_logged(tmp_path, "forms", "--districts", "一区,二区", "-o", tmp_path / "forms")
    assert done.returncode == 0, done.stderr
    main = next(int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == os.getpid())
    started = [pid for kind, pid, parent in events if kind == "start" and int(parent) == main]
    assert not started
