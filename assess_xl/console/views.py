"""The pages (GET): each gathers what the library says and renders one template. Nothing here changes
a file."""
from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from assess_xl.problems import Code
from assess_xl.publish import delivery, mailing, outbox
from assess_xl.publish import documents as publish_module
from assess_xl.publish import scorecard as report
from assess_xl.rules import model as rulebook_module
from assess_xl import year as year_module
from assess_xl import yearwork
from assess_xl.pipeline import CollectResult, Outcome
from assess_xl.rules.model import Rulebook
from assess_xl import problems as P
from assess_xl.problems import ERROR, INFO, WARNING
from assess_xl.year import YearError
from .state import Console
from .web import back, mail_departments, needs, render, run_for_mail

PROBLEM_ROWS_SHOWN = 500


def home(request: Request) -> Response:
    return back("/status" if request.app.state.console.year is not None else "/start")


def no_icon(request: Request) -> Response:
    return Response(status_code=204)


def start(request: Request) -> Response:
    suggestion = Path.cwd() / "考核年度"
    return render(request, "start.html", {"title": "开始", "recent": year_module.recent(),
                                          "suggestion": str(suggestion)})


@needs()
def settings(request: Request, console: Console) -> Response:
    year = console.the_year()
    values, setting_problems = year.settings()
    context = {"title": "设置", "settings": values, "problems": [p.message for p in setting_problems],
               "districts": "\n".join(year.districts() or []), "rulebook_file": year.rulebook_path,
               "book": None, "book_errors": [], "contacts": [], "contact_problems": []}
    try:
        book = console.book()
    except rulebook_module.RulebookError as exc:
        context["book_errors"] = exc.messages
        return render(request, "settings.html", context)
    context.update(book=book, figures=rulebook_module.summary(book))
    contacts, contact_problems = _contacts(year, book)
    context["contact_problems"] = contact_problems
    context["contacts"] = [(d, contacts[d].person, "; ".join(m.written() for m in contacts[d].mailboxes))
                           if d in contacts else (d, "", "") for d in book.departments]
    return render(request, "settings.html", context)


def _contacts(year, book) -> tuple[dict, list[P.Problem]]:
    if not year.contacts_path.is_file():
        return {}, []
    try:
        return year_module.read_contacts(year.contacts_path, book)
    except YearError as exc:
        return {}, list(exc.problems)


@needs()
def forms(request: Request, console: Console) -> Response:
    year = console.the_year()
    return render(request, "forms.html", {"title": "填报表", "files": year.listing("forms"),
                                          "districts": year.districts() or [], "log": _send_log(year)})


