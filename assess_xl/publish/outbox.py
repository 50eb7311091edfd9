"""Mail the coordinator sends: each department its form, reminders (催报) to those that still owe
something, and the return copies (退回修改). Recipients come from a contacts workbook (通讯录). The
messages are built here as bytes (Chinese subjects, bodies and attachment names encoded so that
Outlook and Foxmail show them right); writing them as .eml drafts or handing them to an SMTP server
is delivery's business. Pure: data in, messages out."""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Iterable, Sequence
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, make_msgid

from assess_xl.xlsx.layout import name_key
from assess_xl.xlsx.style import MemoryWorkbook, styles
from assess_xl.problems import AssessError, Problem, make, shorten
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

CONTACT_HEADERS = ("部门", "联系人", "邮箱")
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\[\]]+@[^@\s<>\"(),;:\[\]]+\.[^@\s<>\"(),;:\[\]]+$")
_NAMED = re.compile(r'^\s*"?(?P<name>[^"<>]*?)"?\s*<(?P<address>[^<>]*)>\s*$')
_SEPARATORS = re.compile(r"[;；,，\r\n]+")
_WIRE = compat32.clone(linesep="\r\n")  # as SMTP carries it (and .eml files hold it)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A department that did mail its form may have sent what cannot be read (winmail.dat, an encrypted or .xlsb
# workbook); "not received" is only true of a readable form, so the mail says so.
UNREADABLE_HINT = "（如已发送，可能是附件无法读取：请把填好的工作簿作为普通附件重新发送，不要加密或使用Outlook的RTF格式）"


class BadAddress(ValueError):
    """Why a written address cannot be used: "newline", "unicode" (a non-ASCII local part) or "invalid"."""

    def __init__(self, reason: str, written: str):
        super().__init__(reason)
        self.reason = reason
        self.written = written


class SenderError(AssessError):
    """The coordinator's own address (--from, 发件人) cannot be used; the problem says what to type."""


@dataclass(frozen=True)
class Mailbox:
    """A display name (may be empty or Chinese) and a bare ASCII address."""
    name: str
    address: str

    def header(self) -> str:
        """As a From/To header writes it: the name alone as an RFC 2047 encoded word, the address bare."""
        return formataddr((self.name, self.address), charset="utf-8")

    def written(self) -> str:
        """As a person writes it in the contacts workbook: `郑华 <hjj@hbj.gov.cn>`, or the bare address."""
        return f"{self.name} <{self.address}>" if self.name else self.address


def mailbox(written: str) -> Mailbox:
    """`zhc@hbj.gov.cn` or `市环保局综合处 <zhc@hbj.gov.cn>` → Mailbox. A non-ASCII domain is written in
    IDNA (xn--…, the same address); a non-ASCII local part (which only SMTPUTF8 servers deliver) is refused."""
    if "\r" in written or "\n" in written:
        raise BadAddress("newline", written)
    match = _NAMED.match(written)
    name, address = (match["name"].strip(), match["address"].strip()) if match else ("", written.strip())
    local, _, domain = address.rpartition("@")
    if _CONTROL.search(name + address):
        raise BadAddress("invalid", written)
    if not local.isascii():
        raise BadAddress("unicode", written)
    try:
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadAddress("invalid", written) from None
    address = f"{local}@{domain}"
    if not _ADDRESS.match(address):
        raise BadAddress("invalid", written)
    return Mailbox(name, address)


def sender(written: str) -> Mailbox:
    """The coordinator's own address, as `mailbox` reads it; SenderError saying what to type instead."""
    try:
        return mailbox(written)
    except BadAddress as bad:
        code = Code.SENDER_NEWLINE if bad.reason == "newline" else Code.SENDER_INVALID
        raise SenderError(make(code, raw=shorten(written, 100))) from None


def mailboxes(cell: str) -> tuple[Mailbox, ...]:
    """A contacts cell: addresses separated by ; , or new lines (bare ones also by spaces), each
    optionally with a name, as in `郑华 <hjj@hbj.gov.cn>; b@x.cn`."""
    found: list[Mailbox] = []
    for piece in (p.strip() for p in _SEPARATORS.split(cell)):
        if piece:
            found.extend([mailbox(piece)] if "<" in piece else [mailbox(bare) for bare in piece.split()])
    return tuple(found)


@dataclass(frozen=True)
class Contact:
    department: str
    person: str
    mailboxes: tuple[Mailbox, ...]

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(m.address for m in self.mailboxes)


