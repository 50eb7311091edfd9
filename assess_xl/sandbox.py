"""Running a reader over untrusted inputs in child processes with memory and time limits, so that a
file that makes the parser abort (python-calamine can, on crafted files), hang or swallow memory
becomes a rejected file instead of a dead run. Also spreads the work over the machine's cores.

Children are forked from a fork server that was started fresh with only the reader loaded, not from
the main process: they do not inherit its memory, so a large run cannot make a child fail to start
under its limit, and starting them stays cheap. They die with the run (each child watches the process
that started it; the fork server exits after its last child), and hold neither its stdout nor its
stderr. A child that cannot start at all is not blamed on any file."""
from __future__ import annotations

import multiprocessing
import os
import sys
from contextlib import contextmanager
import time
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

MEMORY_LIMIT = 2 * 1024 ** 3
TIME_LIMIT = 60.0
PRELOAD = ("python_calamine", "olefile", "numpy", "yaml", "assess_xl.readback")

_CONTEXT: tuple = ()


@dataclass(frozen=True)
class Failure:
    """Why a child could not return a result: 'crash', 'timeout', 'memory', 'error' (with the
    exception's name) — verdicts on the input — or 'worker': no child could run, a fault of the machine."""
    kind: str
    detail: str = ""


def _die_with_run(run: int) -> None:
    """Exit as soon as the process that started the run is gone (even by SIGKILL). The fork server
    is a child's parent and is kept alive by its children, so the child watches the run itself:
    a pidfd becomes readable when that process ends (Linux); elsewhere it is polled."""
    import threading

    def watch() -> None:
        try:
            import select
            handle = os.pidfd_open(run)
            select.select([handle], [], [])
        except (AttributeError, OSError):
            while True:
                try:
                    os.kill(run, 0)
                except ProcessLookupError:
                    break
                time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _context():
    """The fork server where there is one (Linux, macOS), else fresh interpreters."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _prepare_child(limit: int, context: tuple, run: int) -> None:
    """Load what the reader needs, then limit memory; silence stdout/stderr (a parser that aborts
    prints its own panic, and the user reads our verdict instead)."""
    global _CONTEXT
    _die_with_run(run)
    _CONTEXT = context
    import importlib
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:  # reported by the task that needs it, as a worker failure
            pass
    try:
        import faulthandler
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
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
        return function(item, *_CONTEXT)
    except MemoryError:
        return Failure("memory")
    except ImportError as exc:  # the child's installation, not the file
        return Failure("worker", f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # any reader exception is a verdict on the input, returned as data
        return Failure("error", f"{type(exc).__name__}: {exc}"[:300])


@contextmanager
def _main_not_reimported():
    """Children re-import the parent's main script by path; a main read from stdin or a notebook has
    no such file, so it is hidden while the children start (they need only the reader)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or os.path.exists(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def probe(item, *context) -> str:
    """A task that any healthy child completes: tells a broken machine from a broken file."""
    return "ok"


def run_isolated(function: Callable, items: list, context: tuple = (), workers: int | None = None,
                 time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> list:
    """function(item, *context) for every item, each result or a Failure, in order. `function` must
    be a module-level function (it is pickled by reference); `context` is sent once per child."""
    if not items:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    limits = (time_limit, memory_limit, context)
    results = _run_pool(function, items, list(range(len(items))), workers, *limits)
    # A crash or timeout breaks the whole pool: run the affected items alone to find the culprit.
    for index in [i for i, r in enumerate(results) if isinstance(r, Failure) and r.kind in ("broken", "pending")]:
        results[index] = _run_pool(function, items, [index], 1, *limits)[index]
        if isinstance(results[index], Failure) and results[index].kind in ("broken", "pending"):
            results[index] = Failure("crash" if results[index].kind == "broken" else "timeout")
    if any(isinstance(r, Failure) and r.kind == "crash" for r in results):
        healthy = _run_pool(probe, [None], [0], 1, *limits)[0] == "ok"
        if not healthy:
            results = [Failure("worker", "子进程无法启动") if isinstance(r, Failure) and r.kind == "crash" else r
                       for r in results]
    return results


def _run_pool(function, items, indices, workers, time_limit, memory_limit, context) -> list:
    results: list = [None] * len(items)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_prepare_child,
                               initargs=(memory_limit, context, os.getpid()))
    try:
        with _main_not_reimported():
            futures = {pool.submit(_call, function, items[i]): i for i in indices}
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        return [Failure("broken") if i in indices else None for i in range(len(items))]
    rounds = -(-len(indices) // workers)
    done, pending = wait(futures, timeout=time_limit * rounds + 10)
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
