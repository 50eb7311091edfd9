"""Running a reader over untrusted inputs in child processes with memory and time limits, so that a
file that makes the parser abort (python-calamine can, on crafted files), hang or swallow memory
becomes a rejected file instead of a dead run. Also spreads the work over the machine's cores.

Children are forked from a fork server that holds only the reader, not from the main process as it is
by then: they do not inherit its memory, so a large run cannot make a child fail to start under its limit,
and starting them stays cheap. The console script forks that server from itself at its start, once it has
imported the reader and nothing else (start_early); otherwise it is a fresh interpreter loading the reader.
They die with the run (each child watches the process that started it; the fork server exits after its
last child), and hold neither its stdout nor its stderr. A child that cannot start at all is not blamed
on any file."""
from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.process
import functools
import itertools
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generic, Hashable, Iterator, NoReturn, TypeVar, cast

Item = TypeVar("Item")
Result = TypeVar("Result")

MEMORY_LIMIT = 2 * 1024 ** 3
TIME_LIMIT = 60.0  # per item, from when a child starts on it; ASSESS_XL_FILE_SECONDS sets another
STARTUP_LIMIT = 60.0  # for a child to start and load the reader
READY = "ready"
MAX_FAILED_STARTS = 3  # children that could not start before the machine, not a file, is blamed
# What the fork server loads once for all its children: the reader, its parser and what they import on first
# use (the mail reader and the email package's parser, the pre-flight's XML parser, a zip's cp437 names, a
# child's own set-up), so that a child imports nothing to read a workbook or a message; nothing else (no numpy,
# pandas, yaml or xlsxwriter; a child needing olefile for a legacy workbook imports it then). The run's own
# process, which hands the files out and takes back their reads, needs only the first of them (RUN_ALSO_NEEDS):
# a server forked from it loads the rest itself.
RUN_ALSO_NEEDS = ("assess_xl.read.form", "assess_xl.read.units", "assess_xl.xlsx.sandbox",
                  "multiprocessing.popen_forkserver")
PRELOAD = (*RUN_ALSO_NEEDS, "python_calamine", "assess_xl.read.mail", "email.parser", "html.entities",
           "encodings.cp437", "faulthandler", "resource")

_CONTEXT: tuple[Any, ...] = ()
_MAIN_HIDDEN = threading.RLock()  # one thread at a time hides __main__ (a run may read on a thread of its own)


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


