"""Wall, CPU and peak memory of a command counting EVERY process it starts, including those it never
waits for (a fork server and its children, which outlive or escape the command's own accounting).

    python3 benchmarks/counted.py -- assess-xl collect inbox -o out.xlsx

This process makes itself a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER), so descendants
orphaned by their parents are re-parented to it; it reaps every one of them, and the kernel then adds
each reaped process's CPU (with that of the processes it reaped) to this process's RUSAGE_CHILDREN.
Prints one JSON line: wall (until the command exits), wall_all (until its last descendant is gone),
cpu = user + sys over all processes, peak_mb (the largest single process), exit status."""
from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def run_counted(command: list[str], **popen) -> dict:
    """Run `command` to completion and reap all its descendants; figures over all of them."""
    become_subreaper()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    main = subprocess.Popen(command, **popen)
    exit_status, wall = None, None
    while True:
        try:
            pid, status, _ = os.wait3(0)
        except ChildProcessError:
            break
        if pid == main.pid:
            exit_status, wall = os.waitstatus_to_exitcode(status), time.perf_counter() - started
            main.returncode = exit_status
    wall_all = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"wall": round(wall or wall_all, 3), "wall_all": round(wall_all, 3), "cpu": round(user + system, 3),
            "user": round(user, 3), "sys": round(system, 3), "peak_mb": round(after.ru_maxrss / 1024, 1),
            "exit": exit_status}


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    figures = run_counted(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
