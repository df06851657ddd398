"""``batchops sandbox``: a faithful emulator of the AICC endpoints batchops uses.

A real HTTP server on a loopback port, stateful, strict, able to misbehave on purpose. It is written
from the API pages (``../shared/api-docs``, ``api-notes.md``), never from batchops' own catalogue, so
that it catches the client's mistakes instead of sharing them.

What it serves (one port; C1 gateway and iSales paths side by side)::

    POST /apigovernance/api/oauth/tokenByAkSk                          token (X-Token-Expire, max 3600)
    GET  /apiaccess/CC-Management/v1/queryAgentInfo                    C1: Bearer token + X-APP-Key
    GET  /apiaccess/CC-Management/v1/querySysInfo                      agents with accountId (also CC-Mangemant)
    POST /apiaccess/CC-Management/v1/openapp/agentsettings/update      returnCode "0" + id
    POST /apiaccess/CC-Management/v1/openapp/agentsettings/query       {"userId"} -> the record, top level
    POST /apiaccess/rest/cc-management/v1/calledRoute/modifyCalledRoute returnCode "0"
    POST /apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute  limit<=100 + offset
    POST /apiaccess/CCSQM/rest/ccisqm/v1/silencerule/updateSilenceRule resultCode "0405000"
    POST /apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRule  {"silence_id"}
    POST /apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRules {page, limit, keyword}
    POST /rest/isales/v1/openapi/campaigns/{vdnId}/appoint/update      auth-v2 signature; "0200000"
    POST /rest/isales/v1/openapi/campaigns/{vdnId}/appoint/list        {offset, limit, filters}
    /_sandbox/...                                                      control calls (control.py)

Answers: HTTP 401 for a missing/expired token, a missing X-APP-Key or a bad signature; HTTP 400 for a
body that breaks the page on C1 (type, mandatory, length, range, unknown field); HTTP 200 with a failure
code and description for business failures (codes.py); iSales answers its documented codes.

Python API::

    from batchops.sandbox import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(agents=300, seed=7)) as sb:      # free loopback port
        sb.url                        # base URL for C1 and iSales alike
        sb.env()                      # BATCHOPS_BASE_URL, _APP_KEY, _APP_SECRET, _ISALES_URL,
                                      # _ISALES_AK, _ISALES_SK, _USER_ID
        sb.agents(); sb.agent_settings(); sb.agent_setting(id); sb.agent_setting_for_user(user_id)
        sb.routes(); sb.route(id); sb.silence_rules(); sb.silence_rule(id); sb.sentences()
        sb.appointments(vdn_id=None); sb.appointment(vdn_id, appoint_id)
        sb.skill_queues(); sb.ivrs()
        sb.applied_count(sb.record_key("route", id)); sb.applied_counts()
        sb.request_log(path_contains="")   # LogEntry list, secrets masked
        sb.set_faults(error_rate=0.1, throttle_rate=0.05, timeout_rate=0.01, latency_ms=20,
                      retry_after_seconds=1, timeout_hold_seconds=30, token_ttl=60,
                      token_faults=False)     # rates spare tokenByAkSk unless token_faults=True
        sb.set_faults(rate_limit=10)  # a gateway's flow control: 10 requests/s per API path, then 429
                                      # with Retry-After (token bucket of rate_limit_burst, 1 s by default)
        sb.queue_fault("throttle", count=2, path_contains="agentsettings")  # exact, not random;
                      # kinds: error (503), throttle (429), timeout (held, then 504),
                      # lost_response (applied and counted, then held, then 504),
                      # token_expiry (every token expires as it arrives: it meets a 401)
        sb.expire_tokens(); sb.advance_clock(601); sb.reset()
        sb.isales_headers("POST", path, body_bytes)   # signed headers, for tests and the bench
        sb.restart(down_for=0.5)      # goes away and comes back on the same port, same state
        sb.sandbox                    # the Sandbox (ASGI app + state) itself

Record keys for applied counts: ``agentsettings:{id}``, ``route:{id}``, ``silencerule:{silence_id}``,
``appointment:{vdnId}:{appointId}``. A fault or a refusal never changes state nor counts; only a queued
``lost_response`` applies the update and then withholds the answer.

``agents`` counts agent settings (AppCube users); agents with a workNo are capped at 59,899 because
workNo ranges 101..59999 (queryAgentInfo page), so ``agents=60000`` works: 101 users have no softphone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use (PEP 562): ``batchops sandbox --help`` and the options need no server, and the
# uvicorn server costs a noticeable part of a second to import.
_HOMES = {
    "Fault": "faults",
    "FaultSettings": "faults",
    "LogEntry": "requestlog",
    "RunningSandbox": "server",
    "Sandbox": "app",
    "SandboxError": "errors",
    "SandboxOptions": "options",
    "record_key": "state",
    "start_sandbox": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'batchops.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .app import Sandbox
    from .errors import SandboxError
    from .faults import Fault, FaultSettings
    from .options import SandboxOptions
    from .requestlog import LogEntry
    from .server import RunningSandbox, start_sandbox
    from .state import record_key

__all__ = [
    "Fault",
    "FaultSettings",
    "LogEntry",
    "RunningSandbox",
    "Sandbox",
    "SandboxError",
    "SandboxOptions",
    "record_key",
    "start_sandbox",
]
