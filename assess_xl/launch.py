"""The `assess-xl` console script. Before the command line's imports (pandas, click, rich: about half a
second), a command that reads returned workbooks starts the reader's fork server, which loads the reader on
another core meanwhile. Everything else is in cli.py.

When a command has finished (it exits through SystemExit with a status, and no other thread is left to
wait for), the process leaves without the interpreter's teardown, which frees every object of pandas,
numpy and the results one by one (about a tenth of a second of CPU, for nothing: the process is about
to end). What must happen at exit still does (see _leave_now). Every file a command writes is closed by
then (files.write_file and the year's lock use `with`)."""
from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn

READING_COMMANDS = frozenset({"collect", "status", "returns"})
BLAS_THREADS = "OPENBLAS_NUM_THREADS"
BLAS_MAIN_FREE = "OPENBLAS_MAIN_FREE"


def command_name(arguments: list[str]) -> str | None:
    """The command word: the first argument that is not an option (the group's options take no value)."""
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def main() -> None:
    gc.disable()  # the start-up's imports make many objects and no garbage: a collection would only scan them
    one_blas_thread()
    numpy_leaves_the_environment_alone()
    if command_name(sys.argv[1:]) in READING_COMMANDS:
        from assess_xl.xlsx import sandbox
        sandbox.start_early()
    from assess_xl.cli import main as command_line
    gc.freeze()  # what the imports made stays: the collections to come need not scan it
    gc.enable()
    try:
        command_line()
    except SystemExit as done:
        if not isinstance(done.code, (int, type(None))) or _other_threads_running():
            raise
        _leave_now(done.code or 0)


def one_blas_thread() -> None:
    """Have numpy's OpenBLAS start no threads of its own, unless the user chose a number: at import it starts one
    per core, each with its own buffers (numpy's import took 0.20 s of wall and 0.14 s of CPU with them on two
    cores, 0.10 s and 0.09 s without), and they spin on the other core while the reader children work there.
    assess-xl does no linear algebra, the one thing those threads are for. Read by OpenBLAS when it loads."""
    os.environ.setdefault(BLAS_THREADS, "1")


def numpy_leaves_the_environment_alone() -> None:
    """Set OPENBLAS_MAIN_FREE=1 (unless set), as numpy's import sets it while it loads OpenBLAS (which then
    leaves the main thread's CPU affinity alone) and unsets it after: numpy, finding it set, changes nothing.
    Its change came in the middle of collect's pandas import, with other threads running, one of them inside
    libfontconfig (printfit.find_fonts_ahead), which reads the environment some 200 times as it loads its
    configuration (getenv). glibc's setenv may move the environment's array and free the old one under a getenv
    on another thread, which then reads freed memory: a segfault, rarely (seen once in about 1,200 collects on
    two busy cores: the fonts' thread in getenv for libexpat, reading the array numpy's setenv had just moved
    from, while the main thread loaded numpy's core). Set here, while this process has one thread; it stays set
    for the processes the run starts (the reader children and LibreOffice load no OpenBLAS)."""
    os.environ.setdefault(BLAS_MAIN_FREE, "1")


def _other_threads_running() -> bool:
    """Whether a thread other than this one would still be waited for at exit (a daemon thread is not)."""
    import threading
    return any(not thread.daemon for thread in threading.enumerate() if thread is not threading.current_thread())


def _leave_now(status: int) -> NoReturn:
    """End the process with `status` as a normal exit would, minus the interpreter's teardown: the exit
    handlers run (multiprocessing's ends the reader children and removes its pymp-* folder; tempfile's
    folders are removed), stdout and stderr are flushed, then the process ends."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said there
            pass
    os._exit(status)
