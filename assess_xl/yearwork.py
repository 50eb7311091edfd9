"""A year's work as library calls on its folder, for the console and the command line alike: the run
(collect with the year's inputs), the status board, forms, uploads into the inbox, adjustments and
exclusions, publishing into 结果/, and a rulebook brought in for checking, diffing or replaying.
Every write goes through files.write_files under the year's lock. Prints nothing."""
from __future__ import annotations

import hashlib
import io
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Callable

from assess_xl.score import adjustments as adjustments_module
from assess_xl.publish import forms as forms_module
from assess_xl.publish import delivery, outbox
from assess_xl.publish import mailing as mailing_module
from assess_xl.xlsx import ownbooks
from assess_xl import pipeline
from assess_xl import problems as P
from assess_xl.publish import scorecard as report
from assess_xl.read import fetch as fetch_module
from assess_xl.read import imap
from assess_xl.score import robustness as robustness_module
from assess_xl.publish import returns
from assess_xl.publish import status
from assess_xl.publish import documents as publish_module
from assess_xl.rules import load as rulebook_load
from assess_xl.rules import model as rulebook_module
from assess_xl.publish.forms import FormFile
from assess_xl.xlsx.layout import safe_file_name
from assess_xl.xlsx.preflight import MAX_FILE_BYTES
from assess_xl.xlsx.parse import SheetData
from assess_xl.read.merge import ReadResult
from assess_xl.pipeline import CollectResult
from assess_xl.problems import Problem
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code
from assess_xl.year import (ADJUSTMENTS_FILE, RULEBOOK_FILES, Settings, Year, YearError, collect_options,
                            departments_by_address, districts_text, locked, read_contacts, settings_text, write)

Say = Callable[[str], None]
UPLOAD_FILE_LIMIT_MB = MAX_FILE_BYTES // 1048576  # as much as the pre-flight reads of one file
UPLOAD_COUNT_LIMIT = 200
UPLOAD_TOTAL_LIMIT_MB = 300
REPLAY_FILE = "影响分析.xlsx"
LOCK_WAIT = 5.0  # seconds a write waits for another holder of the year's lock before it is refused


def _quiet(_: str) -> None:
    pass


# ---- the run ------------------------------------------------------------------------------------

def run(year: Year, book: Rulebook, say: Say = _quiet) -> CollectResult:
    """Read the year's inbox with its districts, adjustments, contacts and last year's result, and score."""
    options = collect_options(year, book)
    say("正在读取收件箱中的文件（每个文件在单独的子进程中检查）……")
    told = iter(range(1, 1 << 62))
    options.on_read = lambda read: say(P.text(Code.FILE_VERDICT, number=next(told), file=read.info.name, status=read.status,
                                              reason=f"：{read.reason}" if read.reason else ""))
    result = pipeline.collect([year.inbox], book, options)
    say(f"已读取{len(result.read.files)}个文件，跳过{len(result.read.skipped)}个。")
    return result


# ---- the status board ---------------------------------------------------------------------------

NOT_RETURNED, TO_FIX, OWED, COMPLETE, ADJUSTED = "未交", "有错待改", "缺报", "齐全", "已调整"
BOARD_STATES = (NOT_RETURNED, TO_FIX, OWED, COMPLETE, ADJUSTED)


@dataclass(frozen=True)
class Board:
    """Department × district: one state each, the counts per department, who owes something."""
    departments: list[str]
    districts: list[str]
    cells: dict[tuple[str, str], str]
    counts: dict[str, dict[str, int]]
    owing: list[str]


def board(book: Rulebook, read: ReadResult) -> Board:
    """未交: nothing received and something owed; 有错待改: a cell to fix; 缺报: a cell still owed;
    已调整: complete with a coordinator's adjustment; 齐全: nothing owed. "Owed" is the one definition
    the return copies and reminders use (returns.plan)."""
    table = status.matrix(book, read)
    plans = returns.plan(book, read)
    adjusted = {(book.indicators[r["编号"]].department, r["区"]) for r in read.adjustments
                if r["编号"] in book.indicators}
    cells, counts = {}, {}
    for department, row in zip(table.index, table.values.tolist()):
        plan = plans.get(department)
        fix = {district for _, district in plan.fix} if plan else set()
        owed = {district for _, district in plan.owed} if plan else set()
        counts[department] = dict.fromkeys(BOARD_STATES, 0)
        for district, cell in zip(table.columns, row):
            state = _state(cell == status.NOT_RETURNED, district in fix, district in owed,
                           (department, district) in adjusted)
            cells[(department, district)] = state
            counts[department][state] += 1
    owing = [d for d in table.index if any(counts[d][s] for s in (NOT_RETURNED, TO_FIX, OWED))]
    return Board(list(table.index), list(table.columns), cells, counts, owing)


