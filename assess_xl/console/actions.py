"""What the coordinator does (POST, and the downloads made on request): each calls the library
(year, yearwork, rulediff, replay) and says what happened in Chinese, once."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from assess_xl.publish import delivery, mailing, outbox
from assess_xl.read import fetch as fetch_module
from assess_xl import problems as P
from assess_xl.score import replay as replay_module
from assess_xl.rules import diff as rulediff
from assess_xl.rules import load as rulebook_load
from assess_xl.rules import model as rulebook_module
from assess_xl import year as year_module
from assess_xl import yearwork
from assess_xl.xlsx.layout import district_name_problems, split_district_names
from assess_xl.pipeline import Outcome
from assess_xl.rules.model import Rulebook
from assess_xl.year import YearError
from assess_xl.problems import Code
from .jobs import Job, events
from .state import Console
from .web import back, download, mail_departments, needs, owing, render, run_for_mail, start_or_show

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_FIELDS = 200  # the contacts table has a few fields per department


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=FORM_FIELDS)
    return {key: value.strip() for key, value in form.items() if isinstance(value, str)}


async def _upload(request: Request, console: Console, field: str) -> tuple[str, bytes] | None:
    """One uploaded file (name, content); None, with the reason shown, when there is none or it is too large."""
    form = await request.form(max_files=1, max_fields=10)
    given = form.get(field)
    if not isinstance(given, UploadFile) or not given.filename:
        console.flash(P.text(Code.UPLOAD_EMPTY), "error")
        return None
    if (given.size or 0) > yearwork.UPLOAD_FILE_LIMIT_MB * 1024 * 1024:
        console.flash(P.text(Code.UPLOAD_TOO_LARGE, file=given.filename, limit=yearwork.UPLOAD_FILE_LIMIT_MB), "error")
        return None
    return given.filename, await given.read()


def _console(request: Request) -> Console:
    return request.app.state.console


def _open(console: Console, year: year_module.Year, note: str) -> Response:
    console.year = year
    console.forget()
    console.flash(note)
    return back("/settings")


# ---- start: create or open a year ---------------------------------------------------------------

async def create_year(request: Request) -> Response:
    console, fields = _console(request), await _fields(request)
    if not fields.get("folder"):
        console.flash(P.text(Code.CONSOLE_FIELD_MISSING, field="年度文件夹"), "error")
        return back("/start")
    names = split_district_names(fields.get("districts", ""))
    problems = district_name_problems(names) if names else []
    for problem in problems:
        console.flash(problem.message, "error")
    if problems:
        return back("/start")
    try:
        year = year_module.create(fields["folder"], year_module.Settings(issuer=fields.get("issuer", "")), names or None)
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/start")
    return _open(console, year, f"已新建年度文件夹 {year.root}。请检查评分细则、区名单和通讯录。")


async def open_year(request: Request) -> Response:
    console, fields = _console(request), await _fields(request)
    try:
        year = year_module.open_year(fields.get("folder", ""))
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/start")
    return _open(console, year, f"已打开年度文件夹 {year.root}。")


# ---- settings -----------------------------------------------------------------------------------

@needs()
async def save_general(request: Request, console: Console) -> Response:
    year = console.the_year()
    fields = await _fields(request)
    current, _ = year.settings()
    return _saved(console, lambda: yearwork.save_settings(year, year_module.with_setting(current, **fields)),
                  "设置已保存（不保存任何密码）。", "/settings")


def _saved(console: Console, save, note: str, to: str) -> Response:
    try:
        save()
    except YearError as exc:
        console.flash(exc.problem.message, "error")
    else:
        console.flash(note)
    return back(to)


@needs()
async def save_districts(request: Request, console: Console) -> Response:
    names = split_district_names((await _fields(request)).get("districts", ""))
    problems = district_name_problems(names)
    for problem in problems:
        console.flash(problem.message, "error")
    if problems:
        return back("/settings")
    return _saved(console, lambda: yearwork.save_districts(console.the_year(), names),
                  f"区名单已保存（{len(names)}个区）。", "/settings")


@needs()
async def upload_rulebook(request: Request, console: Console) -> Response:
    upload = await _upload(request, console, "rulebook")
    brought = _checked_rulebook(console, upload)
    if upload is None or brought is None:
        return back("/settings")
    try:
        yearwork.install_rulebook(console.the_year(), upload[1], brought.suffix)
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/settings")
    console.flash(f"已采用评分细则“{brought.book.title}”（{brought.book.year}年度，指纹 {brought.book.fingerprint}）。")
    return back("/settings")


@needs()
async def embedded_rulebook(request: Request, console: Console) -> Response:
    return _saved(console, lambda: yearwork.use_embedded_rulebook(console.the_year()),
                  "已改用内置的2007年度评分细则。", "/settings")


@needs(book=True)
async def save_contacts(request: Request, console: Console, book: Rulebook) -> Response:
    fields = await _fields(request)
    rows = [["部门", "联系人", "邮箱"]] + [[d, fields.get(f"person-{n}", ""), fields.get(f"emails-{n}", "")]
                                     for n, d in enumerate(book.departments)]
    rows = [row for row in rows if row[1] or row[2] or row[0] == "部门"]
    return _keep_contacts(console, book, *outbox.read_contacts(rows, book, "通讯录"), "通讯录已保存")


def _keep_contacts(console: Console, book, contacts: dict, problems: list[P.Problem], done: str) -> Response:
    for problem in problems:
        console.flash(problem.message, "error")
    return _saved(console, lambda: yearwork.save_contacts(console.the_year(), book, contacts),
                  f"{done}（{len(contacts)}个部门有邮箱）。", "/settings")


@needs(book=True)
async def upload_contacts(request: Request, console: Console, book: Rulebook) -> Response:
    upload = await _upload(request, console, "contacts")
    if upload is None:
        return back("/settings")
    try:
        contacts, problems = yearwork.bring_contacts(*upload, book)
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/settings")
    return _keep_contacts(console, book, contacts, problems, "通讯录已导入")


# ---- forms --------------------------------------------------------------------------------------

@needs(book=True)
async def generate_forms(request: Request, console: Console, book: Rulebook) -> Response:
    year = console.the_year()

    def work(job: Job) -> None:
        job.say(f"正在为{len(year.districts() or [])}个区生成填报表……")
        built = yearwork.generate_forms(year, book)
        job.say(f"已生成{len(built)}个文件，存入 {year.forms_dir}。")

    return start_or_show(request, "生成填报表", "/forms", work)


@needs()
async def forms_zip(request: Request, console: Console) -> Response:
    return download(yearwork.zip_area(console.the_year(), "forms"), "填报表.zip", "application/zip")


# ---- inbox --------------------------------------------------------------------------------------

@needs()
async def upload_returns(request: Request, console: Console) -> Response:
    try:
        form = await request.form(max_files=yearwork.UPLOAD_COUNT_LIMIT, max_fields=10)
    except HTTPException:
        console.flash(P.text(Code.UPLOAD_TOO_MANY, limit=yearwork.UPLOAD_COUNT_LIMIT), "error")
        return back("/inbox")
    uploads = [item for item in form.getlist("files") if isinstance(item, UploadFile) and item.filename]
    if not uploads:
        console.flash(P.text(Code.UPLOAD_EMPTY), "error")
        return back("/inbox")
    limit = yearwork.UPLOAD_FILE_LIMIT_MB * 1024 * 1024
    for large in [u for u in uploads if (u.size or 0) > limit]:  # refused unread
        console.flash(P.text(Code.UPLOAD_TOO_LARGE, file=large.filename, limit=yearwork.UPLOAD_FILE_LIMIT_MB), "error")
    contents = [(u.filename or "", await u.read()) for u in uploads if (u.size or 0) <= limit]
    try:
        stored = yearwork.store_uploads(console.the_year(), contents)
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/inbox")
    plain = [item for item in stored if item.new]
    if plain:
        console.flash(P.text(Code.UPLOAD_STORED_MANY, count=len(plain)) if len(plain) > 1 else plain[0].note)
    for item in stored:
        if item not in plain:
            console.flash(item.note, "ok" if item.name else "error")
    return start_or_show(request, "读取收件箱", "/inbox", console.refresh)


@needs()
async def read_inbox(request: Request, console: Console) -> Response:
    return start_or_show(request, "读取收件箱", "/inbox", console.refresh)


@needs(book=True)
async def fetch_mail(request: Request, console: Console, book: Rulebook) -> Response:
    """New mail from the year's IMAP mailbox into 收件箱/ (the password from this form only, kept nowhere),
    then the inbox read again; every message and every file a line of progress."""
    fields = await _fields(request)
    year = console.the_year()
    try:
        server, folder = yearwork.imap_server(year, fields.get("password", ""))
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/inbox")

    def work(job: Job) -> None:
        job.say(P.text(Code.CONSOLE_FETCHING, host=server.host, user=server.user, folder=folder))
        fetched = yearwork.fetch(year, book, server, folder, fields.get("since", ""),
                                 lambda done, total: job.say(P.text(Code.FETCH_PROGRESS, done=done, total=total)))
        for level, lines in (("ok", fetch_module.summary(fetched, year.inbox)),
                             ("error", [P.text(Code.FETCH_SKIPPED, line=line) for line in fetched.refused]),
                             ("warn", [P.text(Code.FETCH_NOT_RECEIVED, line=line) for line in fetched.retry])):
            for line in lines:
                job.say(line)
                console.flash(line, level)
        console.refresh(job)

    return start_or_show(request, "收取邮件", "/inbox", work)


# ---- the status board's mail: reminders and return copies, as files to send -----------------------

@needs(book=True)
def remind(request: Request, console: Console, book: Rulebook) -> Response:
    return _mail_files(request, console, book, "reminders")


@needs(book=True)
def return_copies(request: Request, console: Console, book: Rulebook) -> Response:
    return _mail_files(request, console, book, "returns")


def _mail_files(request: Request, console: Console, book: Rulebook, kind: str) -> Response:
    """Reminder drafts or return copies for one department (?department=) or all that owe."""
    result = console.run()
    if result is None or not result.read.districts:
        return back("/status")
    departments = owing(request.query_params.get("department", ""), console.board(book, result))
    if kind == "reminders":
        try:
            drafts = yearwork.mailing(console.the_year(), book, mailing.REMINDERS, result.read, departments)
        except YearError as exc:
            console.flash(exc.problem.message, "error")
            return back("/status")
        items = [(f"催报-{m.department}.eml", m.draft) for m in drafts.messages]
    else:
        items = [(copy.name, copy.content) for copy in yearwork.return_copies(book, result.read, departments)]
    if not items:
        console.flash(P.text(Code.CONSOLE_NO_REMINDERS if kind == "reminders" else Code.CONSOLE_NO_RETURNS), "warn")
        return back("/status")
    if len(items) == 1:
        name, content = items[0]
        return download(content, name, "message/rfc822" if name.endswith(".eml") else XLSX)
    return download(yearwork.zip_of(items), "催报邮件.zip" if kind == "reminders" else "退回修改.zip",
                    "application/zip")


# ---- mail sent from the console: forms to every department, reminders, return copies ---------------

@needs(book=True)
async def send_mail(request: Request, console: Console, book: Rulebook) -> Response:
    """Drafts into 发件箱/ or through SMTP (the password from this form only, kept nowhere), as a job
    whose lines say each message's result; then the mail page with the send log."""
    kind, fields = request.path_params["kind"], await _fields(request)
    if kind not in mailing.KIND_NAMES:
        return render(request, "missing.html", {"title": "没有这个页面", "name": kind}, 404)
    result = run_for_mail(request, kind)
    if isinstance(result, Response):
        return result
    department = fields.get("department", "")
    page = mail_address(kind, department)
    year = console.the_year()
    try:
        mail = yearwork.mailing(year, book, kind, result.read if result else None,
                                mail_departments(kind, department, console, book, result))
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back(page)
    by_smtp = fields.get("how") == "smtp"
    password = fields.get("password") or None
    name = mailing.KIND_NAMES[kind]

    def work(job: Job) -> None:
        settings, _ = year.settings()
        count = len(yearwork.pending(year, mail))
        job.say(P.text(Code.CONSOLE_SENDING, server=settings.smtp_server, kind=name, count=count) if by_smtp
                else P.text(Code.CONSOLE_DRAFTING, kind=name, count=count))
        done = yearwork.send(year, mail, by_smtp, password, lambda n, total, message, results: job.say(
            P.text(Code.SEND_PROGRESS, done=n, total=total, department=message.department,
                   addresses="、".join(address for address, _ in results),
                   results="；".join(dict.fromkeys(result for _, result in results)))))
        failures = delivery.failure_lines(done.outcome) if done.outcome else []
        for line in delivery.summary(done, year.outbox):
            job.say(line)
            console.flash(line, "warn" if failures else "ok")
        for line in [*failures, *(done.outcome.notes if done.outcome else []), *mail.unsent]:
            job.say(line)
            console.flash(line, "error")

    return start_or_show(request, f"发送{name}", page, work)


