"""Every process of a run and every module each imports, seen from outside through the installed console
script: a sitecustomize on PYTHONPATH logs, in every process, its start, each process forked and each module
imported (an audit hook; at a normal exit also every module loaded), each change to its environment
(os.putenv, os.unsetenv) with the number of threads it had then, and which process spawned the fork server. On request (run_logged's `opened_under`, `hold`) it also logs every file opened under a folder, and
holds the console script's own process at the start of one import until other processes have opened every file
in that folder (or 20 s have passed): what happened before that import then comes first in the log. A fork
is logged twice: by the child (fork) and by the parent (forked), each in its own order of events."""
from __future__ import annotations

import os

from helpers import assess_xl

WATCHER = '''
import os, sys
_LOG = os.environ["IMPORT_LOG"]

def _write(line):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(line + "\\n")

_write(f"start {os.getpid()} {os.getppid()}")
os.register_at_fork(after_in_child=lambda: _write(f"fork {os.getpid()} {os.getppid()}"))

_OPENED_UNDER = os.environ.get("IMPORT_LOG_OPENED_UNDER")
_HOLD = os.environ.get("IMPORT_LOG_HOLD") if os.getppid() == int(os.environ.get("IMPORT_LOG_TEST_PID", "0")) else None


def _opened_by_others():
    with open(_LOG, encoding="utf-8") as log:
        return {line.rstrip("\\n").split(" ", 2)[2] for line in log
                if line.startswith("open ") and line.split(" ", 2)[1] != str(os.getpid())}


def _hold_until_others_open_all():
    import time
    deadline = time.monotonic() + 20
    wanted = {os.path.join(_OPENED_UNDER, name) for name in os.listdir(_OPENED_UNDER)}
    while not wanted <= _opened_by_others() and time.monotonic() < deadline:
        time.sleep(0.02)


def _hook(event, args):
    global _HOLD
    if event == "import":
        if args[0] == _HOLD:
            _HOLD = None
            _hold_until_others_open_all()
        _write(f"import {os.getpid()} {args[0]}")
    elif event in ("os.putenv", "os.unsetenv"):  # with how many threads the process has as it changes
        _write(f"environ {os.getpid()} {len(sys._current_frames())} {os.fsdecode(args[0])}")
    elif event == "open" and _OPENED_UNDER and isinstance(args[0], str) and args[0].startswith(_OPENED_UNDER):
        _write(f"open {os.getpid()} {args[0]}")

sys.addaudithook(_hook)


def _loaded():  # what importlib.import_module loaded, which raises no audit event; registered first, runs last
    with open(_LOG, "a", encoding="utf-8") as log:
        log.writelines(f"loaded {os.getpid()} {name}\\n" for name in list(sys.modules))


import atexit
atexit.register(_loaded)

import multiprocessing.util as _util  # the fork server is spawned through it: the spawning process logs when
_spawn = _util.spawnv_passfds


def _logged_spawn(path, args, passfds):
    pid = _spawn(path, args, passfds)
    _write(f"spawn {os.getpid()} {pid}")
    return pid


_util.spawnv_passfds = _logged_spawn

_fork = os.fork


def _logged_fork():
    pid = _fork()
    if pid:
        _write(f"forked {os.getpid()} {pid}")
    return pid


os.fork = _logged_fork
'''


def run_logged(tmp_path, *args, opened_under=None, hold=None):
    """The console script run with the watcher, its temporary files in tmp_path/tmp: what it did, and the
    log's events as [kind, pid, what] (kinds: start, fork, forked, import, loaded, spawn, environ: threads and name; open for files opened under
    the folder `opened_under`). With `hold` (a module), the console script's process waits at the start of
    importing it until other processes have opened every file in the folder `opened_under`."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(WATCHER, encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "imports.log"
    optional = {"IMPORT_LOG_OPENED_UNDER": str(opened_under) if opened_under else None, "IMPORT_LOG_HOLD": hold,
                "IMPORT_LOG_TEST_PID": str(os.getpid()) if hold else None}
    path = os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")]))
    done = assess_xl(*args, env={"PYTHONPATH": path, "IMPORT_LOG": str(log),
                                 "TMPDIR": str(tmp_path / "tmp"),
                                 **{name: value for name, value in optional.items() if value is not None}})
    events = [line.split(" ", 2) for line in log.read_text(encoding="utf-8").splitlines()]
    return done, events


def main_pid(events: list[list[str]]) -> int:
    """The console script's process: the one started by the test itself."""
    return next(int(pid) for kind, pid, parent in events if kind == "start" and int(parent) == os.getpid())


def imports_by_process(events: list[list[str]]) -> dict[int, set[str]]:
    imported: dict[int, set[str]] = {}
    for kind, pid, what in events:
        if kind in ("import", "loaded"):
            imported.setdefault(int(pid), set()).add(what)
    return imported
