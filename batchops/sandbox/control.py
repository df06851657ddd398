"""The control endpoint under ``/_sandbox/``: faults, counts, log, records, clock, reset.

For tests and demos driving a sandbox in another process (in-process tests can call the same
operations on ``Sandbox``/``RunningSandbox`` directly). It needs no authentication, is never faulted
and never logged: it is not part of the emulated API.

GET  /_sandbox/health                      {"ok": true, "agents": N, "seed": S}
GET  /_sandbox/faults                      the fault settings and injected counts
POST /_sandbox/faults                      {"error_rate": 0.1, "latency_ms": 20, ...} -> new settings
POST /_sandbox/faults/queue                {"fault": "throttle", "count": 2, "path_contains": "agentsettings",
                                            "after": 0}
GET  /_sandbox/applied                     {"applied": {record_key: n}, "total": n}
GET  /_sandbox/log?path=...&limit=N        {"entries": [...]} (latest N, secrets masked)
GET  /_sandbox/records/{kind}/{key}        kinds: agentsettings, route, silencerule, appointment ({vdn}:{id})
POST /_sandbox/clock/advance               {"seconds": 601}
POST /_sandbox/tokens/expire               revoke every token
POST /_sandbox/reset                       back to the seed data, counts, faults, log and clock
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .errors import SandboxError
from .wire import Reply, Request

if TYPE_CHECKING:
    from .app import Sandbox


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    value = json.loads(req.body)
    if not isinstance(value, dict):
        raise TypeError("the body must be a JSON object")
    return value


def handle(sb: Sandbox, req: Request) -> Reply:
    """Answer one control call."""
    route = req.path[len("/_sandbox/"):].strip("/")
    try:
        return _dispatch(sb, req, route)
    except (ValueError, TypeError, SandboxError, KeyError) as exc:
        return Reply(400, {"error": str(exc)})


def _dispatch(sb: Sandbox, req: Request, route: str) -> Reply:
    get, post = req.method == "GET", req.method == "POST"
    if route == "health" and get:
        return Reply(200, {"ok": True, "agents": sb.options.agents, "seed": sb.options.seed})
    if route == "faults" and get:
        return Reply(200, {"settings": sb.faults.settings.as_dict(), "injected": dict(sb.faults.injected)})
    if route == "faults" and post:
        settings = sb.set_faults(**_body(req))
        return Reply(200, {"settings": settings.as_dict()})
    if route == "faults/queue" and post:
        body = _body(req)
        sb.queue_fault(body["fault"], int(body.get("count", 1)), str(body.get("path_contains", "")),
                       int(body.get("after", 0)))
        return Reply(200, {"ok": True})
    if route == "applied" and get:
        counts = sb.applied_counts()
        return Reply(200, {"applied": counts, "total": sum(counts.values())})
    if route == "log" and get:
        query = parse_qs(req.query)
        entries = sb.request_log(query.get("path", [""])[0])
        limit = int(query.get("limit", ["1000"])[0])
        return Reply(200, {"entries": [e.as_dict() for e in entries[-limit:]] if limit else []})
    if route.startswith("records/") and get:
        _, kind, key = route.split("/", 2)
        record = _record(sb, kind, key)
        if record is None:
            return Reply(404, {"error": f"no {kind} {key}"})
        return Reply(200, record)
    if route == "clock/advance" and post:
        sb.advance_clock(float(_body(req)["seconds"]))
        return Reply(200, {"offset": sb.clock.offset})
    if route == "tokens/expire" and post:
        sb.expire_tokens()
        return Reply(200, {"ok": True})
    if route == "reset" and post:
        sb.reset()
        return Reply(200, {"ok": True})
    return Reply(404, {"error": f"no control call {req.method} /_sandbox/{route}"})


def _record(sb: Sandbox, kind: str, key: str) -> dict[str, Any] | None:
    if kind == "agentsettings":
        return sb.agent_setting(key)
    if kind == "route":
        return sb.route(key)
    if kind == "silencerule":
        return sb.silence_rule(key)
    if kind == "appointment":
        vdn, appoint_id = key.split(":", 1)
        return sb.appointment(int(vdn), appoint_id)
    raise ValueError(f"unknown record kind {kind!r}: agentsettings, route, silencerule, appointment")