def _state(nothing_received: bool, to_fix: bool, owed: bool, adjusted: bool) -> str:
    if to_fix:
        return TO_FIX
    if owed:
        return NOT_RETURNED if nothing_received else OWED
    return ADJUSTED if adjusted else COMPLETE


# ---- mail: forms to every department, reminders and return copies to those that owe ---------------

def sender(year: Year) -> outbox.Mailbox:
    """The year's sender (设置: 发件人); YearError saying where to set it when it is not an address."""
    settings, _ = year.settings()
    try:
        return outbox.mailbox(settings.sender)
    except outbox.BadAddress:
        raise YearError(P.make(Code.CONSOLE_NO_SENDER, raw=settings.sender)) from None


def mailing(year: Year, book: Rulebook, kind: str, read: ReadResult | None,
            departments: list[str] | None = None) -> mailing_module.Mailing:
    """The messages of one kind (mailing.FORMS, REMINDERS, RETURNS) as `send` makes them, to the year's
    contacts from its sender with its deadline; reminders and return copies for `departments` (all that
    owe when None), this round being the deadline's (or today's)."""
    settings, _ = year.settings()
    from_, contacts, deadline = sender(year), _contacts(year, book), settings.deadline
    if kind == mailing_module.FORMS:
        return mailing_module.forms_mailing(book, contacts, year.forms_dir, from_, deadline)
    assert read is not None, "reminders and return copies are made from a run"
    if kind == mailing_module.REMINDERS:
        return mailing_module.reminder_mailing(book, contacts, read, from_, deadline,
                                               mailing_module.round_of("", deadline), departments)
    return mailing_module.returns_mailing(book, contacts, read, from_, deadline, departments)


def pending(year: Year, mail: mailing_module.Mailing) -> set[str]:
    """The keys of the messages that still have a recipient to reach, by the year's send log."""
    return {message.key for message, _ in delivery.remaining(mail.messages, delivery.delivered(year.send_log))}


def send(year: Year, mail: mailing_module.Mailing, by_smtp: bool, password: str | None = None,
         progress: delivery.Progress | None = None) -> delivery.Delivery:
    """What is not yet delivered, as drafts into 发件箱/ or through the year's SMTP server (设置: server,
    connection, user; the password is given each time and kept nowhere), logged in 发送记录.csv exactly
    as `send` logs it, under the year's lock."""
    settings, _ = year.settings()
    if by_smtp and not settings.smtp_server:
        raise YearError(P.make(Code.CONSOLE_NO_SMTP))
    server = delivery.Server.parse(settings.smtp_server, settings.smtp_security or None, settings.smtp_user or None,
                                   password if settings.smtp_user else None)
    with locked(year, "发送邮件", LOCK_WAIT):
        return delivery.deliver(mail.messages, year.outbox, sender(year).address,
                                (lambda: server) if by_smtp else None, progress)


def return_copies(book: Rulebook, read: ReadResult, departments: list[str]) -> list[FormFile]:
    """退回修改 copies for these departments (those with something to fix or owed)."""
    return returns.return_copies(book, read, departments=departments)


def _contacts(year: Year, book: Rulebook) -> dict[str, outbox.Contact]:
    return read_contacts(year.contacts_path, book)[0] if year.contacts_path.is_file() else {}


# ---- mail fetched into the inbox ------------------------------------------------------------------

def imap_server(year: Year, password: str) -> tuple[imap.Server, str]:
    """The year's IMAP server (设置: server[:port], connection, user) with the password given now, and
    its folder; YearError saying where to set them when they are missing."""
    settings, _ = year.settings()
    if not settings.imap_host or not settings.imap_user:
        raise YearError(P.make(Code.CONSOLE_NO_IMAP))
    host, _, port = settings.imap_host.partition(":")
    security = settings.imap_security or "ssl"
    number = int(port) if port.isdigit() else (993 if security == "ssl" else 143)
    return imap.Server(host, number, security, settings.imap_user, password), settings.imap_folder or "INBOX"


def fetch(year: Year, book: Rulebook, server: imap.Server, folder: str, since: str = "",
          progress: Callable[[int, int], None] | None = None) -> imap.Fetched:
    """New mail with workbooks into 收件箱/ as `fetch -o 收件箱` saves it (read-only on the server; the
    list of messages read kept in the inbox; senders named by the year's contacts), under the year's lock."""
    departments = departments_by_address(_contacts(year, book))
    with locked(year, "收取邮件", LOCK_WAIT):
        record = fetch_module.FetchRecord(year.inbox)
        return fetch_module.fetch(server, folder, fetch_module.since_day(since), record, False, departments, progress)


