"""Handing the coordinator's messages on, and the send log (发送记录.csv) that keeps the promise
"nothing is sent twice". Each message's result is written, flushed and synced to disk the moment the
SMTP server answers for it, so a run killed mid-way, or a server that misbehaves after accepting (a
refused QUIT, a dropped connection), leaves every delivered message logged. A log that cannot be
written stops the run before anything is sent. One row per recipient keeps every field small and
lets a rerun send only to the recipients that did not get the message yet."""
from __future__ import annotations

import csv
import errno
import os
import smtplib
import socket
import ssl
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from assess_xl import files
from assess_xl.publish.outbox import Outgoing, csv_rows, draft_name
from assess_xl.problems import AssessError, Problem, make, text
from assess_xl.problems import Code

SEND_LOG = "发送记录.csv"
LOG_HEADERS = ("时间", "部门", "邮箱", "主题", "Message-ID", "结果", "标识")
SENT, DRAFTED = "已发送", "已写成草稿"
_REASONS = {errno.ENOSPC: "磁盘已满", errno.EDQUOT: "超出磁盘配额", errno.EACCES: "没有写入权限",
            errno.EPERM: "没有写入权限", errno.EROFS: "文件系统只读", errno.EISDIR: "同名的是文件夹",
            errno.ENOTDIR: "路径中有同名的文件而不是文件夹", errno.EFBIG: "文件超过系统允许的大小"}


class DeliveryError(AssessError):
    """Mail could not be (all) sent; `partly_done` says whether mail went out before it."""

    def __init__(self, problem: Problem, sent_any: bool = False):
        super().__init__(problem)
        self.partly_done = sent_any


def os_reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, "系统错误" + (f"{exc.errno}" if exc.errno else type(exc).__name__))


def delivered(log: Path) -> set[tuple[str, str]]:
    """(message key, address) pairs that the log records as accepted by a server. A missing or empty
    (0-byte) log records nothing; a first row is skipped only when it is the header."""
    try:
        data = log.read_bytes() if log.is_file() else b""
    except OSError as exc:
        raise DeliveryError(make(Code.SEND_LOG_UNREADABLE, path=log, reason=os_reason(exc))) from None
    try:
        rows = csv_rows(data.decode("utf-8-sig", errors="replace"))
    except csv.Error as exc:
        raise DeliveryError(make(Code.SEND_LOG_UNREADABLE, path=log, reason=f"CSV格式错误：{exc}")) from None
    if rows and tuple(rows[0]) == LOG_HEADERS:
        rows = rows[1:]
    return {(row[6], address.strip()) for row in rows if len(row) > 6 and row[5] == SENT
            for address in row[2].split(";") if address.strip()}


def remaining(messages: list[Outgoing], done: set[tuple[str, str]]) -> list[tuple[Outgoing, tuple[str, ...]]]:
    """Each message with the recipients that have not yet got it; messages everyone got are left out."""
    out = []
    for message in messages:
        recipients = tuple(r for r in message.recipients if (message.key, r) not in done)
        if recipients:
            out.append((message, recipients))
    return out


