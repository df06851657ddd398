"""Runs a Sandbox under uvicorn in a background thread, on a loopback port, and stops it cleanly."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import Sandbox
from .errors import SandboxError
from .faults import Fault, FaultSettings
from .options import SandboxOptions
from .protocol import JoinedWritesProtocol
from .requestlog import LogEntry
from .seed import StoredObject
from .state import record_key

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # uvloop does not exist on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class RunningSandbox:
    """A sandbox serving HTTP on ``url``; a context manager that stops it on exit.

    ``stop()`` then ``start()`` brings it back on the same port with the same state (a server that goes
    away and comes back). Every test helper of ``Sandbox`` is available here too.
    """

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL of both the C1 gateway and iSales, e.g. ``http://127.0.0.1:41234``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> RunningSandbox:
        """Bind the port (a free one the first time when port is 0) and serve in a background thread."""
        if self.running:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise SandboxError(f"Cannot listen on {self.host}:{self.port}: {exc.strerror}.",
                              fix="Choose another --port, or stop what is using it.") from exc
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.sandbox, http=JoinedWritesProtocol, lifespan="off", log_config=None, log_level="warning",
            access_log=False, server_header=False, timeout_graceful_shutdown=2, backlog=1024,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self.sandbox.resume()
        self._thread = threading.Thread(target=self._run, args=(self._server, sock), daemon=True,
                                        name=f"batchops-sandbox-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"The sandbox did not start on {self.url}: {self._error or 'timed out'}.")
            time.sleep(0.005)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except Exception as exc:  # noqa: BLE001  (reported by start(): a thread has nowhere to raise)
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                sock.close()
                self._loop = None

    def stop(self) -> None:
        """Stop serving: held requests are answered, connections closed, the port freed. State stays."""
        server, thread, loop = self._server, self._thread, self._loop
        if server is None or thread is None:
            return
        if loop is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(self.sandbox.release_held)
            except RuntimeError:  # the loop closed in the meantime
                pass
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay away ``down_for`` seconds, and serve again on the same port with the same state."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def close(self) -> None:
        """Stop serving and close the state file."""
        self.stop()
        self.sandbox.state.close()

    def __enter__(self) -> RunningSandbox:  # noqa: PYI034  (typing.Self needs Python 3.11)
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- what a client needs ----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment variables that point batchops at this sandbox."""
        o = self.sandbox.options
        return {
            "BATCHOPS_BASE_URL": self.url,
            "BATCHOPS_APP_KEY": o.app_key,
            "BATCHOPS_APP_SECRET": o.app_secret,
            "BATCHOPS_ISALES_URL": self.url,
            "BATCHOPS_ISALES_AK": o.isales_ak,
            "BATCHOPS_ISALES_SK": o.isales_sk,
            "BATCHOPS_USER_ID": o.user_id,
        }

    @property
    def options(self) -> SandboxOptions:
        """The options the sandbox was built with."""
        return self.sandbox.options

    def isales_headers(self, method: str, path: str, body: bytes, query: str = "") -> dict[str, str]:
        """Signed headers for an iSales call to this sandbox."""
        return self.sandbox.isales_headers(method, path, body, f"{self.host}:{self.port}", query)

    # -- test helpers (see Sandbox) ---------------------------------------------------------------

    record_key = staticmethod(record_key)

    def reset(self) -> None:
        """Back to the seed data; counts, tokens, faults, log and clock cleared."""
        self.sandbox.reset()

    def applied_count(self, key: str) -> int:
        """Updates applied to one record (``record_key("route", id)``...)."""
        return self.sandbox.applied_count(key)

    def applied_counts(self) -> dict[str, int]:
        """Every non-zero applied count."""
        return self.sandbox.applied_counts()

    def request_log(self, path_contains: str = "") -> list[LogEntry]:
        """The request log, secrets masked."""
        return self.sandbox.request_log(path_contains)

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change latency_ms, error_rate, throttle_rate, timeout_rate, retry_after_seconds,
        timeout_hold_seconds, token_ttl, token_faults (rates spare tokenByAkSk unless it is True)."""
        return self.sandbox.set_faults(**changes)

    def queue_fault(self, fault: Fault | str, count: int = 1, path_contains: str = "", after: int = 0) -> None:
        """The next ``count`` matching API requests suffer ``fault``, once ``after`` of them have gone by."""
        self.sandbox.queue_fault(fault, count, path_contains, after)

    def expire_tokens(self) -> None:
        """Revoke every token."""
        self.sandbox.expire_tokens()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward."""
        self.sandbox.advance_clock(seconds)

    def agents(self) -> list[StoredObject]:
        """Every agent (workNo, sipAccount, sipPwd, accountCode)."""
        return self.sandbox.agents()

    def agent_setting(self, setting_id: str) -> StoredObject | None:
        """One agent setting by id."""
        return self.sandbox.agent_setting(setting_id)

    def agent_setting_for_user(self, user_id: str) -> StoredObject | None:
        """One agent setting by userId."""
        return self.sandbox.agent_setting_for_user(user_id)

    def agent_settings(self) -> list[StoredObject]:
        """Every agent setting."""
        return self.sandbox.agent_settings()

    def route(self, route_id: str) -> StoredObject | None:
        """One called route by id."""
        return self.sandbox.route(route_id)

    def routes(self) -> list[StoredObject]:
        """Every called route."""
        return self.sandbox.routes()

    def silence_rule(self, silence_id: str) -> StoredObject | None:
        """One silence rule as stored."""
        return self.sandbox.silence_rule(silence_id)

    def silence_rules(self) -> list[StoredObject]:
        """Every silence rule as stored."""
        return self.sandbox.silence_rules()

    def sentences(self) -> list[StoredObject]:
        """Sentences a silence rule's exceptions may name."""
        return self.sandbox.sentences()

    def appointment(self, vdn_id: int, appoint_id: str) -> StoredObject | None:
        """One appointment."""
        return self.sandbox.appointment(vdn_id, appoint_id)

    def appointments(self, vdn_id: int | None = None) -> list[StoredObject]:
        """Appointments of one VDN, or of all."""
        return self.sandbox.appointments(vdn_id)

    def skill_queues(self) -> dict[int, str]:
        """Skill queue ID -> name."""
        return self.sandbox.skill_queues()

    def ivrs(self) -> dict[int, str]:
        """IVR ID -> name."""
        return self.sandbox.ivrs()




def start_sandbox(options: SandboxOptions | None = None, host: str = "127.0.0.1", port: int = 0
                  ) -> RunningSandbox:
    """Build a sandbox and serve it in a background thread; use as a context manager to stop it.

    ``port=0`` picks a free port. ``with start_sandbox() as sb: httpx.get(sb.url + ...)``.
    """
    running = RunningSandbox(Sandbox(options), host, port)
    try:
        return running.start()
    except BaseException:
        running.sandbox.state.close()
        raise