# ---- forms --------------------------------------------------------------------------------------

def generate_forms(year: Year, book: Rulebook) -> list[FormFile]:
    """The year's forms into 填报表/ (the full workbook and one per department)."""
    districts = year.districts()
    if not districts:
        raise YearError(P.make(Code.YEAR_NO_DISTRICTS, where=str(year.districts_path)))
    built = forms_module.build_forms(book, districts)
    with locked(year, "生成填报表", LOCK_WAIT):
        write([(year.forms_dir / form.name, form.content) for form in built])
    return built


def zip_of(items: list[tuple[str, bytes]]) -> bytes:
    """(name, content) as one zip (zipfile marks non-ASCII names as UTF-8)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in items:
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_area(year: Year, area: str) -> bytes:
    return zip_of([(path.name, path.read_bytes()) for path in year.listing(area)])


# ---- uploads into the inbox ---------------------------------------------------------------------

_INVISIBLE_MARKS = re.compile(r"[\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe_name(given: str) -> str:
    """An uploaded file's name that stays where it is put: the last part of any path a browser sends,
    without direction marks, not an Office lock file (`~$`, which gathering skips), then made safe as
    every file name is (layout.safe_file_name: no separators, no leading dot, no device name)."""
    name = unicodedata.normalize("NFC", re.split(r"[\\/]", given or "")[-1])
    name = _INVISIBLE_MARKS.sub("", name).strip().lstrip("~$.")
    return safe_file_name(name) if name.strip(" .") else "上传的文件"


@dataclass(frozen=True)
class Stored:
    given: str
    name: str  # as stored in the inbox ('' when refused)
    note: str  # Chinese: what happened
    new: bool = False  # stored now under the name it was given


def store_uploads(year: Year, uploads: list[tuple[str, bytes]]) -> list[Stored]:
    """Each upload into 收件箱/ under a safe, unused name; the same content twice is stored once.
    Size limits per file; the limits on count and total are the caller's (before reading bodies)."""
    taken = {p.name: p for p in year.listing("inbox")}
    hashes = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in taken.values()}
    stored, written = [], []
    for given, content in uploads:
        if len(content) > UPLOAD_FILE_LIMIT_MB * 1024 * 1024:
            stored.append(Stored(given, "", P.text(Code.UPLOAD_TOO_LARGE, file=given, limit=UPLOAD_FILE_LIMIT_MB)))
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest in hashes:
            stored.append(Stored(given, hashes[digest], P.text(Code.UPLOAD_SAME, file=given, other=hashes[digest])))
            continue
        name = _unused(safe_name(given), taken)
        taken[name] = year.inbox / name
        hashes[digest] = name
        written.append((year.inbox / name, content))
        stored.append(Stored(given, name, P.text(Code.UPLOAD_STORED if name == given else Code.UPLOAD_RENAMED, file=given,
                                                 name=name), new=name == given))
    if written:
        with locked(year, "保存上传的文件", LOCK_WAIT):
            write(written)
    return stored


def _unused(name: str, taken: dict) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}({n}).{suffix}" if suffix else f"{stem}({n})"
        n += 1
    return candidate


# ---- adjustments and exclusions (调整表.xlsx) ----------------------------------------------------

@dataclass(frozen=True)
class AdjustmentRows:
    changes: list[list[str]]
    excluded: list[list[str]]


def adjustment_rows(year: Year) -> AdjustmentRows:
    """The rows of 调整表.xlsx as text (empty lists when there is none)."""
    if not year.adjustments_path.is_file():
        return AdjustmentRows([], [])
    sheets = ownbooks.read(year.adjustments_path, ADJUSTMENTS_FILE)
    return AdjustmentRows(_text_rows(sheets, adjustments_module.CHANGES_SHEET, 6),
                          _text_rows(sheets, adjustments_module.EXCLUDED_SHEET, 4))


