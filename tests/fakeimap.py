"""An IMAP server on 127.0.0.1 that lies, for the tests of fetch: enough of IMAP4rev1 for a client
to log in, examine a folder, search, ask for sizes and fetch bodies; and per message a way to
misbehave when its body is asked for:

- normal: the message as it is
- temporary_no: a tagged NO ([UNAVAILABLE]) the first `times` times, then the message
- huge_literal: declares a literal of 2 GB (RFC822.SIZE says the truth), then sends bytes slowly
- oversize: RFC822.SIZE says 2 GB (the body is never asked for)
- endless: untagged FETCH responses without end, as fast as the client reads
- drip: the answer one byte every `interval` seconds
"""
from __future__ import annotations

import re
import socketserver
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HUGE = 2 * 1024 ** 3


@dataclass
class Message:
    raw: bytes
    behaviour: str = "normal"
    times: int = 1  # temporary_no: how many refusals
    interval: float = 0.5  # drip: seconds between bytes


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def handle(self) -> None:
        try:
            self.send(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready\r\n")
            while line := self.rfile.readline(100_000):
                parts = line.decode("ascii", "replace").strip().split(" ", 2)
                if len(parts) < 2:
                    continue
                tag, command, rest = parts[0], parts[1].upper(), (parts[2] if len(parts) > 2 else "")
                if not self.answer(tag.encode(), command, rest):
                    return
        except (OSError, ValueError):  # the client gave up on a lying answer: that is the point
            return

    def answer(self, tag: bytes, command: str, rest: str) -> bool:
        server: FakeServer = self.server  # type: ignore[assignment]
        if command == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
        elif command == "LOGIN":
            good = rest.split(" ")[-1].strip('"') == "secret"
            self.send(tag + (b" OK logged in\r\n" if good else b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"))
        elif command in ("SELECT", "EXAMINE"):
            self.send(f"* {len(server.messages)} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n".encode()
                      + tag + b" OK [READ-ONLY] done\r\n")
        elif command == "UID":
            self.uid_command(tag, rest)
        elif command == "LOGOUT":
            self.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            return False
        else:
            self.send(tag + b" OK done\r\n")
        return True

    def uid_command(self, tag: bytes, rest: str) -> None:
        server: FakeServer = self.server  # type: ignore[assignment]
        sub, _, arguments = rest.partition(" ")
        if sub.upper() == "SEARCH":
            uids = " ".join(str(uid) for uid in range(1, len(server.messages) + 1))
            self.send(f"* SEARCH {uids}\r\n".encode() + tag + b" OK done\r\n")
        elif sub.upper() == "FETCH" and "RFC822.SIZE" in arguments.upper():
            for uid in re.match(r"[\d,]+", arguments).group().split(","):  # type: ignore[union-attr]
                message = server.messages[int(uid) - 1]
                size = HUGE if message.behaviour == "oversize" else len(message.raw)
                self.send(f"* {uid} FETCH (UID {uid} RFC822.SIZE {size})\r\n".encode())
            self.send(tag + b" OK done\r\n")
        elif sub.upper() == "FETCH":
            self.body(tag, int(arguments.split(" ")[0]))
        else:
            self.send(tag + b" OK done\r\n")

    def body(self, tag: bytes, uid: int) -> None:
        server: FakeServer = self.server  # type: ignore[assignment]
        message = server.messages[uid - 1]
        server.requests.append(uid)
        head = f"* {uid} FETCH (UID {uid} BODY[] {{".encode()
        if message.behaviour == "temporary_no" and server.requests.count(uid) <= message.times:
            self.send(tag + b" NO [UNAVAILABLE] Temporary failure, try again later\r\n")
        elif message.behaviour == "huge_literal":
            self.send(head + f"{HUGE}}}\r\n".encode())
            while True:
                self.send(b"x" * 1024)
                time.sleep(0.05)
        elif message.behaviour == "endless":
            while True:
                self.send(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))\r\n".encode() * 2000)
        elif message.behaviour == "drip":
            for byte in head + f"{len(message.raw)}}}\r\n".encode() + message.raw:
                self.send(bytes([byte]))
                time.sleep(message.interval)
        else:
            self.send(head + f"{len(message.raw)}}}\r\n".encode() + message.raw + b")\r\n" + tag + b" OK done\r\n")


class FakeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, messages: list[Message]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.messages = messages
        self.requests: list[int] = []  # UIDs whose bodies were asked for, in order


@contextmanager
def lying_server(messages: list[Message]):
    """The port of a fake IMAP server holding `messages` (UIDs 1, 2, …)."""
    server = FakeServer(messages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def message(workbook: bytes | None, subject: str, date: str, message_id: str, filename: str = "kfc.xlsx",
            sender: str = "kfc@example.cn") -> bytes:
    """A return as a mail program sends it: a text part and the workbook, its name in GBK (RFC 2231)."""
    outer = MIMEMultipart()
    outer["From"], outer["To"], outer["Subject"] = sender, "zhc@example.cn", subject
    outer["Date"], outer["Message-ID"] = date, message_id
    outer.attach(MIMEText("见附件", "plain", "utf-8"))
    if workbook is not None:
        part = MIMEApplication(workbook, _subtype="octet-stream")
        part.add_header("Content-Disposition", "attachment", filename=("gbk", "", filename))
        outer.attach(part)
    return outer.as_bytes()
