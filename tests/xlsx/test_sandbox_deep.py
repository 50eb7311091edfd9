"""Children dealt several items at once while many are queued (sandbox._Pool._depth), and their results left to
gather for a moment while every child holds several (sandbox.GATHER): each item keeps its own verdict, a child's
death or overrun blames only the item it was reading, and the items it held but had not started are read by
another child."""
import os
import signal
import time

from assess_xl.xlsx import sandbox


def square(x):
    return x * x


def misbehave(x):
    if x == "abort":
        os.abort()
    if x == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if x == "hard-exit":
        os._exit(7)
    if x == "hang":
        time.sleep(30)
    return x.upper()


def deepest_dealt(monkeypatch) -> list[int]:
    """The most items any child held after each deal of the runs to come."""
    held: list[int] = []
    deal = sandbox._Pool._deal

    def counted(self, items, queue):
        deal(self, items, queue)
        held.append(max((len(child.sent) for child in self.children), default=0))

    monkeypatch.setattr(sandbox._Pool, "_deal", counted)
    return held


def test_a_child_holding_many_items_that_dies_blames_only_the_one_it_was_reading(monkeypatch):
    held = deepest_dealt(monkeypatch)
    items = ["a"] * 200
    items[20], items[45], items[46] = "abort", "segfault", "hard-exit"
    results = sandbox.run_isolated(misbehave, items, workers=2)
    assert max(held) == sandbox.DEEP > sandbox.AHEAD
    assert results[20] == sandbox.Failure("crash", "SIGABRT")
    assert results[45] == sandbox.Failure("crash", "SIGSEGV")
    assert results[46] == sandbox.Failure("crash", "exit 7")
    assert [r for i, r in enumerate(results) if i not in (20, 45, 46)] == ["A"] * 197


def test_a_child_holding_many_items_that_hangs_gives_only_that_item_a_timeout(monkeypatch):
    held = deepest_dealt(monkeypatch)
    items = ["a"] * 80
    items[10] = "hang"
    started = time.monotonic()
    results = sandbox.run_isolated(misbehave, items, workers=1, time_limit=2)
    assert max(held) == sandbox.DEEP
    assert time.monotonic() - started < 20
    assert results[10] == sandbox.Failure("timeout")
    assert [r for i, r in enumerate(results) if i != 10] == ["A"] * 79


def test_each_verdict_is_told_once_in_a_deep_run():
    told: list[int] = []
    assert sandbox.run_isolated(square, list(range(200)), workers=2, each=lambda i, _: told.append(i)) == [
        x * x for x in range(200)]
    assert sorted(told) == list(range(200))


def test_children_hold_more_items_while_many_are_queued_and_two_near_the_end():
    pool = sandbox._Pool(square, (), 60.0, sandbox.MEMORY_LIMIT)
    pool.children = [sandbox._Child(None, None, ready=True) for _ in range(2)]  # type: ignore[arg-type]
    assert [pool._depth(queued) for queued in (500, 128, 64, 40, 24, 15, 8, 1, 0)] == [16, 16, 8, 5, 3, 2, 2, 2, 2]


class Waiter:
    def __init__(self):
        self.gathered: list[float] = []

    def wait_for_an_end(self, timeout):
        self.gathered.append(timeout)
        return False

    def wait(self, timeout):
        return set()


def test_results_gather_only_while_every_child_holds_several_items():
    pool = sandbox._Pool(square, (), 60.0, sandbox.MEMORY_LIMIT)
    first, second = (sandbox._Child(None, None, ready=True, since=time.monotonic()) for _ in range(2))  # type: ignore[arg-type]
    pool.children, pool.waiter = [first, second], Waiter()  # type: ignore[assignment]
    first.sent.extend(range(sandbox.GATHER_WHILE))
    second.sent.extend(range(sandbox.GATHER_WHILE - 1))
    pool._wait()
    assert pool.waiter.gathered == []  # type: ignore[attr-defined]
    second.sent.append(99)
    pool._wait()
    assert pool.waiter.gathered == [sandbox.GATHER]  # type: ignore[attr-defined]
    first.since = second.since = time.monotonic() - 60.0 + sandbox.GATHER / 2  # a deadline nearer than a gathering
    pool._wait()
    assert pool.waiter.gathered == [sandbox.GATHER]  # type: ignore[attr-defined]


def big_result(item):
    """A result of 5 MB for an item of 30 KB (or a hang): larger both ways than a pipe holds."""
    if item.startswith("hang"):
        time.sleep(30)
    return item[:1] * (5 * 1024 * 1024)


def within(seconds, function, *args, **kwargs):
    """function(*args, **kwargs) on a thread of its own, failing the test instead of hanging it when it does not end
    within `seconds` (a run held in a send to a child never would)."""
    import threading
    out = []
    thread = threading.Thread(target=lambda: out.append(function(*args, **kwargs)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"still running after {seconds} s"
    return out[0]


def test_large_items_and_large_results_are_not_dealt_into_a_full_pipe(monkeypatch):
    """Items of 30 KB are not dealt ahead past AHEAD_BYTES: a child sending a 5 MB result while the run sends it more
    items would leave both waiting on each other (a pipe holds about 200 KB)."""
    held = deepest_dealt(monkeypatch)
    items = [chr(ord("a") + n % 26) * 30_000 for n in range(40)]
    results = within(60, sandbox.run_isolated, big_result, items, workers=1, time_limit=20)
    assert [r[:1] * len(r) == r and len(r) == 5 * 1024 * 1024 and r[:1] == item[:1]
            for r, item in zip(results, items)] == [True] * 40
    assert max(held) == 2  # the one it works on and one of 30 KB (within AHEAD_BYTES), not DEEP


def test_a_hung_item_among_large_ones_is_timed_out():
    """A child hung on its item with large items queued: the run is not held in a send to it, and the item's clock
    runs out as it would among small ones."""
    items = ["hang" + "x" * 30_000] + ["a" * 30_000] * 39
    results = within(20, sandbox.run_isolated, big_result, items, workers=1, time_limit=2)
    assert results[0] == sandbox.Failure("timeout")
    assert all(r == "a" * (5 * 1024 * 1024) for r in results[1:])


def test_an_item_larger_than_ahead_bytes_is_sent_only_to_a_free_child(monkeypatch):
    held = deepest_dealt(monkeypatch)
    items = ["b" * (sandbox.AHEAD_BYTES + 1)] * 12
    assert sandbox.run_isolated(len, items, workers=1) == [sandbox.AHEAD_BYTES + 1] * 12
    assert max(held) == 1
