"""The sandbox as a plain ASGI application: routing, authentication, faults, the request log.

A plain ASGI callable with dictionary routing, served by uvicorn's httptools protocol with each answer
sent in one write (protocol.py), takes about half the server CPU per request of the same handlers
behind starlette's router on stock uvicorn (about 80 against 150 µs, bench/RESULTS.sandbox.md) and
serves 6,000-8,000 requests/s to an aiohttp client on the 2-core machine.

Order of work for every API request: log it (masked), wait the injected latency, maybe suffer a fault,
check authentication, check the body, then change state. Faults and refusals come before any change,
so a record's applied count is exactly the number of updates the sandbox confirmed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import c1, control, isales
from .faults import RATE_LIMITED, Clock, Fault, Faults, FaultSettings
from .options import SandboxOptions
from .requestlog import LogEntry, RequestLog
from .seed import StoredObject
from .signing import sign
from .state import SandboxState, record_key
from .tokens import TokenStore
from .wire import JSON_TYPE, Reply, Request, gateway_error

logger = logging.getLogger(__name__)

Handler = Callable[["Sandbox", Request], Reply]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOKEN_PATH = "/apigovernance/api/oauth/tokenByAkSk"
AGENT_INFO_PATH = "/apiaccess/CC-Management/v1/queryAgentInfo"
SETTINGS_UPDATE_PATH = "/apiaccess/CC-Management/v1/openapp/agentsettings/update"
SETTINGS_QUERY_PATH = "/apiaccess/CC-Management/v1/openapp/agentsettings/query"
ROUTE_MODIFY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/modifyCalledRoute"
ROUTE_QUERY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
SILENCE_UPDATE_PATH = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/updateSilenceRule"
SILENCE_QUERY_PATH = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRule"
SILENCE_LIST_PATH = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRules"
CONTROL_PREFIX = "/_sandbox/"

AUTH_NONE, AUTH_TOKEN, AUTH_SIGNATURE = "none", "token", "signature"

# path -> method -> (handler, authentication)
ROUTES: dict[str, dict[str, tuple[Handler, str]]] = {
    TOKEN_PATH: {"POST": (c1.token, AUTH_NONE)},
    AGENT_INFO_PATH: {"GET": (c1.query_agent_info, AUTH_TOKEN)},
    SETTINGS_UPDATE_PATH: {"POST": (c1.update_agent_setting, AUTH_TOKEN)},
    SETTINGS_QUERY_PATH: {"POST": (c1.query_agent_setting, AUTH_TOKEN)},
    ROUTE_MODIFY_PATH: {"POST": (c1.modify_called_route, AUTH_TOKEN)},
    ROUTE_QUERY_PATH: {"POST": (c1.query_called_routes, AUTH_TOKEN)},
    SILENCE_UPDATE_PATH: {"POST": (c1.update_silence_rule, AUTH_TOKEN)},
    SILENCE_QUERY_PATH: {"POST": (c1.query_silence_rule, AUTH_TOKEN)},
    SILENCE_LIST_PATH: {"POST": (c1.query_silence_rules, AUTH_TOKEN)},
    **{path: {"GET": (c1.query_sys_info, AUTH_TOKEN)} for path in c1.SYS_INFO_PATHS},
}
ISALES_ROUTES: dict[str, dict[str, tuple[Handler, str]]] = {
    "appoint/update": {"POST": (isales.update_appointment, AUTH_SIGNATURE)},
    "appoint/list": {"POST": (isales.list_appointments, AUTH_SIGNATURE)},
}


def _route(path: str) -> tuple[dict[str, tuple[Handler, str]] | None, dict[str, str]]:
    found = ROUTES.get(path)
    if found is not None:
        return found, {}
    if path.startswith(isales.PREFIX):
        vdn, _, rest = path[len(isales.PREFIX):].partition("/")
        found = ISALES_ROUTES.get(rest)
        if found is not None and vdn:
            return found, {"vdnId": vdn}
    return None, {}


class Sandbox:
    """The emulator: an ASGI application holding its state, tokens, faults and request log.

    Serve it with any ASGI server (``start_sandbox`` runs uvicorn in a thread). The read helpers return
    deep copies, safe to keep and compare while the server goes on changing its records.
    """

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.state = SandboxState(self.options)
        self.tokens = TokenStore()
        self.faults = Faults(self.options)
        self.clock = Clock()
        self.log = RequestLog(self.options.log_limit)
        self.agent_info_cache: bytes | None = None
        self._held: set[asyncio.Future[None]] = set()
        self._stopping = False

    # -- ASGI -------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = scope.get("raw_path") or scope["path"].encode()
        req = Request(scope["method"], scope["path"], raw_path.decode("latin-1").split("?", 1)[0],
                      scope.get("query_string", b"").decode("latin-1"), headers, body)
        if req.path.startswith(CONTROL_PREFIX):
            try:
                reply = control.handle(self, req)
            except Exception as exc:  # a broken control call must not take the server down
                logger.exception("sandbox control call failed")
                reply = Reply(500, {"error": f"{type(exc).__name__}: {exc}"})
            await self._send(send, reply)
            return
        reply = await self._serve_api(req)
        await self._send(send, reply)

    async def _serve_api(self, req: Request) -> Reply:
        started = time.perf_counter()
        entry = self.log.start(time=self.clock.now(), method=req.method, path=req.path, query=req.query,
                               headers=req.headers, body=req.body)
        try:
            reply = await self._answer(req, entry, started)
        except Exception as exc:  # a bug in a handler answers 500 and is logged, never kills the server
            logger.exception("sandbox handler failed")
            reply = Reply(500, {"returnCode": "500", "returnDesc": f"internal error: {exc}"},
                          detail=f"internal error: {type(exc).__name__}: {exc}")
        entry.status = reply.status
        entry.code = reply.code()
        entry.record = reply.record
        entry.detail = entry.detail or reply.detail
        entry.elapsed_ms = (time.perf_counter() - started) * 1000
        return reply

    async def _answer(self, req: Request, entry: LogEntry, started: float) -> Reply:
        methods, params = _route(req.path)
        if methods is None:
            return gateway_error(404, f"no API at {req.path}")
        found = methods.get(req.method)
        if found is None:
            return Reply(405, {"error_code": "APIGW.405", "error_msg": f"{req.path} takes {', '.join(methods)}"},
                         headers=[(b"allow", ", ".join(methods).encode())], detail="method not allowed")
        handler, auth = found
        req.params = params
        settings = self.faults.settings
        # The gateway's flow control admits or refuses at arrival, before anything reaches the service.
        refused_for = self.faults.over_limit(req.path, self.clock.now()) if settings.rate_limit else None
        if settings.latency_ms:
            # Counted from the request's arrival; asyncio.sleep never blocks other requests meanwhile.
            delay = settings.latency_ms / 1000 - (time.perf_counter() - started)
            if delay > 0:
                await asyncio.sleep(delay)
        if refused_for is not None:
            entry.fault = RATE_LIMITED
            reply = gateway_error(429, "too many requests (rate limit)")
            reply.headers.append((b"retry-after", str(refused_for).encode()))
            return reply
        fault = self.faults.pick(req.path, req.path == TOKEN_PATH)
        if fault is Fault.TOKEN_EXPIRY:
            entry.fault = fault.value
            self.tokens.expire_all()  # as if the tokens' lifetime ran out now: the request meets a 401
        elif fault is not None and fault is not Fault.LOST_RESPONSE:
            entry.fault = fault.value
            return await self._fault_reply(fault, settings)
        refused = None
        if auth == AUTH_TOKEN:
            refused = c1.check_auth(self, req)
        elif auth == AUTH_SIGNATURE:
            refused = isales.check_signature(self, req)
        if refused is not None:
            return refused
        reply = handler(self, req)
        if fault is Fault.LOST_RESPONSE:
            # The update is applied (and counted); only the answer is lost, as when a link drops.
            entry.fault = fault.value
            entry.record = reply.record
            await self._hold(settings.timeout_hold_seconds)
            return gateway_error(504, "gateway timeout (the request was applied, the answer lost)")
        return reply

    async def _fault_reply(self, fault: Fault, settings: FaultSettings) -> Reply:
        if fault is Fault.ERROR:
            return gateway_error(503, "service unavailable (injected)")
        if fault is Fault.THROTTLE:
            reply = gateway_error(429, "too many requests (injected)")
            reply.headers.append((b"retry-after", str(settings.retry_after_seconds).encode()))
            return reply
        await self._hold(settings.timeout_hold_seconds)
        return gateway_error(504, "gateway timeout (injected)")

    async def _hold(self, seconds: float) -> None:
        """Keep a request unanswered for ``seconds``, or until the server stops."""
        if self._stopping:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._held.add(future)
        try:
            await asyncio.wait_for(future, seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            self._held.discard(future)

    def release_held(self) -> None:
        """Answer every held request now (call in the server's loop, before stopping it)."""
        self._stopping = True
        for future in list(self._held):
            if not future.done():
                future.set_result(None)

    def resume(self) -> None:
        """Allow held requests again after a restart."""
        self._stopping = False

    async def _send(self, send: Send, reply: Reply) -> None:
        payload = reply.encoded()
        headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(payload)).encode()),
                   *reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- for tests: state, counts, log, faults ----------------------------------------------------

    def reset(self) -> None:
        """Back to the seed data: records, applied counts, tokens, faults, request log and clock."""
        self.state.reset()
        self.tokens.expire_all()
        self.faults.reset()
        self.log.clear()
        self.clock.offset = 0.0
        self.agent_info_cache = None

    def applied_count(self, key: str) -> int:
        """How many updates were applied to one record (keys: ``record_key``)."""
        return self.state.applied.get(key, 0)

    def applied_counts(self) -> dict[str, int]:
        """Every non-zero applied count, by record key."""
        return self.state.applied_counts()

    def request_log(self, path_contains: str = "") -> list[LogEntry]:
        """The request log (secrets masked), oldest first."""
        return self.log.entries(path_contains)

    def set_faults(self, **changes: float | bool | None) -> FaultSettings:
        """Change fault knobs: latency_ms, error_rate, throttle_rate, timeout_rate, retry_after_seconds,
        timeout_hold_seconds, token_ttl, token_faults, rate_limit, rate_limit_burst."""
        return self.faults.update(**changes)

    def queue_fault(self, fault: Fault | str, count: int = 1, path_contains: str = "", after: int = 0) -> None:
        """The next ``count`` API requests whose path contains ``path_contains`` suffer ``fault``, once ``after``
        of them have gone by."""
        self.faults.queue(fault, count, path_contains, after)

    def expire_tokens(self) -> None:
        """Revoke every issued token."""
        self.tokens.expire_all()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward (tokens expire, signatures age) without waiting."""
        self.clock.advance(seconds)

    def agents(self) -> list[StoredObject]:
        """Every agent as queryAgentInfo answers it (workNo, sipAccount, sipPwd, accountCode)."""
        return self.state.snapshot(self.state.data.agents)

    def agent_setting(self, setting_id: str) -> StoredObject | None:
        """One agent setting by its 19-digit ``id``."""
        return self.state.snapshot(self.state.setting(setting_id))

    def agent_setting_for_user(self, user_id: str) -> StoredObject | None:
        """One agent setting by its ``userId``."""
        return self.state.snapshot(self.state.setting_for_user(user_id))

    def agent_settings(self) -> list[StoredObject]:
        """Every agent setting."""
        return self.state.snapshot(list(self.state.data.agent_settings.values()))

    def route(self, route_id: str) -> StoredObject | None:
        """One called route by ``id`` (with ``editable``)."""
        return self.state.snapshot(self.state.route(route_id))

    def routes(self) -> list[StoredObject]:
        """Every called route."""
        return self.state.snapshot(list(self.state.data.routes.values()))

    def silence_rule(self, silence_id: str) -> StoredObject | None:
        """One silence rule as stored (numbers as numbers, sentence IDs as strings)."""
        return self.state.snapshot(self.state.silence_rule(silence_id))

    def silence_rules(self) -> list[StoredObject]:
        """Every silence rule as stored."""
        return self.state.snapshot(list(self.state.data.silence_rules.values()))

    def sentences(self) -> list[StoredObject]:
        """The sentences a silence rule's exceptions may name."""
        return self.state.snapshot(list(self.state.data.sentences.values()))

    def appointment(self, vdn_id: int, appoint_id: str) -> StoredObject | None:
        """One appointment on a VDN."""
        return self.state.snapshot(self.state.appointment(vdn_id, appoint_id))

    def appointments(self, vdn_id: int | None = None) -> list[StoredObject]:
        """Appointments of one VDN, or of all (each then carries ``vdnId``)."""
        with self.state.lock:
            if vdn_id is not None:
                return copy.deepcopy(list(self.state.data.appointments.get(vdn_id, {}).values()))
            return [{**copy.deepcopy(a), "vdnId": vdn}
                    for vdn, rows in self.state.data.appointments.items() for a in rows.values()]

    def skill_queues(self) -> dict[int, str]:
        """Skill queue ID -> name (route targets with devicetype 1)."""
        return dict(self.state.data.skill_queues)

    def ivrs(self) -> dict[int, str]:
        """IVR ID -> name (route targets with devicetype 3)."""
        return dict(self.state.data.ivrs)

    def isales_headers(self, method: str, path: str, body: bytes, host: str, query: str = "") -> dict[str, str]:
        """Signed headers for an iSales call (``host`` exactly as the client will send it)."""
        headers = {"Content-Type": "application/json;charset=UTF-8", "Host": host}
        auth = sign(self.options.isales_ak, self.options.isales_sk, method, path, query,
                    headers, body, when=_utc(self.clock.now()))
        return {**headers, "Authorization": auth}

    record_key = staticmethod(record_key)


def _utc(seconds: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc)
