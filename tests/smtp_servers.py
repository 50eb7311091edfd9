"""SMTP servers for the send tests, real aiosmtpd on 127.0.0.1: one that behaves, and ones that
misbehave as servers seen in the field do (refuse QUIT with 500, drop the connection after some
messages, stall on a message so that the sender can be killed mid-way)."""
import asyncio
import socket
import threading

from aiosmtpd.controller import Controller


class Collector:
    """Keeps what it receives and refuses addresses starting with `refuse@`. Misbehaviours:
    `quit_reply` (e.g. "500 …") answers QUIT; after `drop_after` accepted messages the next DATA drops
    the connection; after `stall_after` accepted messages the next DATA sets `stalled` and hangs."""

    def __init__(self, quit_reply: str | None = None, drop_after: int | None = None, stall_after: int | None = None):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.quit_reply = quit_reply
        self.drop_after = drop_after
        self.stall_after = stall_after
        self.stalled = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_after is not None and len(self.received) >= self.drop_after:
            server.transport.close()
            return "421 closing"
        if self.stall_after is not None and len(self.received) >= self.stall_after:
            self.stalled.set()
            await asyncio.sleep(120)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    async def handle_QUIT(self, server, session, envelope):
        return self.quit_reply or "221 Bye"


def _keeper(logins: list[tuple[str, str]]):
    def authenticate(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)
    return authenticate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    """A started server: `address` is host:port for --smtp; stop() when done. With `logins`, it offers
    AUTH (over plain SMTP, as a test may) and keeps each (user, password) it was given, accepting them;
    `smtp_options` go to aiosmtpd's SMTP (e.g. password_check's, which accepts only one password)."""

    def __init__(self, handler: Collector, logins: list[tuple[str, str]] | None = None, **smtp_options):
        self.handler = handler
        port = free_port()
        extra = {} if logins is None else {"auth_require_tls": False, "authenticator": _keeper(logins)}
        self.controller = Controller(handler, hostname="127.0.0.1", port=port, **extra, **smtp_options)
        self.controller.start()
        self.address = f"127.0.0.1:{port}"

    def stop(self) -> None:
        self.controller.stop()


def password_check(login: str, password: str):
    """An authenticator for aiosmtpd that accepts only this login and password (AUTH without TLS, as
    on 127.0.0.1 in the tests), and keeps the passwords it was given."""
    from aiosmtpd.smtp import AuthResult, LoginPassword
    tried: list[str] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        tried.append(auth_data.password.decode())
        right = auth_data.login.decode() == login and auth_data.password.decode() == password
        return AuthResult(success=right, handled=False)  # (handled=True would leave the 535 unsaid)

    authenticator.tried = tried
    return {"authenticator": authenticator, "auth_require_tls": False}