def _text_rows(sheets: dict, name: str, width: int) -> list[list[str]]:
    sheet = sheets.get(name)
    rows = []
    for row in (sheet.rows[1:] if sheet is not None else []):
        cells = [_cell_text(c) for c in (list(row) + [""] * width)[:width]]
        if any(cells):
            rows.append(cells)
    return rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def add_adjustment(year: Year, book: Rulebook, districts: list[str], row: list[str]) -> list[Problem]:
    """One row (区, 编号, 新值, 理由, 经办人, 日期) checked exactly as `--adjustments` checks it; kept in
    调整表.xlsx only when it passes. Returns the row's problems (none when it was stored)."""
    current = adjustment_rows(year)
    rows = [*current.changes, [cell.strip() for cell in row]]
    sheet = SheetData(adjustments_module.CHANGES_SHEET, True, [list(adjustments_module.CHANGE_HEADERS), *rows])
    _, found = adjustments_module.read_changes({adjustments_module.CHANGES_SHEET: sheet}, book, districts,
                                               ADJUSTMENTS_FILE)
    mine = [p for p in found if _row_of(p.cell) == len(rows) + 1]
    if not mine:
        _save_adjustments(year, book, districts, rows, current.excluded)
    return mine


def exclude_file(year: Year, book: Rulebook, districts: list[str], row: list[str]) -> list[Problem]:
    """One 排除文件 row (文件名或SHA-256, 理由, 经办人, 日期); a row without a reason is refused."""
    current = adjustment_rows(year)
    row = [cell.strip() for cell in row]
    if not row[0]:
        return [P.make(Code.CONSOLE_FIELD_MISSING, field="文件名或SHA-256")]
    if not row[1]:
        return [P.make(Code.ADJUSTMENT_NO_REASON, file=ADJUSTMENTS_FILE, sheet=adjustments_module.EXCLUDED_SHEET,
                       cell=f"B{len(current.excluded) + 2}")]
    _save_adjustments(year, book, districts, current.changes, [*current.excluded, row])
    return []


def _row_of(cell: str) -> int:
    digits = re.sub(r"[^0-9]", "", cell)
    return int(digits) if digits else 0


def _save_adjustments(year: Year, book: Rulebook, districts: list[str], changes: list[list[str]],
                      excluded: list[list[str]]) -> None:
    content = adjustments_module.template(book, districts, changes, excluded)
    with locked(year, "保存调整表", LOCK_WAIT):
        write([(year.adjustments_path, content)])


# ---- publishing into 结果/ -----------------------------------------------------------------------

def notice_files(book: Rulebook, result: CollectResult, signed: report.Signature,
                 template: Path | None = None) -> list[tuple[str, bytes]]:
    """(file name, .docx) per district, named as the district's sheet is; a Word style template that
    cannot be used is a YearError naming it."""
    assert result.scores is not None and result.explanations is not None
    try:
        documents = publish_module.notices(book, result.scores, result.explanations, signed,
                                           template.read_bytes() if template else None)
    except Exception as exc:  # python-docx refuses a file that is not a Word document: say which
        if template is None:
            raise
        raise YearError(P.make(Code.NOTICE_TEMPLATE_UNUSABLE, path=str(template), reason=P.reason(exc))) from None
    names = report.safe_sheet_names(list(documents))
    return [(safe_file_name(f"{book.year}年度考核结果通报-{names[district]}.docx"), content)
            for district, content in documents.items()]


def publish(year: Year, book: Rulebook, result: CollectResult, say: Say = _quiet) -> list[str]:
    """The scorecard, the notices and the PDF into 结果/. Returns what could not be made (Chinese):
    without LibreOffice the PDF is missing and the message says how to install it."""
    options = collect_options(year, book)
    say("正在生成各区通报……")
    notices = notice_files(book, result, pipeline.signature(book, options))
    notes = []
    with locked(year, "发布考核结果", LOCK_WAIT):
        write([(year.scorecard_path, result.content), *((year.notices_dir / n, c) for n, c in notices)])
        say(f"已写出考核结果和{len(notices)}份通报。正在用LibreOffice生成PDF（100个区约需半分钟）……")
        try:
            write([(year.pdf_path, publish_module.official_pdf(result.content))])
            say("PDF已生成。")
        except publish_module.PublishError as exc:
            notes.append(str(exc))
            say(str(exc))
    return notes


# ---- a rulebook brought in (settings, diff, replay) --------------------------------------------------

@dataclass(frozen=True)
class Brought:
    raw: dict
    book: Rulebook
    suffix: str


