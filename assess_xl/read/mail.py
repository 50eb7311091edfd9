"""Returns that arrive as mail: the workbook attachments of saved messages (.eml, Maildir files),
mailboxes (.mbox), Outlook messages (.msg) and zip archives (one level deep), with each message's
sender, date, subject and Message-ID. Attachment names are decoded as clients write them (RFC 2047
encoded words, RFC 2231 parameters, GBK/GB18030/Big5/UTF-8) by the `email` package's default policy.
Pure: bytes in, parts and verdicts out; runs in the reader's child process."""
from __future__ import annotations

import email
import email.policy
import io
import re
import zipfile
from email.message import Message
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from assess_xl.read.gather import SEPARATOR, now_utc, plausible
from assess_xl.xlsx.preflight import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_RATIO, OLE_MAGIC, WORKBOOK_SUFFIXES, ZIP_MAGIC
from assess_xl.xlsx.layout import printable
from assess_xl.problems import Code

MAX_ATTACHMENTS = 200  # per message
MAX_DEPTH = 5  # message/rfc822 inside message/rfc822
MAX_MESSAGES = 5_000  # per mailbox
MAX_EXTRACTED = 300 * 1024 * 1024  # bytes of attachments taken from one container


@dataclass(frozen=True)
class Envelope:
    """Who sent a workbook, when, and in which message. `date` orders the message: its Date header,
    unless that is later than the message's own receipt (`received`, the top Received header), which
    is then used instead and the Date kept as `claimed` to say so."""
    sender: str = ""
    date: datetime | None = None
    subject: str = ""
    message_id: str = ""
    received: datetime | None = None
    claimed: datetime | None = None

    def describe(self) -> str:
        text = (f"发件人：{self.sender or '不详'}；日期：{_local(self.date)}；主题：{self.subject}；"
                f"Message-ID：{self.message_id}")
        if self.claimed is not None:
            text += (f"；邮件的Date（{_local(self.claimed)}）晚于收到时间（{_local(self.received)}），不可信，"
                     "按收到时间判断先后")
        return text


def _local(stamp: datetime | None) -> str:
    return stamp.astimezone().strftime("%Y-%m-%d %H:%M") if stamp else "不详"


@dataclass(frozen=True)
class Part:
    name: str  # shown as 邮件文件 › 附件名
    data: bytes
    envelope: Envelope = Envelope()


@dataclass
class Unpacked:
    parts: list[Part] = field(default_factory=list)
    verdicts: list[tuple[str, Code, dict[str, Any]]] = field(default_factory=list)  # (name, problem code, fields)
    extracted: int = 0
    now: datetime | None = None  # the run's time: a later Date is not plausible

    def add(self, part: Part) -> None:
        if self.extracted + len(part.data) > MAX_EXTRACTED:
            self.verdicts.append((part.name, Code.MAIL_TOO_MUCH, {}))
            return
        self.extracted += len(part.data)
        self.parts.append(part)


def unpack(kind: str, data: bytes, shown: str, now: datetime | None = None) -> Unpacked:
    """kind: eml (one message), msg or zip. A mailbox is split first (`messages`), each message
    read on its own. `now` is the run's time (the clock when not given)."""
    result = Unpacked(now=now)
    if kind == "zip":
        _zip(data, shown, Envelope(), result)
    elif kind == "msg":
        _outlook(data, shown, result)
    else:
        if not _looks_like_mail(data):
            result.verdicts.append((shown, Code.MAIL_NOT_A_MESSAGE, {}))
            return result
        _message(email.message_from_bytes(data, policy=email.policy.default), shown, result, 0)
    if not result.parts and not result.verdicts:
        result.verdicts.append((shown, Code.MAIL_NO_WORKBOOK, {}))
    return result


_SEPARATOR_LINE = re.compile(rb"(?m)^From [^\n]*\n")


def is_mailbox(data: bytes) -> bool:
    """An mbox, whatever its name says: it starts with a separator line and holds several messages."""
    return data.startswith(b"From ") and len(_SEPARATOR_LINE.findall(data, 0, 1 << 26)) >= 2