class SendLog:
    """发送记录.csv opened for appending before anything is sent (with a BOM and the header when new or
    empty, so that Excel reads it as UTF-8); rows are flushed and synced as they are written."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and stat.S_ISFIFO(path.stat().st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            fresh = not path.exists() or path.stat().st_size == 0
            self._handle = open(path, "a", encoding="utf-8", newline="")
        except OSError as exc:
            raise DeliveryError(make(Code.SEND_LOG_UNWRITABLE, path=path, reason=os_reason(exc))) from None
        self._writer = csv.writer(self._handle)
        try:
            self._write([("\ufeff" + LOG_HEADERS[0], *LOG_HEADERS[1:])] if fresh else [])
        except OSError as exc:
            self.close()
            raise DeliveryError(make(Code.SEND_LOG_UNWRITABLE, path=path, reason=os_reason(exc))) from None

    def _write(self, rows: list[tuple[str, ...]]) -> None:
        self._writer.writerows(rows)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def record(self, message: Outgoing, results: list[tuple[str, str]]) -> None:
        """One row per (recipient, result); raises OSError when the disk refuses it."""
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self._write([(stamp, message.department, address, message.subject, message.message_id, result, message.key)
                     for address, result in results])

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:
            pass  # what could not be flushed was reported when it was written

    def __enter__(self) -> "SendLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_drafts(folder: Path, pending: list[tuple[Outgoing, tuple[str, ...]]]) -> None:
    """The messages as .eml drafts in the outbox (written together, atomically), each logged as drafted."""
    with SendLog(folder / SEND_LOG) as log:
        files.write_files([(folder / draft_name(m, n), m.draft) for n, (m, _) in enumerate(pending, start=1)])
        for message, recipients in pending:
            try:
                log.record(message, [(address, DRAFTED) for address in recipients])
            except OSError as exc:
                raise DeliveryError(make(Code.SEND_LOG_FAILED, path=log.path, reason=os_reason(exc),
                                         messages="无（只写了草稿）")) from None


@dataclass
class Outcome:
    sent: int = 0
    failed: list[tuple[Outgoing, str, str]] = field(default_factory=list)  # message, address, reason
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str | None  # "ssl", "starttls" or None
    user: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, server: str, security: str | None, user: str | None, password: str | None) -> "Server":
        host, _, port = server.partition(":")
        number = int(port) if port.isdigit() else (465 if security == "ssl" else 587 if security == "starttls" else 25)
        return cls(host, number, security, user, password)


def connect(server: Server) -> smtplib.SMTP:
    where = f"{server.host}:{server.port}"
    connection: smtplib.SMTP | None = None
    try:
        if server.security == "ssl":
            connection = smtplib.SMTP_SSL(server.host, server.port, context=ssl.create_default_context(), timeout=60)
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=60)
            if server.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if server.user:
            connection.login(server.user, server.password or "")
        return connection
    except (OSError, smtplib.SMTPException, UnicodeEncodeError) as exc:
        if connection is not None:
            connection.close()
        raise DeliveryError(make(Code.SEND_CONNECT_FAILED, server=where, reason=smtp_reason(exc))) from None


def smtp_reason(exc: BaseException) -> str:
    """What went wrong with the server, in Chinese (the server's own words kept after its code)."""
    if isinstance(exc, UnicodeEncodeError):  # smtplib sends the user name and password as ASCII only
        return "用户名或密码含有中文等非英文字符，SMTP登录只能使用英文字母、数字和符号"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "用户名或密码错误"
    if isinstance(exc, smtplib.SMTPResponseException):
        said = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"服务器回应 {exc.smtp_code} {said}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "服务器不支持所要求的功能（如STARTTLS）"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "服务器证书验证失败（可能是自签名证书或证书与服务器名称不符）"
    if isinstance(exc, ssl.SSLError):
        return "加密连接失败（请确认是否应使用 --ssl 或 --starttls）"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝，服务器未在该端口提供服务"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "连接超时"
    if isinstance(exc, socket.gaierror):
        return "找不到该服务器名称"
    if isinstance(exc, OSError):
        return "网络错误" + (f"（{os_reason(exc)}）" if exc.errno in _REASONS else "")
    return type(exc).__name__


Progress = Callable[[int, int, Outgoing, list[tuple[str, str]]], None]  # done, of, message, (address, result)


def send_all(pending: list[tuple[Outgoing, tuple[str, ...]]], server: Server, sender: str, log: SendLog,
             progress: Progress | None = None) -> Outcome:
    """Hands each message to the server and logs its result at once (then tells `progress`). A dropped connection stops the run
    (the rest is reported, not lost); a log that stops taking rows stops it too, naming what went out
    unlogged; the server's answer to QUIT does not undo what it accepted."""
    outcome = Outcome()
    connection = connect(server)
    lost = False
    try:
        for number, (message, recipients) in enumerate(pending):
            try:
                results = _hand_over(connection, sender, message, recipients)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                left = pending[number:]
                outcome.failed += [(m, r, "未发送（连接中断）") for m, rs in left for r in rs]
                outcome.notes.append(text(Code.SEND_DISCONNECTED, reason=smtp_reason(exc), count=len(left)))
                lost = True
                return outcome
            try:
                log.record(message, results)
            except OSError as exc:
                accepted = any(result == SENT for _, result in results)
                unlogged = f"{message.department}（{message.message_id}）" if accepted else "无"
                raise DeliveryError(make(Code.SEND_LOG_FAILED, path=log.path, reason=os_reason(exc), messages=unlogged),
                                    sent_any=outcome.sent > 0 or accepted) from None
            outcome.sent += any(result == SENT for _, result in results)
            outcome.failed += [(message, address, result) for address, result in results if result != SENT]
            if progress is not None:
                progress(number + 1, len(pending), message, results)
        return outcome
    finally:
        if lost:
            connection.close()
        else:
            _quit(connection, outcome)


def _hand_over(connection: smtplib.SMTP, sender: str, message: Outgoing,
               recipients: tuple[str, ...]) -> list[tuple[str, str]]:
    """(address, result) for each recipient; raises only when the connection itself is lost."""
    try:
        refused = connection.sendmail(sender, list(recipients), message.message)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except smtplib.SMTPServerDisconnected:
        raise
    except smtplib.SMTPException as exc:
        return [(address, f"失败：{smtp_reason(exc)}") for address in recipients]
    return [(address, f"被拒绝：{smtp_reason(smtplib.SMTPResponseException(*refused[address]))}"
             if address in refused else SENT) for address in recipients]


def _quit(connection: smtplib.SMTP, outcome: Outcome) -> None:
    try:
        code, said = connection.quit()
        if code != 221:
            outcome.notes.append(text(Code.SEND_QUIT_REFUSED, reason=smtp_reason(smtplib.SMTPResponseException(code, said))))
    except (smtplib.SMTPException, OSError) as exc:
        outcome.notes.append(text(Code.SEND_QUIT_REFUSED, reason=smtp_reason(exc)))
    finally:
        connection.close()


@dataclass
class Delivery:
    """What one delivery did: messages asked for, how many still had recipients to reach, drafted or sent."""
    asked: int
    pending: int
    drafted: int = 0
    outcome: Outcome | None = None  # when sent through a server

    @property
    def failed(self) -> bool:
        return self.outcome is not None and bool(self.outcome.failed)


def deliver(messages: list[Outgoing], folder: Path, sender: str, server: Callable[[], Server] | None = None,
            progress: Progress | None = None) -> Delivery:
    """The messages not yet delivered (by the send log in `folder`) as drafts into `folder`, or, with
    `server`, through SMTP: the log is opened (and so checked writable) before `server()` is asked
    for the server (the command line asks for the password there) and before anything is sent."""
    pending = remaining(messages, delivered(folder / SEND_LOG))
    if not pending:
        return Delivery(len(messages), 0)
    if server is None:
        write_drafts(folder, pending)
        return Delivery(len(messages), len(pending), drafted=len(pending))
    with SendLog(folder / SEND_LOG) as log:
        outcome = send_all(pending, server(), sender, log, progress)
    return Delivery(len(messages), len(pending), outcome=outcome)


def summary(delivery: Delivery, folder: Path) -> list[str]:
    """What a delivery did, in Chinese: nothing to send, drafts written, or how many sent (failures and
    the server's notes are the outcome's own lines)."""
    if not delivery.pending:
        return [text(Code.SEND_NOTHING_PENDING if delivery.asked else Code.SEND_NOTHING)]
    if delivery.outcome is None:
        return [text(Code.SEND_DRAFTED, count=delivery.drafted, folder=folder)]
    return [text(Code.SEND_SENT, count=delivery.outcome.sent)]


def failure_lines(outcome: Outcome) -> list[str]:
    return [text(Code.SEND_FAILED_ONE, department=m.department, address=address, reason=reason)
            for m, address, reason in outcome.failed]
