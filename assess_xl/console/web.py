"""What every page and action shares: rendering a template with the common context, redirects,
downloads, and starting a job."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable
from importlib import resources
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from assess_xl.pipeline import CollectResult
from assess_xl.publish.mailing import FORMS
from assess_xl.yearwork import Board
from assess_xl.rules.model import Rulebook, RulebookError
from .jobs import Job, JobBusy
from .state import Console

PAGES = (("settings", "设置"), ("forms", "填报表"), ("inbox", "收件"), ("status", "进度"), ("problems", "问题"),
         ("adjust", "调整"), ("results", "结果"), ("publish", "发布"), ("rules", "细则"))

_TEMPLATES = Jinja2Templates(directory=str(resources.files("assess_xl.console").joinpath("templates")))


def render(request: Request, name: str, context: dict, status_code: int = 200, keep_flashes: bool = False) -> Response:
    """The page with the common context; messages are shown once (a progress page leaves them for the next)."""
    console: Console = request.app.state.console
    flashes = list(console.flashes) if keep_flashes else console.take_flashes()
    page = {"console": console, "year": console.year, "csrf": console.keys.csrf, "pages": PAGES,
            "flashes": flashes, "here": request.url.path, **context}
    return _TEMPLATES.TemplateResponse(request, name, page, status_code=status_code)


def back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def download(content: bytes, name: str, media_type: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


def job_page(request: Request, job: Job) -> Response:
    return back(f"/jobs/{job.id}")


def start_or_show(request: Request, title: str, then: str, work) -> Response:
    """Start a job and show its progress; when another runs, show that one."""
    console: Console = request.app.state.console
    try:
        job = console.start(title, then, work)
    except JobBusy as busy:
        console.flash(str(busy), "warn")
        running = console.jobs.running
        return back(f"/jobs/{running.id}" if running else then)
    return job_page(request, job)




def current_run(request: Request) -> CollectResult | Response:
    """The year's run while it holds, else its progress page (reading starts when nobody else runs)."""
    console: Console = request.app.state.console
    if console.year is None:
        return back("/start")
    result = console.run()
    if result is not None:
        return result
    running = console.jobs.running
    if running is not None and not running.done:
        return back(f"/jobs/{running.id}")
    return start_or_show(request, "读取收件箱", request.url.path, console.refresh)


def the_book(request: Request) -> Rulebook | Response:
    """The year's rulebook; one that cannot be used sends the coordinator to 设置 with the reasons."""
    console: Console = request.app.state.console
    if console.year is None:
        return back("/start")
    try:
        return console.book()
    except RulebookError as exc:
        console.flash(exc.line, "error")
        return back("/settings")


Endpoint = Callable[[Request], Awaitable[Response]]


def needs(book: bool = False, run: bool = False) -> Callable[[Callable[..., Any]], Endpoint]:
    """An endpoint of an open year: without one, the start page; with `book`, the year's rulebook (or
    设置 with the reasons); with `run`, also its current run (or the progress page of reading it). The
    handler is called as handler(request, console[, book[, result]]); a plain function in a thread."""
    def wrap(handler: Callable[..., Any]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            console: Console = request.app.state.console
            if console.year is None:
                return back("/start")
            given: list[object] = [console]
            for wanted, get in ((book or run, the_book), (run, current_run)):
                if wanted:
                    found = get(request)
                    if isinstance(found, Response):
                        return found
                    given.append(found)
            answer: Response
            if inspect.iscoroutinefunction(handler):
                answer = await handler(request, *given)
            else:
                answer = await run_in_threadpool(handler, request, *given)
            return answer
        return endpoint
    return wrap


def owing(asked: str, board: Board) -> list[str]:
    """The department asked for when it owes something ([] when it does not); all that owe when none is asked."""
    return [asked] if asked in board.owing else ([] if asked else board.owing)


def run_for_mail(request: Request, kind: str) -> CollectResult | Response | None:
    """Reminders and return copies are made from the year's run (or its progress page); forms need none."""
    return None if kind == FORMS else current_run(request)


def mail_departments(kind: str, asked: str, console: Console, book: Rulebook,
                     result: CollectResult | None) -> list[str] | None:
    """Who a reminder or return copy goes to (`owing`); None (everyone concerned) for forms or before any return."""
    if result is None or not result.read.districts:
        return None
    return owing(asked, console.board(book, result))
