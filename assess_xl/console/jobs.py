"""Long work (reading the inbox, making forms, publishing, replaying) runs in a thread, one job at a
time; its progress lines reach the page as server-sent events, and the last event says where to go."""
from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

from assess_xl import problems as P
from assess_xl.problems import Code

POLL_SECONDS = 0.2


class JobBusy(Exception):
    pass


@dataclass
class Job:
    id: str
    title: str
    then: str  # where the page goes when the job is done
    lines: list[str] = field(default_factory=list)
    done: bool = False
    failed: bool = False

    def say(self, line: str) -> None:
        self.lines.append(line)


Work = Callable[[Job], None]


class Jobs:
    def __init__(self) -> None:
        self.by_id: dict[str, Job] = {}
        self.running: Job | None = None
        self._guard = threading.Lock()

    def start(self, title: str, then: str, work: Work, on_error: Callable[[Exception], str]) -> Job:
        """Run `work` in a thread; a failure becomes the job's last line (never a dead console)."""
        with self._guard:
            if self.running is not None and not self.running.done:
                raise JobBusy(P.text(Code.CONSOLE_JOB_RUNNING, job=self.running.title))
            job = Job(secrets.token_hex(8), title, then)
            self.by_id[job.id] = job
            self.running = job

        def body() -> None:
            try:
                work(job)
            except Exception as exc:  # shown on the page; the message comes from the caller's mapping
                job.failed = True
                job.say(on_error(exc))
            finally:
                job.done = True

        threading.Thread(target=body, name=f"job-{title}", daemon=True).start()
        return job

    def wait(self, timeout: float = 600.0) -> None:
        """For tests and the benchmark: until the running job is done."""
        job, end = self.running, time.monotonic() + timeout
        while job is not None and not job.done:
            if time.monotonic() > end:
                raise TimeoutError(job.title)
            time.sleep(0.05)


async def events(job: Job) -> AsyncIterator[str]:
    """Server-sent events: each new line as `data:`, then `event: done` with the next address."""
    sent = 0
    while True:
        finished = job.done
        while sent < len(job.lines):
            yield f"data: {job.lines[sent].replace(chr(10), ' ')}\n\n"
            sent += 1
        if finished:
            yield f"event: done\ndata: {job.then if not job.failed else ''}\n\n"
            return
        await asyncio.sleep(POLL_SECONDS)
