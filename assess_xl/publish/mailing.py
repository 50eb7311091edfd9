"""What the coordinator mails, for both faces (`send forms|remind|returns` and the console): the
messages of one kind for the departments concerned, and the departments that get nothing and why
(no address in the contacts, no form in the folder), in Chinese from the catalogue."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from assess_xl.problems import Code, text
from assess_xl.publish import forms as forms_module
from assess_xl.publish import outbox
from assess_xl.publish import returns
from assess_xl.publish.outbox import Contact, Mailbox, Outgoing
from assess_xl.read.merge import ReadResult
from assess_xl.rules.model import Rulebook

T = TypeVar("T")
FORMS, REMINDERS, RETURNS = "forms", "remind", "returns"
KIND_NAMES = {FORMS: "填报表", REMINDERS: "催报", RETURNS: "退回修改"}


@dataclass(frozen=True)
class Mailing:
    messages: list[Outgoing]
    unsent: list[str]  # departments that get nothing, and why


def _of(messages: list[Outgoing], contacts: dict[str, Contact], departments: Iterable[str], unsent: list[str]) -> Mailing:
    unaddressed = outbox.unaddressed(contacts, departments)
    if unaddressed:
        unsent = [*unsent, text(Code.SEND_NO_ADDRESS, departments="、".join(unaddressed))]
    return Mailing(messages, unsent)


def _chosen(by_department: dict[str, T], departments: list[str] | None) -> dict[str, T]:
    return by_department if departments is None else {d: v for d, v in by_department.items() if d in departments}


def forms_mailing(book: Rulebook, contacts: dict[str, Contact], folder: Path, sender: Mailbox,
                  deadline: str) -> Mailing:
    """Each department its own form from the folder `forms` wrote; those without one are named."""
    copies = forms_module.department_copies(book, folder)
    lacking = [d for d in book.departments if book.department_indicators(d) and d not in copies]
    unsent = [text(Code.SEND_NO_FORM, folder=folder, departments="、".join(lacking))] if lacking else []
    return _of(outbox.form_messages(book, contacts, copies, sender, deadline), contacts, copies, unsent)


def round_of(given: str, deadline: str, today: date | None = None) -> str:
    """A reminder's round: as given, else the deadline, else today's date (a new round is mailed again)."""
    return given.strip() or (f"截止{deadline.strip()}" if deadline.strip() else (today or date.today()).isoformat())


def reminder_mailing(book: Rulebook, contacts: dict[str, Contact], read: ReadResult, sender: Mailbox, deadline: str,
                     round_name: str, departments: list[str] | None = None) -> Mailing:
    """催报 to the departments that owe something (all, or those of `departments`)."""
    owing = _chosen(returns.owing_lines(book, read), departments)
    return _of(outbox.reminder_messages(book, contacts, owing, sender, deadline, round_name,
                                        returns.received_from(read)), contacts, owing, [])


def returns_mailing(book: Rulebook, contacts: dict[str, Contact], read: ReadResult, sender: Mailbox, deadline: str,
                    departments: list[str] | None = None) -> Mailing:
    """退回修改 copies to the departments that must fix or complete something (all, or those of `departments`)."""
    copies = {c.departments[0]: (c.name, c.content) for c in returns.return_copies(book, read, departments=departments)}
    return _of(outbox.return_messages(book, contacts, copies, sender, deadline, returns.received_from(read)),
               contacts, copies, [])