def messages(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each message of an mbox, in the order stored; separator lines excluded
    (text before the first separator counts as a message)."""
    separators = list(_SEPARATOR_LINE.finditer(data))
    starts = [m.end() for m in separators]
    ends = [m.start() for m in separators[1:]] + [len(data)]
    if not separators or separators[0].start() > 0:
        starts.insert(0, 0)
        ends.insert(0, separators[0].start() if separators else len(data))
    return [(begin, end - begin) for begin, end in zip(starts, ends) if data[begin:end].strip()]


_ATTACHED = re.compile(rb"(?im)^content-disposition:[ \t]*attachment|^content-type:[^\n]*\bname\*?=|filename\*?=")
_DATE_LINE = re.compile(rb"(?im)^date:[ \t]*([^\r\n]{1,100})")


def preference(message: bytes, now: datetime | None = None) -> tuple[bool, datetime]:
    """How much a message of a mailbox looks like a return, read from its raw bytes (no parsing):
    one with an attachment first, then the newest by its Date line."""
    head = message[:65536]
    date = None
    found = _DATE_LINE.search(head)
    if found:
        try:
            date = parsedate_to_datetime(found.group(1).decode("ascii", "replace").strip())
        except (TypeError, ValueError, IndexError):
            date = None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    stamp = date if plausible(date, now or now_utc()) else None
    return bool(_ATTACHED.search(message)), stamp or datetime.min.replace(tzinfo=timezone.utc)


def choose(data: bytes, spans: list[tuple[int, int]], limit: int = MAX_MESSAGES,
           now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Which messages (indexes) to read when there are more than `limit`: those with attachments,
    then the newest (by Date, then stored later); and the indexes not read, so they can be named."""
    if len(spans) <= limit:
        return list(range(len(spans))), []
    ranked = sorted(range(len(spans)), key=lambda i: (*preference(data[spans[i][0]:sum(spans[i])], now), i), reverse=True)
    return sorted(ranked[:limit]), sorted(ranked[limit:])


def _looks_like_mail(data: bytes) -> bool:
    head = data[:4096]
    return bool(re.search(rb"(?im)^(from|date|subject|message-id|received|mime-version|to|return-path):", head))


def envelope_of(message: Message, now: datetime | None = None) -> Envelope:
    sent, received = _stamp(_header(message, "Date"), now), _stamp(_received_text(message), now)
    claimed = sent if sent is not None and received is not None and sent > received else None
    return Envelope(_header(message, "From"), received if claimed else (sent or received),
                    _header(message, "Subject"), _header(message, "Message-ID"), received, claimed)


def _header(message: Message, name: str) -> str:
    try:
        value = str(message.get(name) or "")
    except Exception:  # a malformed header: the email package raises several types
        return ""
    if _GARBLED.search(value):
        value = next((_raw_bytes_text(raw) for key, raw in message.raw_items() if key.lower() == name.lower()), value)
    return printable(value).strip()[:300]


# What the email package makes of a header written in raw 8-bit bytes (GBK from older Chinese mail programs,
# not encoded as RFC 2047/2231 asks): replacement or private-use characters, or escaped bytes.
_GARBLED = re.compile("[\ufffd\ue000-\uf8ff\udc80-\udcff]")
_RAW_PARAMETER = r'\b{key}\s*=\s*(?:"([^"]*)"|([^;\s]+))'  # key="value" or key=value, as written


def _raw_bytes_text(raw: str) -> str:
    """A raw header value (bytes kept as surrogate escapes) decoded as its writer meant: UTF-8, else GB18030,
    else Big5; as written when none of them fits."""
    data = raw.encode("utf-8", "surrogateescape")
    for charset in ("utf-8", "gb18030", "big5"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def _raw_parameter(part: Message, header: str, key: str) -> str:
    raw = next((value for name, value in part.raw_items() if name.lower() == header), "")
    found = re.search(_RAW_PARAMETER.format(key=key), raw, re.IGNORECASE)
    return _raw_bytes_text(found.group(1) or found.group(2)) if found else ""


def _received_text(message: Message) -> str:
    """The date of the top Received header: when the receiving server took the message."""
    try:
        received = message.get_all("Received") or []
    except Exception:  # malformed headers
        received = []
    return str(received[0]).rsplit(";", 1)[-1] if received else ""


def _stamp(text: str, now: datetime | None) -> datetime | None:
    """A header's date, only when plausible (after 1990, not in the future)."""
    try:
        stamp = parsedate_to_datetime(text.strip()) if text.strip() else None
    except (TypeError, ValueError, IndexError):
        return None
    if stamp is None:
        return None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return stamp if plausible(stamp, now or now_utc()) else None


def _message(message: Message, shown: str, result: Unpacked, depth: int) -> None:
    content_type = str(message.get("Content-Type", ""))
    if message.get_content_type() == "application/pkcs7-mime" or "enveloped-data" in content_type:
        result.verdicts.append((shown, Code.MAIL_ENCRYPTED, {}))
        return
    _walk(message, shown, envelope_of(message, result.now), result, depth, [0])


def _children(node: Message) -> list[Message]:
    payload = node.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _walk(node: Message, shown: str, envelope: Envelope, result: Unpacked, depth: int, count: list[int]) -> None:
    """The parts of a message, a forwarded message/rfc822 counting as one level deeper."""
    for part in _children(node):
        if part.get_content_type() == "message/rfc822":
            if depth + 1 > MAX_DEPTH:
                result.verdicts.append((shown, Code.MAIL_TOO_DEEP, {"limit": MAX_DEPTH}))
                continue
            for inner in _children(part):
                _message(inner, shown, result, depth + 1)
        elif part.is_multipart():
            _walk(part, shown, envelope, result, depth, count)
        else:
            name = _attachment_name(part)
            if not name and part.get_content_maintype() == "text":
                continue
            count[0] += 1
            if count[0] > MAX_ATTACHMENTS:
                if count[0] == MAX_ATTACHMENTS + 1:
                    result.verdicts.append((shown, Code.MAIL_TOO_MANY_ATTACHMENTS, {"limit": MAX_ATTACHMENTS}))
                continue
            _attachment(part, name, shown, envelope, result)


def _attachment_name(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # a malformed parameter: the email package raises several types
        name = ""
    if _GARBLED.search(str(name)):  # raw 8-bit bytes in the header: decode them as the sender's program meant
        name = _raw_parameter(part, "content-disposition", "filename") or _raw_parameter(part, "content-type", "name") or name
    name = re.split(r"[/\\]", str(name))[-1]
    return printable(name).strip()[:120]


def _attachment(part: Message, name: str, shown: str, envelope: Envelope, result: Unpacked) -> None:
    where = f"{shown}{SEPARATOR}{name or '（无名附件）'}"
    if name.lower() == "winmail.dat" or part.get_content_type() == "application/ms-tnef":
        result.verdicts.append((where, Code.MAIL_TNEF, {}))
        return
    try:
        payload = part.get_payload(decode=True)  # a leaf's bytes (None when empty)
        data = payload if isinstance(payload, bytes) else b""
    except Exception:  # broken transfer encoding
        result.verdicts.append((where, Code.MAIL_BROKEN_ATTACHMENT, {}))
        return
    _take(data, name, where, envelope, result)


def _take(data: bytes, name: str, where: str, envelope: Envelope, result: Unpacked) -> None:
    """A workbook (by first bytes or name) is a part; a zip that is not a workbook is opened one level."""
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if data.startswith(ZIP_MAGIC) and not _is_workbook_zip(data):
        if suffix in WORKBOOK_SUFFIXES:
            result.add(Part(where, data, envelope))  # a damaged workbook: its verdict comes from the pre-flight
        else:
            _zip(data, where, envelope, result)
    elif data.startswith((ZIP_MAGIC, OLE_MAGIC)) or suffix in WORKBOOK_SUFFIXES:
        result.add(Part(where, data, envelope))


def _is_workbook_zip(data: bytes) -> bool:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "xl/workbook.xml" in names or "xl/workbook.bin" in names or "mimetype" in names


def _zip(data: bytes, shown: str, envelope: Envelope, result: Unpacked) -> None:
    """The workbooks inside an archive, one level deep, under the pre-flight's limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        result.verdicts.append((shown, Code.ZIP_DAMAGED, {}))
        return
    if len(members) > MAX_MEMBERS:
        result.verdicts.append((shown, Code.TOO_MANY_PARTS, {"count": len(members)}))
        return
    found = 0
    for member in members:
        name = _member_name(member)
        suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        if member.is_dir() or suffix not in WORKBOOK_SUFFIXES or name.startswith("~$"):
            continue
        if member.file_size > MAX_MEMBER_BYTES or member.file_size > MAX_RATIO * max(member.compress_size, 1) + 10_000_000:
            result.verdicts.append((f"{shown}{SEPARATOR}{name}", Code.ZIP_BOMB, {"size": member.file_size // 1048576}))
            continue
        try:
            content = archive.read(member)
        except Exception:  # a damaged member
            result.verdicts.append((f"{shown}{SEPARATOR}{name}", Code.PART_DAMAGED, {"part": name}))
            continue
        found += 1
        result.add(Part(f"{shown}{SEPARATOR}{name}", content, envelope))
    if not found:
        result.verdicts.append((shown, Code.MAIL_NO_WORKBOOK, {}))


def _member_name(member: zipfile.ZipInfo) -> str:
    """Windows archivers write GBK names without the UTF-8 flag; Python then decodes them as cp437."""
    name = member.filename
    if not member.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return printable(re.split(r"[/\\]", name)[-1]).strip()[:120]


def _outlook(data: bytes, shown: str, result: Unpacked) -> None:
    try:
        import extract_msg
        message = extract_msg.openMsg(data)
    except Exception:  # extract-msg raises its own types for a file that is not an Outlook message
        result.verdicts.append((shown, Code.MAIL_NOT_A_MESSAGE, {}))
        return
    try:
        date = getattr(message, "date", None)  # openMsg returns a Message for mail: these fields are its own
        date = date if isinstance(date, datetime) else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        sender, subject, message_id = (printable(str(getattr(message, key, "") or ""))[:300]
                                       for key in ("sender", "subject", "messageId"))
        envelope = Envelope(sender, date if plausible(date, result.now or now_utc()) else None, subject, message_id)
        for attachment in message.attachments:
            payload = getattr(attachment, "data", None)
            if not isinstance(payload, bytes):
                continue
            name = printable(str(attachment.longFilename or attachment.shortFilename or "")).strip()[:120]
            _take(payload, name, f"{shown}{SEPARATOR}{name or '（无名附件）'}", envelope, result)
    finally:
        message.close()