@dataclass(frozen=True)
class Outgoing:
    department: str
    recipients: tuple[str, ...]  # bare addresses (the SMTP envelope)
    subject: str
    message: bytes  # as handed to the SMTP server
    draft: bytes  # the same message marked unsent (X-Unsent: 1), to open in a mail program and send
    key: str  # what identifies this message across reruns (department, subject, attachments, round)
    message_id: str = ""
    round_name: str = ""  # the reminder round (催报轮次), part of the draft's file name


def contacts_template(book: Rulebook, contacts: dict[str, Contact] | None = None) -> bytes:
    """The contacts workbook listing the rulebook's departments, filled with `contacts` when given."""
    contacts = contacts or {}
    workbook = MemoryWorkbook()
    house = styles(workbook)
    header, cell = house["list_header"], house["list_cell"]
    ws = workbook.add_worksheet("通讯录")
    for col, (title, width) in enumerate(zip(CONTACT_HEADERS, (14, 12, 50))):
        ws.write_string(0, col, title, header)
        ws.set_column(col, col, width)
    for row, department in enumerate(book.departments, start=1):
        ws.write_string(row, 0, department, cell)
        if department in contacts:
            ws.write_string(row, 1, contacts[department].person, cell)
            ws.write_string(row, 2, "; ".join(m.written() for m in contacts[department].mailboxes), cell)
    ws.write_comment(0, 2, "一个部门有多个邮箱时用分号隔开，如 a@x.cn; b@x.cn")
    return workbook.content()


def read_contacts(rows: Sequence[Sequence[object]], book: Rulebook, file: str,
                  sheet: str | None = None) -> tuple[dict[str, Contact], list[Problem]]:
    """Rows of the contacts sheet (header first) → department → contact; and the rows left out, as
    problems naming the file, sheet and cell."""
    departments = {name_key(d): d for d in book.departments}
    contacts: dict[str, Contact] = {}
    problems = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [str(c).strip() if c is not None else "" for c in (list(row) + ["", "", ""])[:3]]
        if not any(cells):
            continue
        at = functools.partial(_contact_problem, file, sheet, number)
        department = departments.get(name_key(cells[0]))
        if department is None:
            problems.append(at("A", Code.CONTACT_DEPARTMENT_UNKNOWN, raw=shorten(cells[0], 60),
                               example="、".join(book.departments[:3])))
            continue
        if not cells[2]:
            problems.append(at("C", Code.CONTACT_NO_ADDRESS, department=department))
            continue
        try:
            found = mailboxes(cells[2])
        except BadAddress as bad:
            kind = Code.CONTACT_ADDRESS_UNICODE if bad.reason == "unicode" else Code.CONTACT_ADDRESS_INVALID
            problems.append(at("C", kind, department=department, raw=shorten(bad.written.strip(), 100)))
            continue
        previous = contacts.get(department)
        merged = (previous.mailboxes if previous else ()) + found
        contacts[department] = Contact(department, cells[1] or (previous.person if previous else ""), merged)
    return contacts, problems


def _contact_problem(file: str, sheet: str | None, row: int, column: str, kind: Code, /, **fields: str) -> Problem:
    """A problem of the contacts row `row` at its cell in `column`, the place written as a person finds it
    (a .csv has no sheet: its row and column)."""
    at = f"{file}，工作表“{sheet}”，{column}{row}格" if sheet else f"{file}，第{row}行{column}列（{column}{row}格）"
    return make(kind, file=file, sheet=sheet or "", cell=f"{column}{row}", at=at, **fields)


