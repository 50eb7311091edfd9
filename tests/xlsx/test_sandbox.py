import os
import signal
import time

from assess_xl.xlsx import sandbox


def square(x):
    return x * x


class Panic(BaseException):
    """Like pyo3's PanicException: not an Exception, so `except Exception` misses it."""


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot pickle")


def misbehave(x):
    if x == "abort":
        os.abort()
    if x == "panic":
        raise Panic("called `Option::unwrap()` on a `None` value")
    if x == "exit":
        raise SystemExit(3)
    if x == "hard-exit":
        os._exit(7)
    if x == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if x == "unpicklable":
        return Unpicklable("x")
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
    assert results[1] == sandbox.Failure("crash", "SIGABRT")
    assert results[3] == sandbox.Failure("timeout")
    assert results[4].kind == "error" and results[4].detail.startswith("ValueError")
    assert results[5] == sandbox.Failure("memory")


def test_whatever_a_child_raises_or_however_it_dies_is_that_items_verdict():
    items = ["a", "panic", "b", "exit", "hard-exit", "segfault", "unpicklable", "c"]
    results = sandbox.run_isolated(misbehave, items, workers=2, time_limit=20)
    assert results[0] == "A" and results[2] == "B" and results[7] == "C"
    assert results[1].kind == "error" and results[1].detail.startswith("Panic: called")
    assert results[3].kind == "error" and results[3].detail.startswith("SystemExit")
    assert results[4] == sandbox.Failure("crash", "exit 7")
    assert results[5] == sandbox.Failure("crash", "SIGSEGV")
    assert results[6].kind == "error" and "结果无法传回" in results[6].detail


def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def test_every_item_has_its_own_deadline_from_when_its_work_starts():
    """Items queued behind others are not charged for the wait; an item that overruns its own
    limit is stopped even when the run as a whole still has time (not limit × rounds)."""
    items = [1.0] * 6 + [6.0] + [1.0] * 3
    results = sandbox.run_isolated(sleep_for, items, workers=1, time_limit=3)
    assert results[6] == sandbox.Failure("timeout")
    assert [r for i, r in enumerate(results) if i != 6] == [1.0] * 9


def test_a_child_freezes_what_it_holds_from_the_server_and_collects_what_it_makes():
    """The reader's modules, loaded once by the fork server, are frozen in each child (no collection scans them);
    the child's own objects are collected as usual."""
    assert sandbox.run_isolated(eval, ['(__import__("gc").get_freeze_count() > 1000, __import__("gc").isenabled())']) == [
        (True, True)]


def test_empty():
    assert sandbox.run_isolated(square, []) == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" not in status.read()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read
        return False


