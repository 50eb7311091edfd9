"""Running a parser over untrusted inputs in child processes with memory and time limits, so that
a file that makes the parser abort (python-calamine can, on crafted files) or hang becomes a
rejected file instead of a dead run. Also spreads the work over the machine's cores."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

MEMORY_LIMIT = 2 * 1024 ** 3
TIME_LIMIT = 60.0


@dataclass(frozen=True)
class Failure:
    """Why a child could not return a result: 'crash', 'timeout' or 'error' (with the exception's name)."""
    kind: str
    detail: str = ""


def _prepare_child(limit: int) -> None:
    """Limit the child's memory and silence its stderr: a parser that aborts prints its own
    panic there, and the user reads our verdict instead."""
    try:
        import faulthandler
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        pass
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on every platform; the time limit still holds
        pass


def _call(function, item):
    try:
        return function(item)
    except MemoryError:
        return Failure("memory")
    except Exception as exc:  # any parser exception is a verdict on the input, returned as data
        return Failure("error", f"{type(exc).__name__}: {exc}"[:300])


def run_isolated(function: Callable, items: list, workers: int | None = None,
                 time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> list:
    """function(item) for every item, each result or a Failure, in order. `function` must be a
    module-level function (it is pickled by reference)."""
    if not items:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    results = _run_pool(function, items, list(range(len(items))), workers, time_limit, memory_limit)
    # A crash or timeout breaks the whole pool: run the affected items alone to find the culprit.
    for index in [i for i, r in enumerate(results) if isinstance(r, Failure) and r.kind in ("broken", "pending")]:
        results[index] = _run_pool(function, items, [index], 1, time_limit, memory_limit)[index]
        if isinstance(results[index], Failure) and results[index].kind in ("broken", "pending"):
            results[index] = Failure("crash" if results[index].kind == "broken" else "timeout")
    return results


def _run_pool(function, items, indices, workers, time_limit, memory_limit) -> list:
    results: list = [None] * len(items)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_prepare_child,
                               initargs=(memory_limit,))
    futures = {pool.submit(_call, function, items[i]): i for i in indices}
    done, pending = wait(futures, timeout=time_limit * max(1, len(indices) / workers))
    for future in done:
        try:
            results[futures[future]] = future.result()
        except BrokenProcessPool:
            results[futures[future]] = Failure("broken")
    for future in pending:
        results[futures[future]] = Failure("pending")
    if pending:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
    pool.shutdown(wait=not pending, cancel_futures=True)
    return results