def csv_rows(text: str) -> list[list[str]]:
    """Rows of a CSV text; a field may be as long as the text (the csv module's default limit is 128 KB,
    which a cell of thousands of addresses, or an older send log, exceeds)."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    return list(csv.reader(io.StringIO(text)))


def compose(sender: Mailbox, contact: Contact, subject: str, body: str,
            attachments: list[tuple[str, bytes]], round_name: str = "") -> Outgoing:
    """A message as Outlook and Foxmail read it: names in From/To and the subject as RFC 2047 encoded
    words (addresses bare), the body in UTF-8, each attachment's name both as RFC 2231 `filename*` and
    as an encoded-word `name` (which older Outlook versions read). The draft copy carries X-Unsent: 1,
    so Outlook and Foxmail open it as a message to send."""
    message = MIMEMultipart()
    message["From"] = sender.header()
    message["To"] = ", ".join(m.header() for m in contact.mailboxes)
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # compat32 folds a Header itself
    message["Date"] = formatdate(localtime=True)
    message_id = make_msgid(domain=sender.address.rsplit("@", 1)[-1])
    message["Message-ID"] = message_id
    greeting = f"{contact.person}同志：" if contact.person else f"{contact.department}："
    message.attach(MIMEText(f"{greeting}\n\n{body}\n", "plain", "utf-8"))
    digest = hashlib.sha256()
    for name, content in attachments:
        part = MIMEApplication(content, _subtype=XLSX_TYPE[1])
        part.set_param("name", Header(name, "utf-8", maxlinelen=998).encode())
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
        message.attach(part)
        digest.update(content)
    key = f"{contact.department}|{subject}|{digest.hexdigest()[:16]}" + (f"|{round_name}" if round_name else "")
    sent = message.as_bytes(policy=_WIRE)
    message["X-Unsent"] = "1"
    return Outgoing(contact.department, contact.addresses, subject, sent, message.as_bytes(policy=_WIRE), key, message_id,
                    round_name)


def _addressed(contacts: dict[str, Contact], sender: Mailbox, drafts: dict[str, tuple[str, str, list[tuple[str, bytes]]]],
               round_name: str = "") -> list[Outgoing]:
    """department → (subject, body, attachments), composed for the departments the contacts know."""
    return [compose(sender, contacts[department], subject, body, attachments, round_name)
            for department, (subject, body, attachments) in drafts.items() if department in contacts]


def unaddressed(contacts: dict[str, Contact], departments: Iterable[str]) -> list[str]:
    """The departments that should get a message but have no address in the contacts."""
    return [department for department in departments if department not in contacts]


def _by(deadline: str, otherwise: str) -> str:
    return f"于{deadline}前" if deadline else otherwise


def form_messages(book: Rulebook, contacts: dict[str, Contact], forms: dict[str, tuple[str, bytes]], sender: Mailbox,
                  deadline: str) -> list[Outgoing]:
    """Each department its own form copy. `forms`: department → (file name, bytes)."""
    body = (f"现将{book.document_title('填报表')}发给你们，请在黄色单元格中按区填写本部门负责的指标，"
            f"{_by(deadline, '填好后')}以附件形式回复本邮件。请勿修改编号和区名。")
    return _addressed(contacts, sender, {department: (f"【请填报】{book.year}年度目标考核填报表（{department}）", body, [form])
                                         for department, form in forms.items()})


def reminder_messages(book: Rulebook, contacts: dict[str, Contact], owing: dict[str, list[str]], sender: Mailbox,
                      deadline: str, round_name: str, received: set[str]) -> list[Outgoing]:
    """催报: department → lines of what it still owes and what is wrong in each cell (as the return
    copies say it); a department whose form was never received is told so first (`received`: the
    departments that returned something). Each round (`round_name`: the deadline, a date or a name)
    is its own message."""
    def opening(department: str) -> str:
        return ("截至目前，以下内容尚未收到或需要改正：" if department in received else
                f"截至目前，尚未收到你们交回的填报表{UNREADABLE_HINT}。需要填写的内容如下：")
    return _addressed(contacts, sender, {
        department: (f"【催报】{book.year}年度目标考核填报（{department}）",
                     opening(department) + "\n\n" + "\n".join(lines) +
                     f"\n\n请{_by(deadline, '尽快')}补交或改正后以附件形式回复本邮件。已交的正确内容不必重复填写。", [])
        for department, lines in owing.items() if lines}, round_name)


def return_messages(book: Rulebook, contacts: dict[str, Contact], copies: dict[str, tuple[str, bytes]], sender: Mailbox,
                    deadline: str, received: set[str]) -> list[Outgoing]:
    """退回修改: each department its return copy. A department whose form was never received is told
    so, and that the form is attached again (`received`: the departments that returned something)."""
    by = _by(deadline, "尽快")
    returned = ("你们交回的填报表中有需要改正或补填的内容，已在附件中标出（红色为需改正，橙色为尚未填写，"
                "第一张工作表“退回说明”逐条列出）。其余内容已预先填好，不必改动。"
                f"请{by}改好后以附件形式回复本邮件。")
    never = (f"截至目前，尚未收到你们交回的填报表{UNREADABLE_HINT}。现将填报表再次附上（需填写的单元格标为橙色，"
             f"第一张工作表“退回说明”逐条列出）。请{by}填好后以附件形式回复本邮件。")
    return _addressed(contacts, sender, {
        department: ((f"【退回修改】{book.year}年度目标考核填报表（{department}）", returned) if department in received
                     else (f"【请填报】{book.year}年度目标考核填报表（{department}，再次发送）", never)) + ([copy],)
        for department, copy in copies.items()})


def draft_name(outgoing: Outgoing, number: int) -> str:
    """`001-【催报】…（办公室）-第二次.eml`: a reminder round's drafts never overwrite another round's."""
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", outgoing.subject)[:80]
    round_part = re.sub(r'[\\/:*?"<>|\s]+', "_", outgoing.round_name)[:40]
    return f"{number:03d}-{safe}" + (f"-{round_part}" if round_part else "") + ".eml"