def bring_rulebook(name: str, content: bytes) -> Brought:
    """Check an uploaded rulebook (YAML or workbook) as `rules check` does; raises RulebookError."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".yaml", ".yml", ".xlsx"):
        raise rulebook_module.RulebookError(P.make(Code.RULE_UNREADABLE, at=name, reason="扩展名应为 .yaml 或 .xlsx"))
    with tempfile.TemporaryDirectory(prefix="assess-xl-rules-") as folder:
        path = Path(folder) / safe_name(name)
        path.write_bytes(content)
        try:
            book = rulebook_load.load(path)
            return Brought(rulebook_load.load_raw(path), book, suffix)
        except rulebook_module.RulebookError as exc:  # name the file as the coordinator knows it
            raise rulebook_module.RulebookError(*[replace(p, message=p.message.replace(str(path), path.name))
                                                  for p in exc.problems]) from None


def install_rulebook(year: Year, content: bytes, suffix: str) -> None:
    """Make an already checked rulebook the year's own (replacing any other)."""
    target = year.root / f"评分细则{'.yaml' if suffix == '.yml' else suffix}"
    with locked(year, "更换评分细则", LOCK_WAIT):
        write([(target, content)])
        for name in RULEBOOK_FILES:
            if year.root / name != target:
                (year.root / name).unlink(missing_ok=True)


def use_embedded_rulebook(year: Year) -> None:
    with locked(year, "更换评分细则", LOCK_WAIT):
        for name in RULEBOOK_FILES:
            (year.root / name).unlink(missing_ok=True)


def save_replay(year: Year, content: bytes) -> None:
    with locked(year, "写出影响分析", LOCK_WAIT):
        write([(year.results_dir / REPLAY_FILE, content)])


def save_settings(year: Year, settings: Settings) -> None:
    with locked(year, "保存设置", LOCK_WAIT):
        write([(year.settings_path, settings_text(settings).encode("utf-8"))])


def bring_contacts(name: str, content: bytes, book: Rulebook) -> tuple[dict[str, outbox.Contact], list[P.Problem]]:
    """An uploaded contacts workbook (.xlsx or .csv), read as `send --contacts` reads one."""
    suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in (".csv", ".xlsx") else ".xlsx"
    with tempfile.TemporaryDirectory(prefix="assess-xl-contacts-") as folder:
        path = Path(folder) / f"通讯录{suffix}"
        path.write_bytes(content)
        return read_contacts(path, book)


def save_districts(year: Year, names: list[str]) -> None:
    with locked(year, "保存区名单", LOCK_WAIT):
        write([(year.districts_path, districts_text(names))])


def save_contacts(year: Year, book: Rulebook, contacts: dict[str, outbox.Contact]) -> None:
    with locked(year, "保存通讯录", LOCK_WAIT):
        write([(year.contacts_path, outbox.contacts_template(book, contacts))])


# ---- one district's result, as its scorecard sheet explains it ------------------------------------------

@dataclass(frozen=True)
class TargetLine:
    number: int
    text: str
    points: float | None
    reported: list[str]
    score: float
    explanation: str
    departments: str
    status: str


@dataclass(frozen=True)
class CategoryBlock:
    label: str
    points: float | None
    score: float
    targets: list[TargetLine]


def robustness_rows(book: Rulebook, result: CollectResult) -> list[list[object]]:
    """The rows of the scorecard's 排名稳健性 sheet (scorecard.robustness_rows) for this run: the run's own
    assessment, or one made now when the run was made without it."""
    assert result.scores is not None
    robust = result.robustness or robustness_module.assess(result.read.values, book, result.scores)
    rows: list[list[object]] = report.robustness_rows(book, robust)
    return rows


def reported(book: Rulebook, result: CollectResult) -> dict[tuple[str, str], str]:
    """(district, code) → what was reported, as the scorecard's district sheets say it."""
    return report._reported_text(book, result.read)


def district_page(book: Rulebook, result: CollectResult, district: str,
                  said: dict[tuple[str, str], str]) -> list[CategoryBlock]:
    """Every category and target of one district: what was reported (`said`, from `reported`), the
    points and why."""
    assert result.scores is not None and result.explanations is not None
    scores = result.scores
    target_scores, statuses = scores.targets.loc[district].to_dict(), scores.status.loc[district].to_dict()
    texts, category_scores = result.explanations.loc[district].to_dict(), scores.categories.loc[district].to_dict()
    blocks = []
    for category in book.categories:
        lines = [TargetLine(t.number, t.text, t.max,
                            [said.get((district, c), f"{book.indicators[c].label}：（未填报）") for c in t.indicators],
                            target_scores[t.number], texts[t.number],
                            "、".join(dict.fromkeys(book.indicators[c].department for c in t.indicators)),
                            statuses[t.number])
                 for t in book.targets if t.category == category.number]
        blocks.append(CategoryBlock(f"{category.number} {category.name}", category.points,
                                    category_scores[category.number], lines))
    return blocks
