import os
import time

from assess_xl import sandbox


def square(x):
    return x * x


def misbehave(x):
    if x == "abort":
        os.abort()
    if x == "hang":
        time.sleep(30)
    if x == "raise":
        raise ValueError("bad input")
    if x == "memory":
        return bytearray(4 * 1024 ** 3)
    return x.upper()


def test_results_in_order():
    assert sandbox.run_isolated(square, list(range(20)), workers=2) == [x * x for x in range(20)]


def test_each_failure_is_attributed_to_its_item():
    started = time.perf_counter()
    results = sandbox.run_isolated(misbehave, ["a", "abort", "b", "hang", "raise", "memory", "c"], workers=2,
                                   time_limit=2, memory_limit=1024 ** 3)
    assert time.perf_counter() - started < 60
    assert results[0] == "A" and results[2] == "B" and results[6] == "C"
    assert results[1] == sandbox.Failure("crash")
    assert results[3] == sandbox.Failure("timeout")
    assert results[4].kind == "error" and results[4].detail.startswith("ValueError")
    assert results[5] == sandbox.Failure("memory")


def test_empty():
    assert sandbox.run_isolated(square, []) == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" not in status.read()
    except FileNotFoundError:
        return False


def test_children_die_with_their_parent(tmp_path):
    """After the run is killed (SIGKILL), no reader child stays behind holding memory or the terminal."""
    import signal
    import subprocess
    import sys
    from pathlib import Path
    pids = [tmp_path / "a.pid", tmp_path / "b.pid"]
    script = ("import sys; from assess_xl import sandbox; from helpers import write_pid_and_sleep; "
              f"sandbox.run_isolated(write_pid_and_sleep, {[str(p) for p in pids]!r}, workers=2, time_limit=600)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not all(p.exists() and p.read_text() for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    children = [int(p.read_text()) for p in pids]
    assert all(_alive(pid) for pid in children)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 20
    while any(_alive(pid) for pid in children) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def test_a_child_that_cannot_import_is_a_worker_failure():
    from helpers import cannot_import
    (result,) = sandbox.run_isolated(cannot_import, [("x", "x")], (None,))
    assert result.kind == "worker"
