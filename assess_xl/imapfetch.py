"""Returns fetched from an IMAP mailbox: every message that carries a workbook (or a zip of them),
one .eml each, named by its date and a hash of its Message-ID, so that a second run downloads only
what is new. Read-only on the server: the folder is selected read-only and bodies are read with
BODY.PEEK, unless the coordinator asks to mark mail as seen. Works on a logged-in imap-tools
mailbox given by the caller; writes nothing itself."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Callable

from imap_tools import AND, MailMessageFlags

from . import mail


def file_name(message) -> str:
    """date and a hash of the Message-ID (or of the whole header when there is none)."""
    stamp = message.date if isinstance(message.date, datetime) and message.date.year > 1900 else None
    message_id = (message.headers.get("message-id") or ("",))[0].strip()
    identity = message_id or f"{message.date_str}|{message.from_}|{message.subject}|{message.size}"
    digest = hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:12]
    return f"{stamp:%Y%m%d-%H%M%S}-{digest}.eml" if stamp else f"00000000-000000-{digest}.eml"


def fetch_new(mailbox, folder: str, since: date | None, known: set[str], mark_seen: bool = False,
              progress: Callable[[int, int], None] | None = None) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(name, raw message) for every new message with a workbook; and the names of new messages
    checked that had none (so they are not downloaded again)."""
    mailbox.folder.set(folder, readonly=not mark_seen)
    criteria = AND(date_gte=since) if since else AND(all=True)
    headers = [m for m in mailbox.fetch(criteria, headers_only=True, mark_seen=False, bulk=True)
               if file_name(m) not in known]
    found, checked = [], []
    for number, message in enumerate(headers, start=1):
        name = file_name(message)
        raw = _raw(mailbox, message.uid)
        if mail.unpack("eml", raw, name).parts:
            found.append((name, raw))
            if mark_seen:
                mailbox.flag(message.uid, MailMessageFlags.SEEN, True)
        else:
            checked.append(name)
        if progress:
            progress(number, len(headers))
    return found, checked


def _raw(mailbox, uid: str) -> bytes:
    """The message exactly as the server holds it (BODY.PEEK: the \\Seen flag is left alone)."""
    status, data = mailbox.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return b""
    return b"".join(part[1] for part in data if isinstance(part, tuple) and len(part) > 1)