def mail_address(kind: str, department: str) -> str:
    return f"/mail/{kind}" + (f"?department={quote(department)}" if department else "")


# ---- adjustments --------------------------------------------------------------------------------

@needs(book=True)
async def add_adjustment(request: Request, console: Console, book: Rulebook) -> Response:
    fields = await _fields(request)
    year = console.the_year()
    result = console.run()
    districts = year.districts() or (result.read.districts if result else [])
    row = [fields.get(key, "") for key in ("district", "code", "value", "reason", "by", "date")]
    row[5] = row[5] or date.today().isoformat()
    return _recorded(console, lambda: yearwork.add_adjustment(year, book, districts, row),
                     f"已记入调整表：{row[0]} {row[1]} 改为“{row[2]}”。")


@needs(book=True)
async def exclude_file(request: Request, console: Console, book: Rulebook) -> Response:
    fields = await _fields(request)
    year = console.the_year()
    row = [fields.get(key, "") for key in ("file", "reason", "by", "date")]
    row[3] = row[3] or date.today().isoformat()
    return _recorded(console, lambda: yearwork.exclude_file(year, book, year.districts() or [], row),
                     f"已记入调整表：排除“{row[0]}”。")


def _recorded(console: Console, record, note: str) -> Response:
    try:
        problems = record()
    except YearError as exc:
        console.flash(exc.problem.message, "error")
        return back("/adjust")
    for problem in problems:
        console.flash(problem.message, "error")
    if not problems:
        console.flash(note)
    return back("/adjust")


