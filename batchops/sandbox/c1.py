"""The C1 gateway: tokenByAkSk and the token-authenticated CC-Management and CCSQM calls.

Written from the API pages in api-docs/ and the read endpoints in api-notes.md. Bodies that break the
page (wrong JSON type, missing mandatory field, too long, out of range, unknown field) get HTTP 400 with
``returnCode``/``resultCode`` and a description; business failures (unknown ID, route not editable)
get HTTP 200 with a failure code (codes.py) and a description; success answers exactly as documented.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import codes
from .options import DEFAULT_TOKEN_EXPIRE, TOKEN_TTL_MAX
from .seed import SERVICE_IP, SERVICE_PORT, SIP_SERVICE_IP, SIP_SERVICE_PORT, StoredObject
from .state import KIND_ROUTE, KIND_SETTING, KIND_SILENCE, record_key
from .validate import (
    Invalid,
    Reason,
    check_fields,
    get_int,
    get_object,
    get_string,
    get_string_list,
    get_whole_number,
    parse_object,
)
from .wire import Reply, Request, gateway_error

if TYPE_CHECKING:
    from .app import Sandbox

INT32_MAX = 2_147_483_647
NUMBER_MAX_LEN = 15  # agentsettings: "Length limit of each number: string (15)"
NUMBERS_MAX = 5  # agentsettings: "A maximum of five numbers"
RULE_NAME_MAX_LEN = 200  # not on the page; the sandbox's assumption, generous on purpose
# call_from/call_end are "时间戳，单位秒" (seconds); anything past year 2286 is a millisecond mistake.
SECONDS_TIMESTAMP_MAX = 9_999_999_999


# -- token ------------------------------------------------------------------------------------------

def token(sb: Sandbox, req: Request) -> Reply:
    """POST /apigovernance/api/oauth/tokenByAkSk: a Bearer token for app_key + app_secret."""
    try:
        body = parse_object(req.body)
        check_fields(body, ("app_key", "app_secret"), "", sb.options.allow_unknown_fields)
        app_key = get_string(body, "app_key", required=True)
        app_secret = get_string(body, "app_secret", required=True)
    except Invalid as exc:
        return gateway_error(400, exc.message)
    if app_key != sb.options.app_key or app_secret != sb.options.app_secret:
        return gateway_error(401, "app_key or app_secret is wrong")
    requested = req.headers.get("x-token-expire", str(DEFAULT_TOKEN_EXPIRE)).strip()
    if not requested.isdigit() or int(requested) < 1:
        return gateway_error(400, f"X-Token-Expire must be a number of seconds, not {requested!r}")
    ttl = sb.faults.settings.token_ttl or min(int(requested), TOKEN_TTL_MAX)
    issued = sb.tokens.issue(app_key, sb.clock.now(), ttl)
    # Every value is a string, as the token page shows.
    return Reply(200, {
        "AccessToken": issued.value,
        "ApplyType": "Bearer",
        "CreateTime": str(int(issued.created)),
        "Expires": str(ttl),
        "Scope": "default",
        "AppKey": app_key,
        "UserID": "Anonymous",
    })


def check_auth(sb: Sandbox, req: Request) -> Reply | None:
    """A 401 unless the call carries a live ``Bearer`` token and the ``X-APP-Key`` it was issued to."""
    authorization = req.headers.get("authorization")
    if not authorization:
        return gateway_error(401, "the Authorization header is missing")
    if not authorization.startswith("Bearer ") or authorization.startswith("Bearer  "):
        return gateway_error(401, "Authorization must be 'Bearer {AccessToken}' with one space")
    live = sb.tokens.check(authorization[7:], sb.clock.now())
    if live is None:
        return gateway_error(401, "the token is unknown or has expired")
    app_key = req.headers.get("x-app-key")
    if not app_key:
        return gateway_error(401, "the X-APP-Key header is missing")
    if app_key != live.app_key:
        return gateway_error(401, "X-APP-Key is not the app key the token was issued to")
    return None


def _bad_request(exc: Invalid, code: str = codes.C1_BAD_REQUEST, desc: str = "returnDesc") -> Reply:
    key = "resultCode" if desc == "resultDesc" else "returnCode"
    return Reply(400, {key: code, desc: exc.message}, detail=exc.message)


def _fail(code: str, message: str, desc: str = "returnDesc") -> Reply:
    key = "resultCode" if desc == "resultDesc" else "returnCode"
    return Reply(200, {key: code, desc: message}, detail=message)


# -- agentsettings ----------------------------------------------------------------------------------

_SETTING_FIELDS = ("id", "callType", "userId", "callerPresent", "callNumber", "callNumberDefault",
                   "callerPresentDefault")


def update_agent_setting(sb: Sandbox, req: Request) -> Reply:
    """POST .../openapp/agentsettings/update."""
    try:
        body = parse_object(req.body)
        check_fields(body, _SETTING_FIELDS, "", sb.options.allow_unknown_fields)
        setting_id = get_string(body, "id", required=True)
        user_id = get_string(body, "userId", required=True)
        call_type = get_string(body, "callType")
        if call_type is not None and call_type not in ("0", "1", "2"):
            raise Invalid("callType", Reason.RANGE,
                          f"is {call_type!r}; it must be \"0\" (direct), \"1\" (bidirectional) or "
                          "\"2\" (pass-through)")
        changes: dict[str, Any] = {}
        for name in ("callerPresent", "callNumber"):
            numbers = get_string_list(body, name, max_items=NUMBERS_MAX, max_len=NUMBER_MAX_LEN)
            if numbers is not None:
                changes[name] = numbers
        for name in ("callNumberDefault", "callerPresentDefault"):
            value = get_string(body, name, max_len=NUMBER_MAX_LEN)
            if value is not None:
                changes[name] = value
    except Invalid as exc:
        return _bad_request(exc)
    if call_type is not None:
        changes["callType"] = call_type
    assert setting_id is not None and user_id is not None
    current = sb.state.setting(setting_id)
    if current is None:
        return _fail(codes.C1_NOT_FOUND, f"the agent setting {setting_id} does not exist")
    if current["userId"] != user_id:
        return _fail(codes.C1_BAD_VALUE, f"the agent setting {setting_id} does not belong to user {user_id}")
    sb.state.put_setting({**current, **changes})
    return Reply(200, {"returnCode": codes.C1_OK, "returnDesc": "update success.", "id": setting_id},
                 record=record_key(KIND_SETTING, setting_id))


# The agentsettings/query page's response table lists the record's fields side by side with returnCode and
# returnDesc at the top level of the answer, with no ``data`` object around them (its numbering is flat,
# where other pages number nested fields 1.3.1). api-notes.md also lists createTime and tenantId; the page
# does not, so the sandbox leaves them out and a client must not depend on them.
SETTING_QUERY_FIELDS = ("id", "callType", "callerPresent", "callNumber", "userId", "callNumberDefault",
                        "callerPresentDefault", "agentName")


def query_agent_setting(sb: Sandbox, req: Request) -> Reply:
    """POST .../openapp/agentsettings/query: the one setting of a ``userId``, its fields at the top level."""
    try:
        body = parse_object(req.body)
        check_fields(body, ("userId",), "", sb.options.allow_unknown_fields)
        user_id = get_string(body, "userId", required=True)
    except Invalid as exc:
        return _bad_request(exc)
    assert user_id is not None
    record = sb.state.setting_for_user(user_id)
    if record is None:
        return _fail(codes.C1_NOT_FOUND, f"no agent setting for user {user_id}")
    fields = {name: record[name] for name in SETTING_QUERY_FIELDS if name in record}
    return Reply(200, {**fields, "returnCode": codes.C1_OK, "returnDesc": "query success."})


# -- calledRoute ------------------------------------------------------------------------------------

def modify_called_route(sb: Sandbox, req: Request) -> Reply:
    """POST .../calledRoute/modifyCalledRoute: point a route at another skill queue or IVR."""
    try:
        body = parse_object(req.body)
        check_fields(body, ("id", "devicetype", "deviceId"), "", sb.options.allow_unknown_fields)
        route_id = get_string(body, "id", required=True)
        devicetype = get_int(body, "devicetype", required=True)
        if devicetype not in (1, 3):
            raise Invalid("devicetype", Reason.RANGE, f"is {devicetype}; it must be 1 (skill queue) or 3 (IVR)")
        device_id = get_int(body, "deviceId", required=True, minimum=1, maximum=INT32_MAX)
    except Invalid as exc:
        return _bad_request(exc, desc="description")
    assert route_id is not None and device_id is not None
    current = sb.state.route(route_id)
    if current is None:
        return _fail(codes.C1_NOT_FOUND, f"the called route {route_id} does not exist", "description")
    if current["editable"] in (1, 3):
        return _fail(codes.C1_NOT_EDITABLE,
                     f"the called route {route_id} cannot be modified (editable={current['editable']})",
                     "description")
    devices = sb.state.data.skill_queues if devicetype == 1 else sb.state.data.ivrs
    if device_id not in devices:
        kind = "skill queue" if devicetype == 1 else "IVR"
        return _fail(codes.C1_BAD_VALUE, f"the {kind} {device_id} does not exist", "description")
    sb.state.put_route({**current, "devicetype": devicetype, "deviceId": device_id,
                        "deviceDesc": devices[device_id]})
    return Reply(200, {"returnCode": codes.C1_OK, "description": "data update success"},
                 record=record_key(KIND_ROUTE, route_id))


def _page(body: dict[str, Any], limit_default: int = 10) -> tuple[int, int]:
    limit = get_int(body, "limit", minimum=1, maximum=100)
    offset = get_int(body, "offset", minimum=0, maximum=INT32_MAX)
    return (limit if limit is not None else limit_default), (offset or 0)


def query_called_routes(sb: Sandbox, req: Request) -> Reply:
    """POST .../calledRoute/queryCalledRoute: filtered, ``limit`` (<=100) + ``offset`` paging."""
    try:
        body = parse_object(req.body) if req.body.strip() else {}
        check_fields(body, ("accessCode", "extCode", "devicetype", "deviceDesc", "mediaTypeId", "limit", "offset"),
                     "", sb.options.allow_unknown_fields)
        access_code = get_string(body, "accessCode")
        ext_code = get_string(body, "extCode")
        devicetype = get_int(body, "devicetype")
        device_desc = get_string(body, "deviceDesc")
        media_type = get_int(body, "mediaTypeId")
        limit, offset = _page(body)
    except Invalid as exc:
        return _bad_request(exc, desc="description")
    routes = [
        r for r in sb.state.data.routes.values()
        if (access_code is None or r["accessCode"] == access_code)
        and (ext_code is None or r["extCode"] == ext_code)
        and (devicetype is None or r["devicetype"] == devicetype)
        and (device_desc is None or device_desc in r["deviceDesc"])
        and (media_type is None or r["mediatypeId"] == media_type)
    ]
    return Reply(200, {"returnCode": codes.C1_OK, "description": "query success",
                       "data": {"total": len(routes), "calledRouteList": routes[offset:offset + limit]}})


# -- silence rules ----------------------------------------------------------------------------------

def _check_operator(sb: Sandbox, req: Request) -> Reply | None:
    """Editions disagree whether x-UserId is mandatory (api-notes.md); when sent it must be known."""
    operator = req.headers.get("x-userid")
    if operator is None:
        if sb.options.require_user_id:
            return gateway_error(401, "the x-UserId header is missing")
        return None
    if operator != sb.options.user_id:
        return Reply(403, {"resultCode": "0405403", "resultDesc": f"unknown operator {operator}"},
                     detail=f"unknown operator {operator}")
    return None


def _sentence_list(obj: dict[str, Any] | None, name: str, where: str) -> list[str] | None:
    if obj is None:
        return None
    return get_string_list(obj, name, where=where)


def update_silence_rule(sb: Sandbox, req: Request) -> Reply:
    """POST .../silencerule/updateSilenceRule: numbers as JSON numbers, sentences as ID strings."""
    refused = _check_operator(sb, req)
    if refused is not None:
        return refused
    loose = sb.options.allow_unknown_fields
    try:
        body = parse_object(req.body)
        check_fields(body, ("setting", "exception"), "", loose)
        setting = get_object(body, "setting", required=True)
        assert setting is not None
        check_fields(setting, ("other", "score", "name", "seconds", "times", "silence_id"), "setting", loose)
        silence_id = get_string(setting, "silence_id", where="setting", required=True)
        name = get_string(setting, "name", where="setting", required=True, max_len=RULE_NAME_MAX_LEN)
        numbers = {
            "score": get_whole_number(setting, "score", where="setting", required=True, minimum=1, maximum=100),
            "seconds": get_whole_number(setting, "seconds", where="setting", required=True, minimum=1,
                                        maximum=INT32_MAX),
            "times": get_whole_number(setting, "times", where="setting", required=True, minimum=1,
                                      maximum=INT32_MAX),
        }
        other = get_object(setting, "other", where="setting")
        new_other: dict[str, int] | None = None
        if other is not None:
            check_fields(other, ("call_from", "call_end"), "setting.other", loose)
            new_other = {}
            for key in ("call_from", "call_end"):
                value = get_whole_number(other, key, where="setting.other", minimum=0,
                                         maximum=SECONDS_TIMESTAMP_MAX)
                if value is not None:
                    new_other[key] = value
            if new_other.get("call_from", 0) > new_other.get("call_end", SECONDS_TIMESTAMP_MAX):
                raise Invalid("setting.other", Reason.RANGE, "call_from is after call_end")
        exception = get_object(body, "exception")
        new_exception: dict[str, dict[str, list[str]]] | None = None
        if exception is not None:
            check_fields(exception, ("before", "after"), "exception", loose)
            before = get_object(exception, "before", where="exception")
            after = get_object(exception, "after", where="exception")
            if before is not None:
                check_fields(before, ("staff", "customer"), "exception.before", loose)
            if after is not None:
                check_fields(after, ("staff",), "exception.after", loose)
            new_exception = {
                "before": {
                    "staff": _sentence_list(before, "staff", "exception.before") or [],
                    "customer": _sentence_list(before, "customer", "exception.before") or [],
                },
                "after": {"staff": _sentence_list(after, "staff", "exception.after") or []},
            }
    except Invalid as exc:
        return _bad_request(exc, codes.SQM_BAD_REQUEST, "resultDesc")
    assert silence_id is not None
    current = sb.state.silence_rule(silence_id)
    if current is None:
        return _fail(codes.SQM_NOT_FOUND, f"the silence rule {silence_id} does not exist", "resultDesc")
    for rule in sb.state.data.silence_rules.values():
        if rule["name"] == name and rule["silence_id"] != silence_id:
            return _fail(codes.SQM_BAD_VALUE, f"another silence rule is already named {name!r}", "resultDesc")
    if new_exception is not None:
        for side in new_exception.values():
            for ids in side.values():
                unknown = [i for i in ids if i not in sb.state.data.sentences]
                if unknown:
                    return _fail(codes.SQM_BAD_VALUE, f"the sentence {unknown[0]} does not exist", "resultDesc")
    record: StoredObject = {**current, "name": name, **numbers}
    if new_other is not None:
        record["other"] = new_other
    if new_exception is not None:
        record["exception"] = new_exception
    sb.state.put_silence_rule(record)
    return Reply(200, {"resultCode": codes.SQM_OK, "resultDesc": "操作成功"},
                 record=record_key(KIND_SILENCE, silence_id))


def _rule_view(sb: Sandbox, rule: StoredObject, full: bool) -> StoredObject:
    """A rule as the query calls answer it: numbers as strings, sentences as objects."""
    view: StoredObject = {"silence_id": rule["silence_id"], "name": rule["name"], "score": str(rule["score"]),
                    "seconds": str(rule["seconds"]), "times": str(rule["times"])}
    if not full:
        return view
    if "other" in rule:
        view["other"] = {k: str(v) for k, v in rule["other"].items()}
    sentences = sb.state.data.sentences

    def objects(ids: list[str]) -> list[StoredObject]:
        return [dict(sentences[i]) for i in ids if i in sentences]

    exc = rule.get("exception", {})
    view["exception"] = {
        "before": {"staff": objects(exc.get("before", {}).get("staff", [])),
                   "customer": objects(exc.get("before", {}).get("customer", []))},
        "after": {"staff": objects(exc.get("after", {}).get("staff", []))},
    }
    return view


def query_silence_rule(sb: Sandbox, req: Request) -> Reply:
    """POST .../silencerule/querySilenceRule: one rule by ``silence_id``."""
    refused = _check_operator(sb, req)
    if refused is not None:
        return refused
    try:
        body = parse_object(req.body)
        check_fields(body, ("silence_id",), "", sb.options.allow_unknown_fields)
        silence_id = get_string(body, "silence_id", required=True)
    except Invalid as exc:
        return _bad_request(exc, codes.SQM_BAD_REQUEST, "resultDesc")
    assert silence_id is not None
    rule = sb.state.silence_rule(silence_id)
    if rule is None:
        return _fail(codes.SQM_NOT_FOUND, f"the silence rule {silence_id} does not exist", "resultDesc")
    return Reply(200, {"resultCode": codes.SQM_OK, "resultDesc": "操作成功", "data": _rule_view(sb, rule, True)})


def query_silence_rules(sb: Sandbox, req: Request) -> Reply:
    """POST .../silencerule/querySilenceRules: ``page`` (from 1), ``limit`` (<=100), ``keyword`` in the name."""
    refused = _check_operator(sb, req)
    if refused is not None:
        return refused
    try:
        body = parse_object(req.body) if req.body.strip() else {}
        check_fields(body, ("page", "limit", "keyword"), "", sb.options.allow_unknown_fields)
        page = get_int(body, "page", minimum=1, maximum=INT32_MAX) or 1
        limit = get_int(body, "limit", minimum=1, maximum=100) or 10
        keyword = get_string(body, "keyword") or ""
    except Invalid as exc:
        return _bad_request(exc, codes.SQM_BAD_REQUEST, "resultDesc")
    rules = [r for r in sb.state.data.silence_rules.values() if keyword in r["name"]]
    start = (page - 1) * limit
    return Reply(200, {"resultCode": codes.SQM_OK, "resultDesc": "操作成功", "total": len(rules),
                       "data": [_rule_view(sb, r, False) for r in rules[start:start + limit]]})


# -- queryAgentInfo ---------------------------------------------------------------------------------

AGENT_INFO_FIELDS = ("workNo", "sipAccount", "sipPwd", "accountCode")
"""The agent fields of the queryAgentInfo page (1.3.1-1.3.4); an agent without an account has no accountCode."""


def query_agent_info(sb: Sandbox, req: Request) -> Reply:
    """GET .../CC-Management/v1/queryAgentInfo: the softphone of every agent, passwords included."""
    if sb.agent_info_cache is None:
        port: int | str = str(SIP_SERVICE_PORT) if sb.options.sip_port_as_string else SIP_SERVICE_PORT
        agents = [{k: a[k] for k in AGENT_INFO_FIELDS if k in a} for a in sb.state.data.agents]
        answer = {"sipServiceIp": SIP_SERVICE_IP, "sipServicePort": port, "agents": agents}
        # Agents never change, and 60,000 of them take a while to serialise: do it once.
        sb.agent_info_cache = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(200, None, raw=sb.agent_info_cache)


SYS_INFO_PATHS = ("/apiaccess/CC-Management/v1/querySysInfo", "/apiaccess/CC-Mangemant/v1/querySysInfo")
"""querySysInfo as the English edition spells it, and as the Chinese edition of 2025 does (api-notes.md):
real deployments answer one or the other, the sandbox both, and its request log says which was asked."""
SYS_AGENT_FIELDS = ("workNo", "sipAccount", "sipPwd", "password", "id", "ccRoleId", "accountId", "accountCode",
                    "accountName", "agentType", "selfPhone", "createInCtiFlag", "guId", "singlePhoneFlag",
                    "agentpara", "partdbId", "tenantId", "agentStatus", "timeRemaining")
"""Each agent's fields in the Chinese edition (api-notes.md); an agent without a value leaves the field out."""


def query_sys_info(sb: Sandbox, req: Request) -> Reply:
    """GET .../querySysInfo: the service and SIP servers (strings) and every agent, secrets included.

    No body, no paging, no return code: the notes list none. Not cached like queryAgentInfo: only a walk
    from agents to their settings asks for it, once.
    """
    agents = [{k: a[k] for k in SYS_AGENT_FIELDS if k in a and a[k] != ""} for a in sb.state.data.agents]
    return Reply(200, {"serviceIp": SERVICE_IP, "servicePort": SERVICE_PORT, "sipServiceIp": SIP_SERVICE_IP,
                       "sipServicePort": str(SIP_SERVICE_PORT), "agents": agents})
