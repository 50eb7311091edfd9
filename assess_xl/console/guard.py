"""The console's gate, in front of every route: the Host header must name this console on 127.0.0.1
(a page elsewhere cannot reach it through DNS rebinding); the random token of the printed URL is
exchanged once for a cookie, and every request without it is refused; a request that changes
anything carries the CSRF token (header or query) and, when the browser says where it comes from,
comes from the console itself; a body larger than the limit is refused while it arrives."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assess_xl import problems as P
from assess_xl.problems import Code

SAFE_METHODS = ("GET", "HEAD")
CSRF_HEADER = "x-csrf-token"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # (no-referrer would make the browser send Origin: null with forms)
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class Secrets:
    token: str  # in the URL once, then in a cookie
    csrf: str  # in every page, sent back with every change

    @classmethod
    def new(cls) -> "Secrets":
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32))


class BodyTooLarge(Exception):
    pass


class Guard:
    def __init__(self, app: ASGIApp, keys: Secrets, port: int, body_limit: int):
        self.app = app
        self.keys = keys
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.cookie = f"assess_xl_{port}"
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host not in self.hosts:
            await _refuse(send, 403, P.text(Code.CONSOLE_BAD_HOST, host=host[:100]))
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            await self._exchange(scope, send, query)
            return
        if not secrets.compare_digest(_cookie(headers, self.cookie).encode(), self.keys.token.encode()):
            await _refuse(send, 403, P.text(Code.CONSOLE_NO_TOKEN))
            return
        if scope["method"] not in SAFE_METHODS and not self._same_origin_with_csrf(headers, query, host):
            await _refuse(send, 403, P.text(Code.CONSOLE_BAD_CSRF))
            return
        if int(headers.get("content-length") or 0) > self.body_limit:
            await _refuse(send, 413, P.text(Code.UPLOAD_TOTAL, limit=self.body_limit // (1024 * 1024)))
            return
        await self._pass(scope, receive, send)

    async def _exchange(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        """?token=… : when right, set the cookie and show the same address without the token."""
        if not secrets.compare_digest(query["token"].encode(), self.keys.token.encode()):
            await _refuse(send, 403, P.text(Code.CONSOLE_NO_TOKEN))
            return
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{self.cookie}={self.keys.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode("utf-8")), (b"set-cookie", cookie.encode()),
                                *_security_headers()]})
        await send({"type": "http.response.body", "body": b""})

    def _same_origin_with_csrf(self, headers: Headers, query: dict[str, str], host: str) -> bool:
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            return False
        given = headers.get(CSRF_HEADER) or query.get("csrf") or ""
        return secrets.compare_digest(given.encode(), self.keys.csrf.encode())

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_limit:
                    raise BodyTooLarge
            return message

        async def secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    extra.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, limited, secured)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, P.text(Code.UPLOAD_TOTAL, limit=self.body_limit // (1024 * 1024)))


def _cookie(headers: Headers, name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _security_headers() -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


async def _refuse(send: Send, status: int, message: str) -> None:
    body = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"renderer\" "
            "content=\"webkit\"><title>拒绝访问</title></head><body style=\"font-family:sans-serif;margin:3em\">"
            f"<h1>考核控制台</h1><p>{escape(message)}</p></body></html>").encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *_security_headers()]})
    await send({"type": "http.response.body", "body": body})
