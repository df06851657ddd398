"""Run the web app under uvicorn in a background thread: a bound socket first (so ``--port 0`` is known
before anything is printed), then serve until ``stop()``."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import uvicorn

from ..errors import ConfigError
from .app import WebApp

T = TypeVar("T")

START_TIMEOUT = 20.0
STOP_TIMEOUT = 40.0
"""Long enough for a run under way to finish its calls in flight and write its results at stop."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (a free port for 0); ``ConfigError`` when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}.",
                          fix="Choose another --port (0 picks a free one), or stop what is using it.") from exc
    except socket.gaierror as exc:  # pragma: no cover - an unresolvable --host
        sock.close()
        raise ConfigError(f"Cannot listen on {host}: {exc}.", fix="Check --host.") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class RunningWeb:
    """The web app serving on a socket in a thread; a context manager that stops it and cleans up."""

    def __init__(self, web: WebApp, sock: socket.socket) -> None:
        self.web = web
        self.sock = sock
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8708``."""
        return self.web.base_url

    @property
    def port(self) -> int:
        """The port served (the one picked when 0 was asked for)."""
        return self.web.port

    @property
    def link(self) -> str:
        """The URL with the token, the one line ``batchops serve`` prints."""
        return f"{self.url}/?token={self.web.token}"

    def start(self) -> RunningWeb:
        """Serve in a background thread; returns once uvicorn is accepting connections."""
        if self._thread is not None and self._thread.is_alive():
            return self
        config = uvicorn.Config(self.web.asgi, lifespan="on", log_config=None, log_level="warning",
                                access_log=False, server_header=False, timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name="batchops-serve")
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"batchops serve did not start on {self.url}: {self._error or 'timed out'}.")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._server.serve(sockets=[self.sock]))
        except Exception as exc:  # noqa: BLE001  (reported by start(): a thread has nowhere to raise)
            self._error = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's event loop and return its result (for code outside the loop)."""
        if self._loop is None:
            raise RuntimeError("the server is not running")

        async def on_loop() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(START_TIMEOUT)

    def stop(self) -> None:
        """Stop serving: runs under way are cancelled as Ctrl-C cancels them, uploads removed unless kept."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                server.force_exit = True
                thread.join(STOP_TIMEOUT)
        self._server = self._thread = None
        self.sock.close()
        self.web.close()

    def __enter__(self) -> RunningWeb:  # noqa: PYI034  (typing.Self needs Python 3.11)
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_web(web: WebApp) -> RunningWeb:
    """Bind ``web``'s address and serve it in a thread (use as a context manager)."""
    sock = bind(web.options.host, web.options.port)
    web.bound(sock.getsockname()[1])
    return RunningWeb(web, sock).start()
