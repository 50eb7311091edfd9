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
