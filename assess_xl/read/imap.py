"""Returns fetched from an IMAP mailbox, without trusting the server.

Every message that carries a workbook (or a zip of them) is kept as one .eml named by its date, its
sender and a hash of its content, so two messages never share a name. Read-only on the server: the
folder is examined (not selected for writing) and bodies are read with BODY.PEEK, unless the
coordinator asks to mark mail as seen. What was read is remembered by the folder's UIDVALIDITY and
the message's UID, so a second run downloads only what is new; a message the server did not deliver
(a temporary NO, a timeout, a lie about its size) is not remembered and is tried again next run.

The server is held to bounds (imaplib alone reads any literal the server declares into memory, waits
forever for a slow drip and collects an endless response): every reply has a deadline and a byte
budget, a message's declared size (RFC822.SIZE, then the literal's own) is checked before a byte of it
is read, and lines are capped. Messages are parsed only in the sandbox's children (one per message,
with its memory and time limits); the main process never parses a header. Writes nothing itself:
the caller stores each batch through `deliver`."""
from __future__ import annotations

import email.parser
import email.policy
import hashlib
import imaplib
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from typing import Any, Callable

from assess_xl.read import mail

from assess_xl.xlsx import sandbox
from assess_xl import problems as P
from assess_xl.xlsx.layout import printable, safe_file_name
from assess_xl.problems import Code

MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # a return is a few hundred KB; a message over this is not downloaded
MAX_LINE_BYTES = 1_000_000  # one line of a response (imaplib's own cap)
MAX_LISTING_BYTES = 32 * 1024 * 1024  # the reply to a search or to a request for sizes
MAX_LINES = 10_000  # lines in one reply (a reply for sizes has one a message, SIZE_CHUNK at most)
MIN_RATE = 100 * 1024  # bytes per second a large message may take beyond the timeout
DEFAULT_TIMEOUT = 60.0  # seconds for any one reply of the server
MAX_HEADER_FIELD = 16 * 1024  # one header field of a message (decoding cost grows with its square)
MAX_HEADER_BLOCK = 256 * 1024
BATCH_BYTES = 64 * 1024 * 1024  # messages parsed (in children) and stored together
BATCH_MESSAGES = 64
SIZE_CHUNK = 500  # UIDs per request for sizes
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ServerFault(Exception):
    """The server broke one of the bounds, or the connection failed; `code` is a catalogue code."""

    def __init__(self, code: Code, **fields: object):
        super().__init__(code)
        self.code, self.fields = code, fields