@needs(run=True)
def inbox(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    return render(request, "inbox.html", {"title": "收件", "sources": report.source_rows(result.read),
                                          "settings": console.the_year().settings()[0],
                                          "limits": (yearwork.UPLOAD_FILE_LIMIT_MB, yearwork.UPLOAD_COUNT_LIMIT,
                                                     yearwork.UPLOAD_TOTAL_LIMIT_MB)})


@needs(run=True)
def status(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    board = console.board(book, result) if result.read.districts else None
    return render(request, "status.html", {"title": "进度", "board": board, "states": yearwork.BOARD_STATES,
                                           "result": result})


@needs(run=True)
def problems(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    chosen = {key: request.query_params.get(key, "") for key in ("department", "district", "level")}
    rows = [(p, book.department_of(p)) for p in result.read.problems]
    shown = [(p, d) for p, d in rows if (not chosen["department"] or d == chosen["department"])
             and (not chosen["district"] or p.district == chosen["district"])
             and (not chosen["level"] or p.level == chosen["level"])]
    context = {"title": "问题", "rows": shown[:PROBLEM_ROWS_SHOWN], "matched": len(shown), "total": len(rows),
               "chosen": chosen, "departments": [d for d in book.departments if book.department_indicators(d)],
               "districts": result.read.districts, "levels": (ERROR, WARNING, INFO)}
    template = "problems_table.html" if request.headers.get("hx-request") else "problems.html"
    return render(request, template, context)


@needs(run=True)
def adjust(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    year = console.the_year()
    rows = yearwork.adjustment_rows(year)
    return render(request, "adjust.html", {"title": "调整", "rows": rows, "book": book,
                                           "districts": year.districts() or result.read.districts,
                                           "files": [f.info.name for f in result.read.files],
                                           "applied": result.read.adjustments})


@needs(run=True)
def results(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    return render(request, "results.html", {"title": "结果", "result": result, "book": book,
                                            "written": result.outcome is Outcome.WRITTEN})


@needs(run=True)
def district(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    name = request.path_params["name"]
    reported = console.reported(book, result)
    if result.scores is None or name not in result.scores.districts:
        return render(request, "missing.html", {"title": "没有这个区", "name": name}, status_code=404)
    return render(request, "district.html", {"title": name, "district": name, "result": result, "book": book,
                                             "page": yearwork.district_page(book, result, name, reported)})


SEND_LOG_ROWS_SHOWN = 200


@needs(book=True)
def mail(request: Request, console: Console, book: Rulebook) -> Response:
    """What one kind of mail would send (to one department or all concerned), what the send log already
    holds, and the choice: drafts into 发件箱/ or SMTP with the password asked now."""
    kind = request.path_params["kind"]
    if kind not in mailing.KIND_NAMES:
        return render(request, "missing.html", {"title": "没有这个页面", "name": kind}, status_code=404)
    result = run_for_mail(request, kind)
    if isinstance(result, Response):
        return result
    year = console.the_year()
    department = request.query_params.get("department", "")
    context = {"title": f"发送{mailing.KIND_NAMES[kind]}", "kind": kind, "kind_name": mailing.KIND_NAMES[kind],
               "department": department, "settings": year.settings()[0], "mail": None, "waiting": set(),
               "log": _send_log(year), "error": None}
    try:
        chosen = mail_departments(kind, department, console, book, result)
        context["mail"] = found = yearwork.mailing(year, book, kind, result.read if result else None, chosen)
        context["waiting"] = yearwork.pending(year, found)
    except (YearError, delivery.DeliveryError) as exc:
        context["error"] = exc.problem.message
    return render(request, "mail.html", context)


def _send_log(year: year_module.Year) -> list[list[str]]:
    """发送记录.csv's header and its last rows, newest last."""
    if not year.send_log.is_file():
        return []
    rows = outbox.csv_rows(year.send_log.read_text(encoding="utf-8-sig"))
    return rows[:1] + rows[1:][-SEND_LOG_ROWS_SHOWN:]


PAIR, MISSING = "相邻名次", "缺报可能改变名次"


@needs(run=True)
def robustness(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    """排名稳健性: the scorecard sheet's rows, grouped as the sheet groups them."""
    rows = console.robustness(book, result) if result.outcome is Outcome.WRITTEN else []
    alternatives: dict[str, list[list[object]]] = {}
    for row in rows:
        if row[0] not in (PAIR, MISSING):
            alternatives.setdefault(str(row[0]), []).append(row)
    return render(request, "robustness.html", {
        "title": "排名稳健性", "result": result, "written": result.outcome is Outcome.WRITTEN,
        "pairs": [row for row in rows if row[0] == PAIR], "missing": [row for row in rows if row[0] == MISSING],
        "alternatives": alternatives})


@needs(run=True)
def publish(request: Request, console: Console, book: Rulebook, result: CollectResult) -> Response:
    year = console.the_year()
    soffice = publish_module.soffice_path()
    return render(request, "publish.html", {
        "title": "发布", "result": result, "written": result.outcome is Outcome.WRITTEN,
        "results": year.listing("results"), "notices": year.listing("notices"),
        "soffice_missing": None if soffice else P.text(Code.SOFFICE_MISSING)})


@needs(book=True)
def rules(request: Request, console: Console, book: Rulebook) -> Response:
    return render(request, "rules.html", {"title": "细则", "book": book, "figures": rulebook_module.summary(book),
                                          "diff": None, "replay": console.replay})


def job(request: Request) -> Response:
    console = request.app.state.console
    found = console.jobs.by_id.get(request.path_params["id"])
    if found is None:
        return render(request, "missing.html", {"title": "没有这个任务", "name": request.path_params["id"]},
                      status_code=404)
    going_on = not found.done or not found.failed and bool(found.then)  # the messages are for the page it leads to
    return render(request, "job.html", {"title": found.title, "job": found}, keep_flashes=going_on)