# ---- publish ------------------------------------------------------------------------------------

@needs(book=True)
async def publish(request: Request, console: Console, book: Rulebook) -> Response:
    result = console.run()
    if result is None or result.outcome is not Outcome.WRITTEN:
        console.flash(P.text(Code.CONSOLE_NOTHING_TO_PUBLISH), "warn")
        return back("/publish")
    year = console.the_year()

    def work(job: Job) -> None:
        notes = yearwork.publish(year, book, result, job.say)
        job.say("发布完成。" if not notes else "发布完成，但PDF未生成（见上）。")

    return start_or_show(request, "发布考核结果", "/publish", work)


# ---- rules --------------------------------------------------------------------------------------

@needs(book=True)
async def rules_diff(request: Request, console: Console, book: Rulebook) -> Response:
    brought = await _brought(request, console)
    if brought is None:
        return back("/rules")
    lines = rulediff.diff(rulebook_load.load_raw(console.the_year().rulebook_path), brought.raw)
    return render(request, "rules.html", {"title": "细则", "book": book, "figures": rulebook_module.summary(book),
                                          "diff": lines, "other": brought.book, "replay": console.replay})


async def _brought(request: Request, console: Console) -> yearwork.Brought | None:
    return _checked_rulebook(console, await _upload(request, console, "rulebook"))