def _context() -> multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext:
    """The fork server where there is one (Linux, macOS), else fresh interpreters."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    _no_resource_tracker()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _no_resource_tracker() -> None:
    """Keep multiprocessing from starting its resource tracker, one more interpreter (40 ms of CPU) beside the
    fork server, whose only work is to unlink the named semaphores and shared memory that a dead process
    leaves behind. The sandbox's processes create neither (they talk through pipes), and nothing else in
    assess-xl uses multiprocessing, so the tracker's pipe is /dev/null: multiprocessing, finding it open, takes
    the tracker for running. Where multiprocessing keeps its tracker otherwise, it starts one as usual."""
    from multiprocessing import resource_tracker
    tracker = getattr(resource_tracker, "_resource_tracker", None)
    if tracker is not None and getattr(tracker, "_fd", 0) is None:
        tracker._fd = os.open(os.devnull, os.O_WRONLY)


def start_early() -> None:
    """Start the fork server now, before this process imports the rest (the command line, pandas), so that the
    first child starts without waiting for it. Where multiprocessing's fork server is the one this code knows,
    the server is forked from this process once it has imported the reader, which it needs too (see
    _fork_server_here); otherwise it is started as a fresh interpreter that loads the reader on another core."""
    if _context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver
    if not _fork_server_here():
        with _main_not_reimported(None):
            forkserver.ensure_running()


_SERVER_MAIN = ["listener_fd", "alive_r", "preload", "main_path", "sys_path"]  # multiprocessing.forkserver.main's


def _fork_server_here() -> bool:
    """Make this process's fork server a fork of this process, taken after importing the part of the reader this
    process needs too (RUN_ALSO_NEEDS) and nothing else of the run; the server loads the rest of PRELOAD itself
    (the parser, the mail reader), on another core while this process goes on. It then holds what a fresh server
    would after loading the reader, without a second interpreter starting and importing the reader again (a tenth
    of a second of CPU). The server runs multiprocessing's own loop (forkserver.main) on a socket and an "alive"
    pipe set up as ensure_running sets them up, and is registered as this process's server. False, and nothing
    done, where that loop is not the one this code knows (another Python's), a server already runs, this process
    has other threads (forking one is unsafe) or the reader cannot be imported."""
    import importlib
    import inspect
    import socket
    from multiprocessing import connection, forkserver, util
    server: Any = forkserver._forkserver  # its state, as ensure_running keeps it
    if (list(inspect.signature(forkserver.main).parameters) != _SERVER_MAIN or server._forkserver_pid is not None
            or threading.active_count() > 1):
        return False
    try:
        for module in RUN_ALSO_NEEDS:
            importlib.import_module(module)
    except ImportError:
        return False
    with server._lock, socket.socket(socket.AF_UNIX) as listener:
        address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]  # not in typeshed
        listener.bind(address)
        if not util.is_abstract_socket_namespace(address):
            os.chmod(address, 0o600)
        listener.listen()
        alive_r, alive_w = os.pipe()  # the server ends once this run and its children have closed alive_w
        pid = os.fork()
        if pid == 0:
            _serve_forks(listener.fileno(), alive_r, alive_w)
        os.close(alive_r)
        server._forkserver_address, server._forkserver_alive_fd, server._forkserver_pid = address, alive_w, pid
    return True


def _serve_forks(listener: int, alive_r: int, alive_w: int) -> NoReturn:
    """The forked fork server: what its children need and the run does not loaded (multiprocessing's loop does it,
    as a fresh server's: what cannot be imported is reported by the child that needs it), then the loop until the
    run and its children are gone, then out without this process's exit handlers (they are the run's: its
    temporary folder, its children)."""
    import gc
    from multiprocessing import forkserver
    gc.enable()  # the run pauses the collector while it starts; the server and its readers collect as usual
    status = 0
    try:
        os.close(alive_w)
        forkserver.main(listener, alive_r, [module for module in PRELOAD if module not in RUN_ALSO_NEEDS])
    except SystemExit:  # the loop's end: no run or child is left
        pass
    except BaseException:  # noqa: B036  a fault of the server: its children's starts fail and are reported
        status = 1
    os._exit(status)


def _prepare_child(limit: int, context: bytes, run: int) -> None:
    """Load what the reader needs and the context (pickled once by the run for all its children), then limit
    memory; silence stdout/stderr (a parser that aborts prints its own panic, and the user reads our verdict
    instead)."""
    global _CONTEXT
    _die_with_run(run)
    _CONTEXT = pickle.loads(context)
    import importlib
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:  # reported by the task that needs it, as a worker failure
            pass
    import gc
    gc.freeze()  # what the child holds from the server (the reader's modules) is never garbage: no collection scans it
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


def _call(function: Callable[..., Result], item: Item) -> Result | Failure:
    """The item's result, or what went wrong as a Failure. Whatever the reader raises — including
    BaseException subclasses such as pyo3's PanicException, or SystemExit — is a verdict on the input."""
    try:
        return function(item, *_CONTEXT)
    except MemoryError:
        return Failure("memory")
    except ImportError as exc:  # the child's installation, not the file
        return Failure("worker", _describe(exc))
    except BaseException as exc:  # noqa: B036  any reader exception is a verdict on the input, returned as data
        return Failure("error", _describe(exc))


def _describe(exc: BaseException) -> str:
    """'Type: message' of an exception that may be hostile (its str() may itself raise)."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # noqa: B036
        text = type(exc).__name__
    return text[:300]


def _send(connection: Connection, index: int, result: object) -> None:
    """Return a result to the run; a result that cannot be pickled is a verdict, not a dead child."""
    try:
        message = pickle.dumps((index, result), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: B036  pickling runs arbitrary __reduce__ code
        message = pickle.dumps((index, Failure("error", "结果无法传回：" + _describe(exc))), pickle.HIGHEST_PROTOCOL)
    try:
        connection.send_bytes(message)
    except (BrokenPipeError, EOFError, ConnectionError):
        os._exit(1)  # the run is gone


def _serve(connection: Connection, function: Callable[..., object], limit: int, context: bytes, run: int) -> None:
    """A child: prepare, say it is ready, then run one item at a time until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle, not a verdict on a file
    _prepare_child(limit, context, run)
    connection.send(READY)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, item = message
        _send(connection, index, _call(function, item))


@contextmanager
def _main_not_reimported(function: Callable[..., object] | None) -> Iterator[None]:
    """Children must not re-import the parent's main module. multiprocessing runs it again as
    __mp_main__ in every child, by path (__main__.__file__, e.g. the `assess-xl` console script, which
    imports the command line, pandas, click and rich) or by name (__main__.__spec__, under `python -m`).
    Both are hidden while children start; they need only the reader, whose function is pickled by
    reference to its own module. Only a function defined in __main__ itself needs its main."""
    main = sys.modules.get("__main__")
    if main is None or getattr(function, "__module__", None) == "__main__":
        yield
        return
    with _MAIN_HIDDEN:
        hidden: dict[str, object] = {key: main.__dict__.pop(key) for key in ("__file__", "__spec__")
                                     if key in main.__dict__}
        main.__spec__ = None
        try:
            yield
        finally:
            main.__dict__.update(hidden)
            if "__spec__" not in hidden:
                del main.__spec__


def run_isolated(function: Callable[..., Result], items: list[Item], context: tuple[Any, ...] = (),
                 workers: int | None = None, time_limit: float | None = None,
                 memory_limit: int = MEMORY_LIMIT,
                 each: Callable[[int, Result | Failure], None] | None = None) -> list[Result | Failure]:
    """function(item, *context) for every item, each result or a Failure, in order. `function` must
    be a module-level function (it is pickled by reference); `context` is sent once per child. Each
    item has its own deadline, counted from when a child starts on it; a child that dies (signal,
    abort, exit) or overruns is that item's verdict, and a fresh child takes the next item. `each`
    (index, verdict) is told of every item as soon as its verdict is known, in the order they end."""
    if not items:
        return []
    with isolation(function, context, workers, time_limit, memory_limit) as run:
        return run(items, each)


@contextmanager
def isolation(function: Callable[..., Result], context: tuple[Any, ...] = (), workers: int | None = None,
              time_limit: float | None = None, memory_limit: int = MEMORY_LIMIT,
              caller_busy: threading.Event | None = None) -> Iterator[Callable[..., list[Result | Failure]]]:
    """One set of children for several batches: `run(items)` is run_isolated(function, items, ...), and the
    children it starts serve the next batch too (a fetch's batches, a read's rounds of containers) instead
    of a new set per batch; `run(items, each)` tells `each` of every verdict as run_isolated does;
    `run(items, each, order)` hands the items out in that order of their indexes (results stay in item
    order); `run(items, each, order, kinship)` hands items of equal kinship (e.g. files of one size, which may
    be copies of one file) to one child where the balance of the work allows (see _Pool._next_position). While
    `caller_busy` is set, the calling process is at work on a core of its own (the run importing pandas while
    the children read ahead): one child fewer runs then (one at least), so that the caller's core is not
    shared three ways, and more are started once it is cleared. The children go when the block ends."""
    pool: _Pool[Any, Result] = _Pool(function, context, time_limit or seconds_per_item(), memory_limit,
                                     caller_busy)

    def run(items: list[Any], each: Callable[[int, Result | Failure], None] | None = None,
            order: list[int] | None = None, kinship: list[Hashable] | None = None) -> list[Result | Failure]:
        if not items:
            return []
        return pool.run(items, max(1, min(workers or os.cpu_count() or 1, len(items))), each, order, kinship)

    try:
        yield run
    finally:
        pool.stop()


def seconds_per_item() -> float:
    """Seconds each item may take: ASSESS_XL_FILE_SECONDS when it is a positive number, else TIME_LIMIT."""
    try:
        seconds = float(os.environ.get("ASSESS_XL_FILE_SECONDS", ""))
    except ValueError:
        return TIME_LIMIT
    return seconds if 0 < seconds < 86_400 else TIME_LIMIT


AHEAD = 2  # items sent to a child at once: the one it works on and the next, so it never waits for the run
# Bytes of items a child holds beyond the one it works on: well within a pipe's buffer (about 200 KB on Linux), so that
# sending one never waits for the child, which reads its next item only once it has sent the result before it (a
# child busy on a hung item, or sending a large result, would otherwise hold the run in the send: no clock checked,
# or both waiting on each other). A larger item (a whole mail message to examine) is sent when the child is free.
AHEAD_BYTES = 32 * 1024
DEEP = 16  # items a child may hold while many are queued (_Pool._depth), so that its results can be left to gather
DEEP_FROM = 4  # a child may hold one item for every DEEP_FROM items queued per child (AHEAD at least, DEEP at most)
# Seconds the results are left to gather while every child holds GATHER_WHILE items or more: one look at several
# instead of one per result. A child's end is seen at once all the same; an item's clock, which starts when the
# result before it is taken, may start up to GATHER after that result came (a few milliseconds of a minute).
GATHER = 0.003
GATHER_WHILE = 6
BUSY_LOOK = 0.05  # seconds between looks at whether a busy caller has become free to give its core to a child
KIN_LOOKAHEAD = 64  # queued items looked at for one that no other child has kin of


@dataclass
class _Child:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    ready: bool = False
    sent: deque[int] = field(default_factory=deque)  # items sent, in order: it works on the first
    sizes: deque[int] = field(default_factory=deque)  # the bytes of each item sent, in the same order
    since: float = 0.0  # when it started, or started on its first item (when the item before came back)

    @property
    def handles(self) -> tuple[int, int]:
        """What the run waits on: its pipe (a message from it) and its sentinel (its end)."""
        return self.connection.fileno(), self.process.sentinel


class _Waiter:
    """Waiting for the children: a message on a pipe, a child's end or the nearest clock. One poll object serves
    the whole run where there is poll (multiprocessing.connection.wait builds a selector and registers every
    handle again at each wait); elsewhere (Windows' pipes are not sockets) multiprocessing's wait is used."""

    def __init__(self) -> None:
        self.poller = select.poll() if hasattr(select, "poll") else None
        self.ends = select.poll() if hasattr(select, "poll") else None  # the sentinels alone
        self.looks: dict[int, Any] = {}  # pipe → a poll object of its own, to look for a next message
        self.handles: dict[int, Connection | int] = {}  # for multiprocessing's wait: pipe → its connection, sentinels

    def add(self, child: _Child) -> None:
        pipe, sentinel = child.handles
        self.handles[pipe], self.handles[sentinel] = child.connection, sentinel
        if self.poller is not None and self.ends is not None:
            self.poller.register(pipe, select.POLLIN)
            self.poller.register(sentinel, select.POLLIN)
            self.ends.register(sentinel, select.POLLIN)
            self.looks[pipe] = select.poll()
            self.looks[pipe].register(pipe, select.POLLIN)

    def remove(self, child: _Child) -> None:
        pipe, sentinel = child.handles
        del self.handles[pipe], self.handles[sentinel]
        if self.poller is not None and self.ends is not None:
            self.poller.unregister(pipe)
            self.poller.unregister(sentinel)
            self.ends.unregister(sentinel)
            del self.looks[pipe]

    def wait(self, timeout: float) -> set[int]:
        """The handles (pipes, sentinels) that are ready, once one is or `timeout` seconds have passed."""
        if self.poller is not None:
            return {handle for handle, _ in self.poller.poll(timeout * 1000)}  # milliseconds, rounded up
        ready = wait(list(self.handles.values()), timeout=timeout)
        return {handle.fileno() if isinstance(handle, Connection) else cast(int, handle) for handle in ready}

    def has_message(self, child: _Child) -> bool:
        """Whether `child`'s pipe holds a message (a look with poll: Connection.poll builds a selector each time)."""
        look = self.looks.get(child.connection.fileno())
        return bool(look.poll(0)) if look is not None else child.connection.poll()

    def wait_for_an_end(self, timeout: float) -> bool:
        """Wait `timeout` seconds unless a child ends first (its sentinel): messages meanwhile are left to gather.
        True when one ended. Where there is no poll, nothing is waited for (False)."""
        if self.ends is None:
            return False
        return bool(self.ends.poll(timeout * 1000))


class _Pool(Generic[Item, Result]):
    """Children that each work on one item at a time, in the order sent (the next one already waiting
    for them); the parent keeps every item's clock: an item's starts when the one before it comes back."""

    def __init__(self, function: Callable[..., Result], context: tuple[Any, ...], time_limit: float,
                 memory_limit: int, caller_busy: threading.Event | None = None) -> None:
        self.function = function
        self.context = pickle.dumps(context, pickle.HIGHEST_PROTOCOL)  # once, not again for every child started
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.caller_busy = caller_busy
        self.children: list[_Child] = []
        self.failed_starts = 0  # children that died or hung before they were ready
        self.mp = _context()
        self.kinship: list[Hashable] | None = None  # of each item of the current run, when given
        self.kin: dict[Hashable, _Child] = {}  # kinship → the child last given an item of it
        self.waiter = _Waiter()
        self.arrived: list[int] = []  # items whose verdict came since `each` was last told

    def run(self, items: list[Item], workers: int, each: Callable[[int, Result | Failure], None] | None = None,
            order: list[int] | None = None, kinship: list[Hashable] | None = None) -> list[Result | Failure]:
        self.kinship, self.kin = kinship, {}
        results: list[Result | Failure | None] = [None] * len(items)
        queue = deque(range(len(items)) if order is None else order)
        self.arrived = []
        busy = 0
        while queue or busy:
            self._staff(min(self._usable(workers), len(queue) + busy))
            if not self.children or self.failed_starts >= MAX_FAILED_STARTS and not self._any_ready():
                for index in queue:  # no child can run at all: the machine's fault, not the files'
                    results[index] = Failure("worker", "子进程无法启动")
                self.arrived += queue
                break
            self._deal(items, queue)
            self._collect(results, queue, self._wait())
            self._tell(results, each)
            busy = sum(len(child.sent) for child in self.children)
        self._tell(results, each)
        return _filled(results)

    def _tell(self, results: list[Result | Failure | None], each: Callable[[int, Result | Failure], None] | None) -> None:
        """Tell `each` of the items whose verdict arrived since it was last told, in the order of their indexes."""
        arrived, self.arrived = sorted(self.arrived), []
        if each is None:
            return
        for index in arrived:
            verdict = results[index]
            assert verdict is not None
            each(index, verdict)

    def _deal(self, items: list[Item], queue: deque[int]) -> None:
        """An item to every ready child without one; then a next one to each, and more while many are queued
        (_depth), while more items wait than there are children (at the end of a run an item waits for
        whichever child is free first)."""
        for depth in range(1, self._depth(len(queue)) + 1):
            for child in self.children:
                if child.ready and len(child.sent) < depth and queue and (depth == 1 or len(queue) > len(self.children)):
                    position = self._next_position(child, queue)
                    message = pickle.dumps((queue[position], items[queue[position]]), pickle.HIGHEST_PROTOCOL)
                    if child.sent and sum(child.sizes) - child.sizes[0] + len(message) > AHEAD_BYTES:
                        continue  # it would fill the pipe while the child is busy: sent once the child is free
                    index = self._take(child, queue, position)
                    try:
                        child.connection.send_bytes(message)
                    except OSError:  # it died on the item it holds: its death is collected next, this item goes on
                        queue.appendleft(index)
                        continue
                    if not child.sent:
                        child.since = time.monotonic()
                    child.sent.append(index)
                    child.sizes.append(len(message))

    def _depth(self, queued: int) -> int:
        """How many items a child may hold: one for every DEEP_FROM queued per child, AHEAD at least, DEEP at most.
        Deep while many are left, its results can be left to gather (_wait) without the child running out of
        work; shallow near the end, so that no child is left with several items to read while another has none."""
        return max(AHEAD, min(DEEP, queued // (DEEP_FROM * max(1, len(self.children)))))

    def _next_position(self, child: _Child, queue: deque[int]) -> int:
        """Where in the queue the next item for `child` is: the first, unless another child still alive was
        given an item of its kinship; then the first of the next few that no other child has kin of (a
        child that has read one copy of a file knows the next copy), else the first all the same, so that
        no child waits while items are queued."""
        if self.kinship is not None:
            for position, index in enumerate(itertools.islice(queue, KIN_LOOKAHEAD)):
                holder = self.kin.get(self.kinship[index])
                if holder is None or holder is child or all(holder is not other for other in self.children):
                    return position
        return 0

    def _take(self, child: _Child, queue: deque[int], position: int) -> int:
        """The item at `position` of the queue, taken out of it for `child` (its kinship now `child`'s)."""
        index = queue[position]
        del queue[position]
        if self.kinship is not None:
            self.kin[self.kinship[index]] = child
        return index

    def _usable(self, workers: int) -> int:
        """How many children may run now: `workers`, one fewer (one at least) while the caller is busy."""
        return max(1, workers - 1) if self._caller_is_busy() else workers

    def _caller_is_busy(self) -> bool:
        return self.caller_busy is not None and self.caller_busy.is_set()

    def _any_ready(self) -> bool:
        return any(child.ready for child in self.children)

    def _staff(self, wanted: int) -> None:
        """Start children until `wanted` are alive (a failed start leaves fewer)."""
        while len(self.children) < wanted:
            ours, theirs = self.mp.Pipe()
            process = self.mp.Process(target=_serve, daemon=True,
                                      args=(theirs, self.function, self.memory_limit, self.context, os.getpid()))
            try:
                with _main_not_reimported(self.function):
                    process.start()
            except OSError:
                ours.close()
                return
            finally:
                theirs.close()
            self.children.append(_Child(process, ours, since=time.monotonic()))
            self.waiter.add(self.children[-1])

    def _wait(self) -> set[int]:
        """The pipes and sentinels that are ready, once one is or the nearest clock runs out. While every child
        holds several items (GATHER_WHILE), their results are first left to gather for GATHER seconds, unless
        a child ends meanwhile: one look at several results instead of one per result."""
        now = time.monotonic()
        limits = [child.since + (self.time_limit if child.ready else STARTUP_LIMIT) - now
                  for child in self.children if child.sent or not child.ready]  # idle ones have none
        if self._caller_is_busy():
            limits.append(BUSY_LOOK)  # a caller that becomes free gives its core to another child soon
        timeout = max(0.0, min(limits, default=1.0))
        if timeout > GATHER and all(len(child.sent) >= GATHER_WHILE for child in self.children):
            self.waiter.wait_for_an_end(GATHER)
            timeout = max(0.0, timeout - (time.monotonic() - now))
        return self.waiter.wait(timeout)

    def _collect(self, results: list[Result | Failure | None], queue: deque[int], ready: set[int]) -> None:
        """Take what children sent; a child that died or overran gives its item a verdict and goes (the
        items it had not started go back to the queue)."""
        for child in list(self.children):
            pipe, sentinel = child.handles
            if sentinel in ready or pipe in ready:  # all it sent; if it ended, taken before its end is judged
                while self._receive(child, results, functools.partial(self.waiter.has_message, child)):
                    pass
            if sentinel in ready and not child.process.is_alive():
                self._retire(child, results, queue, _death(child.process.exitcode))
            elif time.monotonic() - child.since > (self.time_limit if child.ready else STARTUP_LIMIT):
                if child.ready and not child.sent:
                    continue
                self._retire(child, results, queue, Failure("timeout") if child.ready else None)

    def _receive(self, child: _Child, results: list[Result | Failure | None],
                 sent: Callable[[], bool] = lambda: True) -> bool:
        """One message of `child`'s, when `sent()` says there is one (a ready pipe has one): True when one was taken."""
        try:
            if not sent():
                return False
            message = child.connection.recv()
        except (EOFError, OSError):
            return False
        if message == READY:
            child.ready, child.since = True, time.monotonic()
        elif child.sent and message[0] == child.sent[0]:
            self.arrived.append(child.sent[0])
            results[child.sent.popleft()], child.since = message[1], time.monotonic()
            child.sizes.popleft()
        return True

    def _retire(self, child: _Child, results: list[Result | Failure | None], queue: deque[int],
                verdict: Failure | None) -> None:
        if not child.ready:
            self.failed_starts += 1
        elif child.sent and verdict is not None:
            self.arrived.append(child.sent[0])
            results[child.sent.popleft()] = verdict
            child.sizes.popleft()
        queue.extendleft(reversed(child.sent))
        self.waiter.remove(child)
        child.process.kill()
        child.process.join(5)
        child.connection.close()
        self.children.remove(child)

    def stop(self) -> None:
        for child in self.children:
            try:
                child.connection.send(None)
            except OSError:
                pass
        for child in self.children:
            child.process.join(2)
            if child.process.is_alive():
                child.process.kill()
                child.process.join(5)
            self.waiter.remove(child)
            child.connection.close()
        self.children = []


def _filled(results: list[Result | Failure | None]) -> list[Result | Failure]:
    """The results once every item has one (a result, or a Failure put in its place)."""
    return cast("list[Result | Failure]", results)


def _death(exitcode: int | None) -> Failure:
    """How a child ended, as its item's verdict: killed by a signal (abort, segfault) or exited."""
    if exitcode is not None and exitcode < 0:
        try:
            return Failure("crash", signal.Signals(-exitcode).name)
        except ValueError:
            return Failure("crash", f"signal {-exitcode}")
    return Failure("crash", f"exit {exitcode}")