class Guarded:
    """imaplib's reading replaced by reads from the socket that keep a deadline and a byte budget
    for the current reply and refuse a literal larger than allowed before reading any of it."""

    def __init__(self, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any):
        self._buffer = bytearray()
        self._scanned = 0
        self.timeout = timeout
        self.expect(timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
        super().__init__(*args, timeout=timeout, **kwargs)  # type: ignore[call-arg]

    def expect(self, seconds: float, budget: int, literal_limit: int) -> None:
        """Bounds for the next reply: its deadline, its bytes, its largest literal."""
        self._deadline = time.monotonic() + seconds
        self._budget = budget
        self._lines = MAX_LINES
        self._literal_limit = literal_limit

    def _fill(self) -> bool:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise ServerFault(Code.FETCH_TIMEOUT, seconds=_seconds(self.timeout))
        sock = self.sock  # type: ignore[attr-defined]  # set by imaplib.IMAP4.open
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise ServerFault(Code.FETCH_TIMEOUT, seconds=_seconds(self.timeout)) from None
        self._budget -= len(chunk)
        if self._budget < 0:
            raise ServerFault(Code.FETCH_RESPONSE_TOO_LONG)
        self._buffer += chunk
        return bool(chunk)

    def readline(self) -> bytes:
        while (end := self._buffer.find(b"\n", self._scanned)) < 0:
            self._scanned = len(self._buffer)
            if self._scanned > MAX_LINE_BYTES:
                raise ServerFault(Code.FETCH_RESPONSE_TOO_LONG)
            if not self._fill():
                end = len(self._buffer) - 1
                break
        line = bytes(self._buffer[:end + 1])
        del self._buffer[:end + 1]
        self._scanned = 0
        self._lines -= 1
        if self._lines < 0:
            raise ServerFault(Code.FETCH_RESPONSE_TOO_LONG)
        return line

    def read(self, size: int) -> bytes:
        if size > self._literal_limit:
            raise ServerFault(Code.FETCH_LITERAL_TOO_LARGE, size=_megabytes(size), limit=_megabytes(self._literal_limit))
        while len(self._buffer) < size and self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return data


class PlainClient(Guarded, imaplib.IMAP4):
    pass


class SecureClient(Guarded, imaplib.IMAP4_SSL):
    pass


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # ssl, starttls or plain
    user: str
    password: str = field(repr=False)
    cafile: str | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Examined:
    """What a child found in one message."""
    workbooks: int
    sender: str = ""  # the From address
    stamp: str = ""  # its date as YYYYmmdd-HHMMSS, or ""
    subject: str = ""
    legacy: str = ""  # the name an earlier version gave it (date and Message-ID hash)
    verdict: Code | None = None  # a catalogue code when the message is refused


@dataclass
class Fetched:
    """What one run did: names saved, how many had no workbook, messages skipped and to retry (Chinese)."""
    saved: list[str] = field(default_factory=list)
    already: int = 0
    without_workbook: int = 0
    refused: list[str] = field(default_factory=list)  # read, and not usable: named, not tried again
    retry: list[str] = field(default_factory=list)  # not read: tried again next run
    total: int = 0


Deliver = Callable[[list[tuple[str, bytes]], list[str]], list[bool]]


def connect(server: Server, folder: str, writable: bool) -> tuple[imaplib.IMAP4, str]:
    """A logged-in client with `folder` selected (read-only unless `writable`) and the folder's UIDVALIDITY."""
    context = ssl.create_default_context(cafile=server.cafile) if server.security != "plain" else None
    client: imaplib.IMAP4
    if server.security == "ssl":
        client = SecureClient(server.host, server.port, ssl_context=context, timeout=server.timeout)
    else:
        client = PlainClient(server.host, server.port, timeout=server.timeout)
    try:
        if server.security == "starttls":
            client.expect(server.timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
            client.starttls(ssl_context=context)
        client.expect(server.timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
        try:
            client.login(server.user, server.password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            raise ServerFault(Code.FETCH_LOGIN_FAILED, user=server.user) from None
        client.expect(server.timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
        status, _ = client.select(_quoted(folder), readonly=not writable)
        if status != "OK":
            raise ServerFault(Code.FETCH_NO_FOLDER, folder=folder)
        validity = (client.response("UIDVALIDITY")[1] or [b""])[0]
        return client, (validity or b"0").decode("ascii", "replace")
    except BaseException:
        abandon(client)
        raise


def close(client: imaplib.IMAP4) -> None:
    """Log out within a few seconds; a server that does not answer is simply left."""
    try:
        client.expect(5.0, MAX_LINE_BYTES, MAX_LINE_BYTES)
        client.logout()
    except Exception:  # the connection is being given up: any failure here changes nothing
        abandon(client)


def abandon(client: imaplib.IMAP4) -> None:
    try:
        client.shutdown()
    except Exception:  # already closed
        pass


def _quoted(folder: str) -> str:
    from imap_tools.imap_utf7 import utf7_encode
    encoded = utf7_encode(folder).decode("ascii")
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_key(server: Server, folder: str, validity: str) -> str:
    """Identifies the folder across runs; a message's key adds its UID."""
    where = f"{server.user.lower()}@{server.host.lower()}/{folder}"
    return f"{hashlib.sha256(where.encode('utf-8')).hexdigest()[:10]}-{validity}"


def list_new(client: imaplib.IMAP4, since: date | None, known: set[str], prefix: str,
             timeout: float) -> list[tuple[str, int | None]]:
    """(UID, declared size) of every message in the folder not read before."""
    criteria = ("SINCE", f"{since.day:02d}-{MONTHS[since.month - 1]}-{since.year}") if since else ("ALL",)
    client.expect(timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
    status, data = client.uid("SEARCH", *criteria)
    if status != "OK":
        raise ServerFault(Code.FETCH_SEARCH_REFUSED)
    uids = [u.decode() for u in b" ".join(d for d in data if isinstance(d, bytes)).split() if u.isdigit()]
    new = [uid for uid in dict.fromkeys(uids) if f"{prefix}-{uid}" not in known]
    sizes: dict[str, int] = {}
    for start in range(0, len(new), SIZE_CHUNK):
        client.expect(timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
        status, data = client.uid("FETCH", ",".join(new[start:start + SIZE_CHUNK]), "(RFC822.SIZE)")
        for item in data if status == "OK" else []:
            line = item[0] if isinstance(item, tuple) else item
            found_uid, found_size = re.search(rb"UID (\d+)", line or b""), re.search(rb"RFC822\.SIZE (\d+)", line or b"")
            if found_uid and found_size:
                sizes[found_uid.group(1).decode()] = int(found_size.group(1))
    return [(uid, sizes.get(uid)) for uid in new]


def download(client: imaplib.IMAP4, uid: str, size: int | None, timeout: float) -> bytes:
    """The message exactly as the server holds it (BODY.PEEK: the \\Seen flag is left alone)."""
    allowance = timeout + min(size or 0, MAX_MESSAGE_BYTES) / MIN_RATE
    client.expect(allowance, MAX_MESSAGE_BYTES + MAX_LINE_BYTES, MAX_MESSAGE_BYTES)
    try:
        status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error:  # BAD: refused, the connection stays usable
        raise ServerFault(Code.FETCH_REFUSED, status="BAD") from None
    if status != "OK":  # the server's own words are English (or anything): only its status is shown
        raise ServerFault(Code.FETCH_REFUSED, status=P.shorten(printable(status), 10))
    for item in data:
        if isinstance(item, tuple) and len(item) > 1 and b"BODY[]" in item[0].upper():
            return bytes(item[1])
    raise ServerFault(Code.FETCH_NO_CONTENT)


def fetch_new(server: Server, folder: str, since: date | None, known: set[str], deliver: Deliver,
              mark_seen: bool = False, names: Callable[[str], str] = lambda address: address,
              progress: Callable[[int, int], None] | None = None) -> Fetched:
    """Download, examine (in the sandbox) and deliver every message not read before. `known` holds
    the keys of messages read and the names of files already saved; `deliver(files, keys)` stores a
    batch and says which files were new; `names` gives the name a sender is saved under."""
    client: imaplib.IMAP4 | None
    client, validity = connect(server, folder, mark_seen)
    result = Fetched()
    prefix = mailbox_key(server, folder, validity)
    try:
        pending = list_new(client, since, known, prefix, server.timeout)
        result.total = len(pending)
        batch: list[tuple[str, bytes]] = []
        with sandbox.isolation(examine) as examine_all:  # one set of children for every batch of the fetch
            for number, (uid, size) in enumerate(pending, start=1):
                client = _one(client, server, folder, mark_seen, uid, size, batch, result)
                if client is None:
                    result.retry.append(P.text(Code.FETCH_LOST_CONNECTION, count=len(pending) - number))
                    break
                if sum(len(raw) for _, raw in batch) >= BATCH_BYTES or len(batch) >= BATCH_MESSAGES:
                    _settle(examine_all(_raws(batch)), batch, prefix, known, deliver, names,
                            client if mark_seen else None, server.timeout, result)
                    batch = []
                if progress:
                    progress(number, len(pending))
            _settle(examine_all(_raws(batch)), batch, prefix, known, deliver, names, client if mark_seen else None,
                    server.timeout, result)
    finally:
        if client is not None:
            close(client)
    return result


def _one(client: imaplib.IMAP4, server: Server, folder: str, mark_seen: bool, uid: str, size: int | None,
         batch: list[tuple[str, bytes]], result: Fetched) -> imaplib.IMAP4 | None:
    """Download one message into the batch, or say why not; a broken connection is opened again.
    Returns the client to go on with, None when the server cannot be reached again. Each message
    costs at most its own deadline, so a server that lies on every message still ends in time."""
    if size is not None and size > MAX_MESSAGE_BYTES:
        result.retry.append(P.text(Code.FETCH_MESSAGE_TOO_LARGE, uid=uid, size=_megabytes(size),
                                   limit=_megabytes(MAX_MESSAGE_BYTES)))
        return client
    try:
        batch.append((uid, download(client, uid, size, server.timeout)))
        return client
    except ServerFault as fault:
        result.retry.append(P.text(Code.FETCH_MESSAGE_FAILED, uid=uid, reason=P.text(fault.code, **fault.fields)))
        if fault.code in (Code.FETCH_REFUSED, Code.FETCH_NO_CONTENT):
            return client
    except (imaplib.IMAP4.abort, OSError) as exc:
        result.retry.append(P.text(Code.FETCH_MESSAGE_FAILED, uid=uid, reason=connection_reason(exc, server)))
    abandon(client)  # what the server sends next cannot be trusted: no polite logout
    try:
        return connect(server, folder, mark_seen)[0]
    except (ServerFault, imaplib.IMAP4.error, OSError):
        return None


def _raws(batch: list[tuple[str, bytes]]) -> list[bytes]:
    return [raw for _, raw in batch]


def _settle(verdicts: list[Examined | sandbox.Failure], batch: list[tuple[str, bytes]], prefix: str, known: set[str],
            deliver: Deliver, names: Callable[[str], str], marking: imaplib.IMAP4 | None, timeout: float,
            result: Fetched) -> None:
    """Deliver a batch examined in the sandbox: the messages with workbooks, and the keys of all read."""
    if not batch:
        return
    files: list[tuple[str, bytes]] = []
    keys: list[str] = []
    for (uid, raw), found in zip(batch, verdicts):
        if isinstance(found, sandbox.Failure) and found.kind == "worker":
            raise ServerFault(Code.FETCH_WORKER_FAILED)
        keys.append(f"{prefix}-{uid}")
        if isinstance(found, sandbox.Failure) or found.verdict:
            result.refused.append(P.text(Code.FETCH_MESSAGE_REFUSED, uid=uid, about=about(raw), reason=_refusal(found)))
        elif not found.workbooks:
            result.without_workbook += 1
        elif found.legacy and found.legacy in known:
            result.already += 1
        else:
            files.append((saved_name(found, raw, names), raw))
    for (name, _), new in zip(files, deliver(files, keys)):
        if new:
            result.saved.append(name)
        else:
            result.already += 1
    if marking is not None:
        _mark_seen(marking, [uid for (uid, _), f in zip(batch, verdicts) if isinstance(f, Examined) and f.workbooks],
                   timeout)


def _mark_seen(client: imaplib.IMAP4, uids: list[str], timeout: float) -> None:
    if uids:
        client.expect(timeout, MAX_LISTING_BYTES, MAX_LINE_BYTES)
        client.uid("STORE", ",".join(uids), "+FLAGS", "(\\Seen)")


_PARSE_FAILURES = {"crash": Code.FETCH_PARSE_CRASH, "timeout": Code.FETCH_PARSE_TIMEOUT, "memory": Code.FETCH_PARSE_MEMORY}


def _refusal(found: Examined | sandbox.Failure) -> str:
    if isinstance(found, Examined):
        return P.text(found.verdict or Code.FETCH_PARSE_ERROR)
    if found.kind in _PARSE_FAILURES:
        return P.text(_PARSE_FAILURES[found.kind])
    return P.text(Code.FETCH_PARSE_DEEP if found.detail.startswith("RecursionError") else Code.FETCH_PARSE_ERROR)


def about(raw: bytes) -> str:
    """（发件人…，主题…）of a message that could not be parsed: read from the first bytes of its
    header only, each field cut short before decoding, so its cost is bounded."""
    head = raw[:8192].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    shown = []
    for name, label in ((b"from", "发件人"), (b"subject", "主题"), (b"date", "日期")):
        found = re.search(rb"(?im)^" + name + rb":[ \t]*([^\r\n]{0,200})", head)
        if found:
            shown.append(f"{label}：{_decoded(found.group(1))}")
    return f"（{'，'.join(shown)}）" if shown else ""


def _decoded(value: bytes) -> str:
    from email.header import decode_header, make_header
    text = value.decode("utf-8", "replace")
    try:
        text = str(make_header(decode_header(text)))
    except Exception:  # a malformed encoded word: shown as it is
        pass
    return P.shorten(printable(text).strip(), 60)


def saved_name(found: Examined, raw: bytes, names: Callable[[str], str]) -> str:
    """date, sender and a hash of the content: two messages never share a name, the same one always does."""
    sender = (names(found.sender) if found.sender else "")[:40] or "发件人不详"
    return safe_file_name(f"{found.stamp or '00000000-000000'}-{sender}-{hashlib.sha256(raw).hexdigest()[:12]}.eml")


# ---- in the child --------------------------------------------------------------------------------

def examine(raw: bytes, *context: object) -> Examined:
    """Runs in a sandboxed child: is this a message with a workbook, and who sent it when."""
    if _header_too_large(raw):
        return Examined(0, verdict=Code.FETCH_HEADER_TOO_LARGE)
    head = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    envelope = mail.envelope_of(head)
    address = parseaddr(envelope.sender)[1]
    stamp = f"{envelope.date:%Y%m%d-%H%M%S}" if envelope.date else ""
    legacy = ""
    if envelope.message_id and stamp:
        legacy = f"{stamp}-{hashlib.sha256(envelope.message_id.encode('utf-8', 'replace')).hexdigest()[:12]}.eml"
    workbooks = len(mail.unpack("eml", raw, "message").parts)
    return Examined(workbooks, address, stamp, envelope.subject, legacy)


def _header_too_large(raw: bytes) -> bool:
    """A header field or header block far beyond any real message (its decoding cost would explode)."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    if end > MAX_HEADER_BLOCK:
        return True
    fields = re.split(rb"\r?\n(?![ \t])", raw[:end])
    return any(len(field) > MAX_HEADER_FIELD for field in fields)


# ---- what the user reads ------------------------------------------------------------------------

def connection_reason(exc: BaseException, server: Server) -> str:
    """A Chinese explanation of why the connection failed (never the library's English)."""
    if isinstance(exc, ServerFault):
        return P.text(exc.code, **exc.fields)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return P.text(Code.FETCH_CERTIFICATE, host=server.host, reason=_certificate_reason(exc))
    if isinstance(exc, ssl.SSLError):
        return P.text(Code.FETCH_TLS_FAILED, host=server.host, port=server.port)
    if isinstance(exc, ConnectionRefusedError):
        return P.text(Code.FETCH_REFUSED_CONNECTION, host=server.host, port=server.port)
    if isinstance(exc, socket.gaierror):
        return P.text(Code.FETCH_UNKNOWN_HOST, host=server.host)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return P.text(Code.FETCH_TIMEOUT, seconds=_seconds(server.timeout))
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, imaplib.IMAP4.abort)):
        return P.text(Code.FETCH_CONNECTION_CLOSED, host=server.host)
    if isinstance(exc, imaplib.IMAP4.error):
        return P.text(Code.FETCH_PROTOCOL, host=server.host)
    return P.text(Code.FETCH_NETWORK, host=server.host, port=server.port)


def _certificate_reason(exc: ssl.SSLCertVerificationError) -> str:
    code = getattr(exc, "verify_code", 0)
    return {18: "服务器使用的是自签证书", 19: "证书链中有自签证书", 20: "找不到签发该证书的CA",
            10: "证书已过期", 9: "证书尚未生效", 62: "证书上的名称与服务器地址不符"}.get(code, "证书不受信任")


def _seconds(value: float) -> str:
    return f"{value:g}"


def _megabytes(size: int) -> str:
    return f"{size / 1048576:.1f}".rstrip("0").rstrip(".")