def _checked_rulebook(console: Console, upload: tuple[str, bytes] | None) -> yearwork.Brought | None:
    """An uploaded rulebook checked as `rules check` checks it; its errors shown one by one."""
    if upload is None:
        return None
    try:
        return yearwork.bring_rulebook(*upload)
    except rulebook_module.RulebookError as exc:
        for message in exc.messages:
            console.flash(message, "error")
    return None


@needs(book=True)
async def rules_replay(request: Request, console: Console, book: Rulebook) -> Response:
    result = console.run()
    if result is None or not result.read.districts:
        console.flash(P.text(Code.CONSOLE_NOTHING_READ), "warn")
        return back("/rules")
    brought = await _brought(request, console)
    if brought is None:
        return back("/rules")
    year = console.the_year()

    def work(job: Job) -> None:
        job.say(f"正在按“{brought.book.title}”重新计分……")
        outcome = replay_module.replay(book, brought.book, result.read.values)
        yearwork.save_replay(year, replay_module.workbook(outcome, book, brought.book))
        console.replay = (brought.book, outcome)
        job.say(f"完成：影响分析已写入 {year.results_dir / yearwork.REPLAY_FILE}。")

    return start_or_show(request, "试算新细则", "/rules", work)


# ---- files and progress -------------------------------------------------------------------------

@needs()
async def file_download(request: Request, console: Console) -> Response:
    try:
        path = console.the_year().file_in(request.path_params["area"], request.path_params["name"])
    except YearError as exc:
        return render(request, "missing.html", {"title": "没有这个文件", "name": exc.problem.message}, 404)
    return FileResponse(path, filename=path.name)


async def job_events(request: Request) -> Response:
    job = _console(request).jobs.by_id.get(request.path_params["id"])
    if job is None:
        return Response(status_code=404)
    return StreamingResponse(events(job), media_type="text/event-stream", headers={"cache-control": "no-store"})
