"""Mail the coordinator sends: each department its form, reminders (催报) to those that still owe
something, and the return copies (退回修改). Recipients come from a contacts workbook (通讯录). The
messages are built here as bytes (Chinese subjects, bodies and attachment names encoded so that
Outlook and Foxmail show them right); writing them as .eml drafts or handing them to an SMTP server
is the command line's business. Pure: data in, messages out."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

import xlsxwriter

from .layout import FONT, WORKBOOK_OPTIONS, name_key
from .rulebook import Rulebook

CONTACT_HEADERS = ("部门", "联系人", "邮箱")
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


@dataclass(frozen=True)
class Contact:
    department: str
    person: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Outgoing:
    department: str
    recipients: tuple[str, ...]
    subject: str
    message: bytes
    key: str  # what identifies this message across reruns (department, subject, attachment hash)
    message_id: str = ""


def contacts_template(book: Rulebook) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    header = workbook.add_format({"font_name": FONT, "bold": True, "bg_color": "#D9E1F2", "border": 1})
    cell = workbook.add_format({"font_name": FONT, "border": 1})
    ws = workbook.add_worksheet("通讯录")
    for col, (title, width) in enumerate(zip(CONTACT_HEADERS, (14, 12, 50))):
        ws.write_string(0, col, title, header)
        ws.set_column(col, col, width)
    for row, department in enumerate(book.departments, start=1):
        ws.write_string(row, 0, department, cell)
    ws.write_comment(0, 2, "一个部门有多个邮箱时用分号隔开，如 a@x.cn; b@x.cn")
    workbook.close()
    return buffer.getvalue()


def read_contacts(rows: list[list], book: Rulebook, where: str) -> tuple[dict[str, Contact], list[str]]:
    """Rows of the contacts sheet (header first) → department → contact; and Chinese problems."""
    departments = {name_key(d): d for d in book.departments}
    contacts: dict[str, Contact] = {}
    problems = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [str(c).strip() if c is not None else "" for c in (list(row) + ["", "", ""])[:3]]
        if not any(cells):
            continue
        department = departments.get(name_key(cells[0]))
        addresses = tuple(a.strip() for a in re.split(r"[;；,，\s]+", cells[2]) if a.strip())
        if department is None:
            problems.append(f"{where}第{number}行：部门“{cells[0]}”不在评分细则的部门中。")
            continue
        bad = [a for a in addresses if not _ADDRESS.match(a)]
        if bad or not addresses:
            problems.append(f"{where}第{number}行：{department}的邮箱“{cells[2]}”无效。")
            continue
        previous = contacts.get(department)
        merged = (previous.addresses if previous else ()) + addresses
        contacts[department] = Contact(department, cells[1] or (previous.person if previous else ""), merged)
    return contacts, problems


def csv_rows(text: str) -> list[list]:
    return [row for row in csv.reader(io.StringIO(text))]


def compose(sender: str, contact: Contact, subject: str, body: str,
            attachments: list[tuple[str, bytes]]) -> Outgoing:
    """A message as Outlook and Foxmail read it: the subject as an RFC 2047 encoded word, the body in
    UTF-8, each attachment's name both as RFC 2231 `filename*` and as an encoded-word `name` (which
    older Outlook versions read)."""
    message = MIMEMultipart()
    message["From"] = sender
    message["To"] = ", ".join(contact.addresses)
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # compat32 folds a Header itself
    message["Date"] = formatdate(localtime=True)
    message_id = make_msgid(domain=sender.rsplit("@", 1)[-1] if "@" in sender else None)
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
    key = f"{contact.department}|{subject}|{digest.hexdigest()[:16]}"
    return Outgoing(contact.department, contact.addresses, subject, message.as_bytes(), key, message_id)


def _addressed(contacts: dict[str, Contact], sender: str, drafts: dict[str, tuple[str, str, list]]) -> list[Outgoing]:
    """department → (subject, body, attachments), composed for the departments the contacts know."""
    return [compose(sender, contacts[department], subject, body, attachments)
            for department, (subject, body, attachments) in drafts.items() if department in contacts]


def _by(deadline: str, otherwise: str) -> str:
    return f"于{deadline}前" if deadline else otherwise


def form_messages(book: Rulebook, contacts: dict[str, Contact], forms: dict[str, tuple[str, bytes]], sender: str,
                  deadline: str) -> list[Outgoing]:
    """Each department its own form copy. `forms`: department → (file name, bytes)."""
    body = (f"现将{book.document_title('填报表')}发给你们，请在黄色单元格中按区填写本部门负责的指标，"
            f"{_by(deadline, '填好后')}以附件形式回复本邮件。请勿修改编号和区名。")
    return _addressed(contacts, sender, {department: (f"【请填报】{book.year}年度目标考核填报表（{department}）", body, [form])
                                         for department, form in forms.items()})


def reminder_messages(book: Rulebook, contacts: dict[str, Contact], owing: dict[str, list[str]], sender: str,
                      deadline: str) -> list[Outgoing]:
    """催报: department → lines of what it still owes (districts and items, as status computes them)."""
    return _addressed(contacts, sender, {
        department: (f"【催报】{book.year}年度目标考核填报（{department}）",
                     "截至目前，以下内容尚未收到或需要改正：\n" + "\n".join(f"  {line}" for line in lines) +
                     f"\n\n请{_by(deadline, '尽快')}补交。已交的部分不必重复填写。", [])
        for department, lines in owing.items() if lines})


def return_messages(book: Rulebook, contacts: dict[str, Contact], copies: dict[str, tuple[str, bytes]], sender: str,
                    deadline: str) -> list[Outgoing]:
    """退回修改: each department its return copy."""
    body = ("你们交回的填报表中有需要改正或补填的内容，已在附件中标出（红色为需改正，橙色为尚未填写，"
            "第一张工作表“退回说明”逐条列出）。其余内容已预先填好，不必改动。"
            f"请{_by(deadline, '尽快')}改好后以附件形式回复本邮件。")
    return _addressed(contacts, sender, {department: (f"【退回修改】{book.year}年度目标考核填报表（{department}）", body, [copy])
                                         for department, copy in copies.items()})


def draft_name(outgoing: Outgoing, number: int) -> str:
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", outgoing.subject)[:80]
    return f"{number:03d}-{safe}.eml"
