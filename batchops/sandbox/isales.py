"""CC-iSales: the AK/SK-signed appointment calls (isales-appoint-update page, api-notes.md).

iSales reports problems with its documented codes, both as ``resultCode`` and ``returnCode``:
0200001 parameter error, 02000001 empty parameter, 02000002 invalid characters, 02000003 too long,
04000004 appointment not found. A body that is not JSON at all is an HTTP 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import codes
from .signing import SignatureError, verify
from .state import KIND_APPOINTMENT, record_key
from .validate import Invalid, Reason, check_fields, get_int, get_string, parse_object
from .wire import Reply, Request, gateway_error

if TYPE_CHECKING:
    from .app import Sandbox

PREFIX = "/rest/isales/v1/openapi/campaigns/"
REMARK_FORBIDDEN = "<>'\""
# Not on the page; the sandbox's assumptions, generous on purpose.
REMARK_MAX_LEN = 200
APPOINT_ID_MAX_LEN = 64
USER_ACCOUNT_MAX_LEN = 100
# appointTime is a timestamp in milliseconds; a value below this (March 1973) is seconds sent by mistake.
MILLISECONDS_MIN = 100_000_000_000

_CODE_FOR_REASON = {
    Reason.MISSING: codes.ISALES_EMPTY,
    Reason.EMPTY: codes.ISALES_EMPTY,
    Reason.CHARS: codes.ISALES_INVALID_CHARS,
    Reason.TOO_LONG: codes.ISALES_TOO_LONG,
}


def answer(code: str, desc: str, status: int = 200, **extra: Any) -> Reply:
    """An iSales answer: the code and description twice, as resultCode/Desc and returnCode/Desc."""
    body = {"returnCode": code, "resultCode": code, "resultDesc": desc, "returnDesc": desc, **extra}
    return Reply(status, body, detail=None if code == codes.ISALES_OK else desc)


def check_signature(sb: Sandbox, req: Request) -> Reply | None:
    """A 401 unless the ``auth-v2`` signature matches the request as received."""
    try:
        verify(req.headers.get("authorization"), method=req.method, raw_path=req.raw_path, query=req.query,
               headers=req.headers, body=req.body, credentials={sb.options.isales_ak: sb.options.isales_sk},
               now=sb.clock.now(), skew_seconds=sb.options.signature_skew_seconds,
               accept_ms=sb.options.accept_millisecond_timestamps)
    except SignatureError as exc:
        return gateway_error(401, str(exc))
    return None


def _parse(req: Request) -> dict[str, Any] | Reply:
    content_type = req.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return answer(codes.ISALES_PARAMETER_ERROR,
                      "Content-Type must be application/json; charset=UTF-8", status=400)
    try:
        return parse_object(req.body)
    except Invalid as exc:
        return answer(codes.ISALES_PARAMETER_ERROR, exc.message, status=400)


def _vdn(req: Request) -> int | Reply:
    raw = req.params["vdnId"]
    if not raw.isdigit() or not 1 <= int(raw) <= 9999:
        return answer(codes.ISALES_PARAMETER_ERROR, f"vdnId must be an integer from 1 to 9999, not {raw!r}")
    return int(raw)


def _vdn_and_body(req: Request) -> tuple[int, Any] | Reply:
    """The VDN from the path and the parsed JSON body, or the refusal to send back."""
    vdn = _vdn(req)
    if isinstance(vdn, Reply):
        return vdn
    body = _parse(req)
    if isinstance(body, Reply):
        return body
    return vdn, body


def update_appointment(sb: Sandbox, req: Request) -> Reply:
    """POST /rest/isales/v1/openapi/campaigns/{vdnId}/appoint/update: a manual appointment only."""
    parsed = _vdn_and_body(req)
    if isinstance(parsed, Reply):
        return parsed
    vdn, body = parsed
    try:
        check_fields(body, ("appointId", "userAccount", "workNo", "appointTime", "remark"), "",
                     sb.options.allow_unknown_fields)
        appoint_id = get_string(body, "appointId", required=True, max_len=APPOINT_ID_MAX_LEN)
        user_account = get_string(body, "userAccount", max_len=USER_ACCOUNT_MAX_LEN)
        work_no = get_string(body, "workNo", max_len=5)
        appoint_time = get_int(body, "appointTime")
        remark = get_string(body, "remark", max_len=REMARK_MAX_LEN, forbidden=REMARK_FORBIDDEN)
    except Invalid as exc:
        return answer(_CODE_FOR_REASON.get(exc.reason, codes.ISALES_PARAMETER_ERROR), exc.message)
    if not user_account and not work_no:
        # userAccount is mandatory outside the OP independent deployment, workNo inside it.
        return answer(codes.ISALES_EMPTY, "userAccount or workNo is mandatory")
    if work_no is not None and work_no not in sb.state.work_nos:
        return answer(codes.ISALES_PARAMETER_ERROR, f"workNo: the agent {work_no} does not exist")
    if appoint_time is not None and appoint_time < MILLISECONDS_MIN:
        return answer(codes.ISALES_PARAMETER_ERROR,
                      f"appointTime: {appoint_time} is not a timestamp in milliseconds")
    assert appoint_id is not None
    current = sb.state.appointment(vdn, appoint_id)
    if current is None:
        return answer(codes.ISALES_NOT_FOUND, f"the appointment {appoint_id} does not exist on VDN {vdn}")
    if current["callType"] == 2:
        return answer(codes.ISALES_PARAMETER_ERROR,
                      f"the appointment {appoint_id} is an automatic outbound call and cannot be modified")
    changes = {k: v for k, v in (("userAccount", user_account), ("workNo", work_no),
                                 ("appointTime", appoint_time), ("remark", remark)) if v is not None}
    sb.state.put_appointment(vdn, {**current, **changes})
    reply = answer(codes.ISALES_OK, "update success")
    reply.record = record_key(KIND_APPOINTMENT, vdn, appoint_id)
    return reply


def list_appointments(sb: Sandbox, req: Request) -> Reply:
    """POST /rest/isales/v1/openapi/campaigns/{vdnId}/appoint/list: ``offset`` + ``limit`` (<=100)."""
    parsed = _vdn_and_body(req)
    if isinstance(parsed, Reply):
        return parsed
    vdn, body = parsed
    try:
        check_fields(body, ("offset", "limit", "appointId", "calledNo", "callType", "userAccount", "workNo"),
                     "", sb.options.allow_unknown_fields)
        offset = get_int(body, "offset", minimum=0) or 0
        limit = get_int(body, "limit", minimum=1, maximum=100) or 10
        filters = {name: get_string(body, name) for name in ("appointId", "calledNo", "userAccount", "workNo")}
        call_type = get_int(body, "callType", minimum=1, maximum=2)
    except Invalid as exc:
        return answer(_CODE_FOR_REASON.get(exc.reason, codes.ISALES_PARAMETER_ERROR), exc.message)
    rows = [
        a for a in sb.state.data.appointments.get(vdn, {}).values()
        if all(v is None or a.get(k) == v for k, v in filters.items())
        and (call_type is None or a["callType"] == call_type)
    ]
    return answer(codes.ISALES_OK, "query success", totalCount=len(rows), data=rows[offset:offset + limit])
