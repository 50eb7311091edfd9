"""Serving the console on 127.0.0.1: the socket is bound first (a busy port is a clear message, port 0
picks a free one), the URL with its token is the first line printed, the browser is opened unless asked
not to, and Ctrl-C ends it cleanly."""
from __future__ import annotations

import socket
import threading
import webbrowser
from typing import Callable

import uvicorn

from assess_xl import problems as P
from assess_xl.year import Year
from assess_xl.problems import Code
from .app import create_app
from .guard import Secrets

DEFAULT_PORT = 8765
HOST = "127.0.0.1"


class PortBusy(P.AssessError):
    """No port to listen on."""


def bind(port: int | None) -> socket.socket:
    """The listening socket: the given port, or the default one, or any free one when that is taken."""
    candidates = [port] if port is not None else [DEFAULT_PORT, 0]
    for number in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, number))
            sock.listen(64)
            return sock
        except OSError:
            sock.close()
    raise PortBusy(P.make(Code.CONSOLE_PORT_BUSY, port=port))


def serve(year: Year | None, port: int | None, open_browser: bool, say: Callable[[str], None]) -> None:
    sock = bind(port)
    number = sock.getsockname()[1]
    keys = Secrets.new()
    app = create_app(year, number, keys)
    url = f"http://{HOST}:{number}/?token={keys.token}"
    say(url)
    say("考核控制台已启动（只在本机提供）。用浏览器打开上面的网址；按 Ctrl-C 结束。")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the captured Ctrl-C again once it has shut down
        pass
    say("考核控制台已关闭。")