def test_children_die_with_their_parent(tmp_path):
    """After the run is killed (SIGKILL), no reader child stays behind holding memory or the terminal."""
    import signal
    import subprocess
    import sys
    from pathlib import Path
    pids = [tmp_path / "a.pid", tmp_path / "b.pid"]
    script = ("import sys; from assess_xl.xlsx import sandbox; from helpers import write_pid_and_sleep; "
              f"sandbox.run_isolated(write_pid_and_sleep, {[str(p) for p in pids]!r}, workers=2, time_limit=600)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[1],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "TMPDIR": str(tmp_path)})  # a killed run cannot remove its pymp-*
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


def touch_and_return(path):
    with open(path, "w") as marker:
        marker.write("started")
    return path


def test_each_verdict_is_told_as_soon_as_it_is_known(tmp_path):
    """`each` hears of an item as soon as it comes back: before any item after the one its child already
    holds (sandbox.AHEAD items at a time) is started (one child); and of every item once, a child's death
    included."""
    items = [str(tmp_path / f"{n}.txt") for n in range(5)]
    heard = []

    def each(index, verdict):
        started = [os.path.exists(item) for item in items]
        heard.append((index, verdict, started))

    results = sandbox.run_isolated(touch_and_return, items, workers=1, each=each)
    assert results == items
    assert [index for index, _, _ in heard] == [0, 1, 2, 3, 4]
    assert [started[:index + 1] for index, _, started in heard] == [[True] * (n + 1) for n in range(5)]
    assert [any(started[index + sandbox.AHEAD:]) for index, _, started in heard] == [False] * 5
    told = []
    sandbox.run_isolated(misbehave, ["a", "abort", "b"], workers=1, each=lambda i, v: told.append((i, v)))
    assert [i for i, _ in told] == [0, 1, 2] and isinstance(told[1][1], sandbox.Failure) and told[2][1] == "B"


def test_items_waiting_behind_one_that_kills_its_child_are_read_by_another():
    """A child holds the next item while it works on one: when it dies or overruns, the item it holds
    is not blamed but read by a fresh child."""
    results = sandbox.run_isolated(misbehave, ["abort", "b", "hang", "c", "d", "e"], workers=1, time_limit=5)
    assert results == [sandbox.Failure("crash", "SIGABRT"), "B", sandbox.Failure("timeout"), "C", "D", "E"]


def append_to_log(item):
    log, name = item
    with open(log, "a") as handle:
        handle.write(name + "\n")
    return name


def test_items_are_handed_out_in_the_order_given_and_come_back_in_item_order(tmp_path):
    log = str(tmp_path / "started.txt")
    items = [(log, f"item{n}") for n in range(4)]
    with sandbox.isolation(append_to_log, workers=1) as run:
        results = run(items, None, [3, 1, 0, 2])
    assert results == ["item0", "item1", "item2", "item3"]
    assert open(log).read().split() == ["item3", "item1", "item0", "item2"]


def next_item(pool, child, queue):
    """The item the pool deals `child` next, taken from the queue as _deal takes it."""
    return pool._take(child, queue, pool._next_position(child, queue))


def test_items_of_one_kinship_go_to_the_child_given_the_first_while_others_can_be_given():
    """Kinship (e.g. files of one size, maybe copies of one file): a child is not given an item whose kin
    another child holds while an item without such kin is queued; when none is, it takes the first."""
    from collections import deque
    pool = sandbox._Pool(square, (), 60.0, sandbox.MEMORY_LIMIT)
    first, second = (sandbox._Child(None, None, ready=True) for _ in range(2))  # type: ignore[arg-type]
    pool.children = [first, second]
    pool.kinship = ["a", "a", "a", "b", "b", "c"]
    queue = deque(range(6))
    taken = [(name, next_item(pool, child, queue)) for name, child in
             [("first", first), ("second", second), ("first", first), ("second", second), ("first", first)]]
    assert taken == [("first", 0), ("second", 3), ("first", 1), ("second", 4), ("first", 2)]
    assert next_item(pool, second, queue) == 5  # kin of nobody's
    pool.kinship, queue = ["a", "a"], deque([0, 1])
    pool.kin = {"a": first}
    assert next_item(pool, second, queue) == 0  # only the first child's kin is left: taken all the same
    pool.children = [second]
    pool.kinship, queue, pool.kin = ["b", "c"], deque([0, 1]), {"b": first}
    assert next_item(pool, second, queue) == 0  # the kin of a child that is gone


def pid_when_children_at_work(item):
    """The child's pid, once `wanted` children have started on an item of this folder (or `seconds` have passed)."""
    folder, wanted, seconds = item
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + seconds
    while len(os.listdir(folder)) < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def test_a_busy_caller_keeps_a_core_and_gives_it_once_free(tmp_path):
    """While the caller says it is busy, one child fewer runs (here one of two: items waiting a while for a
    second child are all read by one); once it is no longer busy, the next items are read by two children
    (they wait for a second one to be at work)."""
    import threading
    busy = threading.Event()
    folders = [tmp_path / name for name in ("busy", "first", "free")]
    for folder in folders:
        folder.mkdir()
    busy.set()
    with sandbox.isolation(pid_when_children_at_work, workers=2, caller_busy=busy) as run:
        assert len(set(run([(str(folders[0]), 2, 0.5)] * 4))) == 1

    def free_after_first(index, _verdict):
        if index == 0:
            busy.clear()

    busy.set()
    with sandbox.isolation(pid_when_children_at_work, workers=2, caller_busy=busy) as run:
        results = run([(str(folders[1]), 1, 0)] + [(str(folders[2]), 2, 20)] * 5, free_after_first)
    assert len(set(results[1:])) == 2


def test_a_run_waits_on_one_poll_object_not_a_selector_per_look(monkeypatch):
    """multiprocessing's wait builds a selector and registers every handle at each call: the run keeps one poll
    object instead, and uses that wait only to stop its children (joining them), not once per item."""
    from multiprocessing import connection
    calls = []
    real_wait = connection.wait

    def counted(*args, **kwargs):
        calls.append(args)
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(connection, "wait", counted)
    monkeypatch.setattr(sandbox, "wait", counted)  # the sandbox's own name for it
    assert sandbox.run_isolated(square, list(range(60)), workers=2) == [x * x for x in range(60)]
    assert len(calls) <= 10, len(calls)  # one per item or more before


def test_where_there_is_no_poll_multiprocessings_wait_serves(monkeypatch):
    """Without select.poll (Windows), the run waits with multiprocessing's wait: results, deaths and overruns are
    each item's as before."""
    import select
    monkeypatch.delattr(select, "poll")
    results = sandbox.run_isolated(misbehave, ["a", "abort", "b", "hang", "c"] + ["d"] * 10, workers=2, time_limit=3)
    assert results == ["A", sandbox.Failure("crash", "SIGABRT"), "B", sandbox.Failure("timeout"), "C"] + ["D"] * 10


class Counted:
    """A context that counts how often the run pickles it."""
    pickled = 0

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        Counted.pickled += 1
        return Counted, (self.value,)


def add_context(item, context):
    return item + context.value


def test_the_context_is_pickled_once_for_all_the_children_of_a_run():
    """The context (a rulebook of 34 KB pickled) goes to every child: pickled once, not again at each start."""
    Counted.pickled = 0
    with sandbox.isolation(add_context, (Counted(10),), workers=2) as run:
        assert run([1, 2, 3, 4]) == [11, 12, 13, 14]
        assert run([5, 6]) == [15, 16]
    assert Counted.pickled == 1
