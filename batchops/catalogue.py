"""The operation catalogue: one declarative description per API update call and its read side.

Everything else is derived from here: the pandera schemas (``schemas.py``), the templates, the request
bodies, the Results messages, the docs, and how records are read back (``Operation.read``, a
:class:`~batchops.readspec.ReadSide`: the by-key query, the paged listing, the facts that block an update,
the name shown beside a key, the success codes), which ``readers.py`` and ``export.py`` run without
knowing any operation by name. A limit is written once, in a :class:`Field`.

Sources: the five pages in ``shared/api-docs`` and ``shared/api-notes.md``. Where a page is silent the
choice made here says so in the field's ``note``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .http.calls import CallResult, Family, PreparedCall
from .readspec import AgentWalk, Blocker, Fact, KeyQuery, Listing, Paging, ReadSide

MAX_NUMBER_LENGTH = 15
"""Every softphone or display number: "Length limit of each number: string (15)"."""
MAX_NUMBERS_PER_LIST = 5
"""callerPresent / callNumber: "A maximum of five numbers"."""
INT32_MAX = 2_147_483_647
REMARK_MAX_LENGTH = 200
"""The iSales page names error 02000003 (too long) but no length; 200 is batchops' conservative cap."""
RULE_NAME_MAX_LENGTH = 200
"""The silence-rule page gives no length for 规则名称; 200 is batchops' conservative cap."""
EPOCH_MS_FLOOR = 100_000_000_000
"""Epoch milliseconds from here up (1973-03-03): a smaller number is seconds sent by mistake."""
REMARK_FORBIDDEN = "<>'\""
"""Characters the iSales server rejects with 02000002 (invalid characters)."""


class Kind(str, Enum):
    """How a column's cells are read and checked."""

    ID = "id"  # a record identifier: text, no spaces; Excel must not have rounded it
    NUMBER = "number"  # a softphone or display number: digits, at most 15
    NUMBER_LIST = "number_list"  # comma-separated numbers, at most five
    ID_LIST = "id_list"  # comma-separated identifiers (silence-rule sentence IDs)
    CODE = "code"  # one of a fixed set of codes
    INTEGER = "integer"  # a whole number within a range
    TEXT = "text"  # free text
    TIMESTAMP_MS = "timestamp_ms"  # a date-time, sent as epoch milliseconds
    TIMESTAMP_S = "timestamp_s"  # a date-time, sent as epoch seconds


TEXT_KINDS = frozenset({Kind.ID, Kind.NUMBER, Kind.NUMBER_LIST, Kind.ID_LIST, Kind.TEXT})
LIST_KINDS = frozenset({Kind.NUMBER_LIST, Kind.ID_LIST})
DIGIT_KINDS = frozenset({Kind.ID, Kind.NUMBER, Kind.NUMBER_LIST, Kind.ID_LIST})
"""Kinds whose numeric cells Excel may have damaged (rounded IDs, lost leading zeros)."""


@dataclass(frozen=True)
class Choice:
    """An allowed code and what it means."""

    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One column of an operation's sheet: how to read it, what is allowed, where it goes in the body."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    as_int: bool = False  # send the value as a JSON integer (codes and integers)
    max_length: int | None = None
    max_items: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Choice, ...] = ()
    forbidden: str = ""
    aliases: tuple[str, ...] = ()
    body_path: tuple[str, ...] = ()  # where the value goes in the JSON body; () = top level, own name
    in_url: bool = False  # part of the URL path instead of the body
    example: str = ""
    note: str = ""

    @property
    def path(self) -> tuple[str, ...]:
        """The key path of this value in the request body."""
        return self.body_path or (self.name,)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def limits(self) -> str:
        """Mandatory or optional, then the rules: for template input messages and docs."""
        return f"{'mandatory' if self.required else 'optional'}; {self.rules()}"

    def rules(self) -> str:
        """What a value must look like, in one phrase, for messages."""
        parts: list[str] = []
        if self.kind is Kind.NUMBER:
            parts.append(f"digits, at most {self.max_length} characters")
        elif self.kind is Kind.NUMBER_LIST:
            parts.append(
                f"up to {self.max_items} numbers separated by commas, each digits of at most "
                f"{self.max_length} characters"
            )
        elif self.kind is Kind.ID_LIST:
            parts.append("IDs separated by commas")
        elif self.kind is Kind.ID:
            longest = f" of at most {self.max_length} characters" if self.max_length else ""
            parts.append(f"an ID{longest} typed as text: format the column as Text so Excel keeps every digit")
        elif self.kind is Kind.CODE:
            parts.append("one of " + ", ".join(f"{c.value} ({c.label})" for c in self.choices))
        elif self.kind is Kind.INTEGER:
            parts.append(f"a whole number from {self.minimum} to {self.maximum}")
        elif self.kind is Kind.TIMESTAMP_MS:
            parts.append("a date-time like 2026-12-01 09:30 or epoch milliseconds")
        elif self.kind is Kind.TIMESTAMP_S:
            parts.append("a date-time like 2026-12-01 09:30 or epoch seconds")
        if self.kind is Kind.TEXT and self.max_length:
            parts.append(f"at most {self.max_length} characters")
        if self.forbidden:
            parts.append("without " + " ".join(self.forbidden))
        return "; ".join(parts) or "any text"  # never an empty phrase: "name is mandatory (mandatory; )"


@dataclass(frozen=True)
class NotAfter:
    """Row rule: ``first`` must not be later than ``second`` when both are given."""

    first: str
    second: str


@dataclass(frozen=True)
class OneOf:
    """Row rule: at least one of ``names`` must be given."""

    names: tuple[str, ...]
    why: str


RowRule = NotAfter | OneOf


@dataclass(frozen=True)
class Success:
    """How an HTTP 200 answer says success: which field holds the code, which codes mean success."""

    code_fields: tuple[str, ...]
    ok_codes: tuple[str, ...]
    message_fields: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What a call's answer means for its row."""

    ok: bool
    code: str
    message: str


@dataclass(frozen=True)
class Operation:
    """One API update call and the sheet that drives it."""

    name: str
    title: str
    api: str
    family: Family
    path: str  # below the family's base URL; ``{field}`` placeholders come from in_url fields
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # the columns that identify the record a row updates
    success: Success
    rules: tuple[RowRule, ...] = ()
    sends_user_id: bool = False  # the x-UserId operator header (silence-rule calls)
    doc: str = ""
    read: ReadSide | None = None
    """How its records are read back (plan, before-values, export); None: this operation cannot be read."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def field(self, name: str) -> Field:
        """The field called ``name`` (KeyError when there is none)."""
        return self._by_name[name]  # type: ignore[attr-defined, no-any-return]

    @property
    def columns(self) -> tuple[str, ...]:
        """Canonical column headers in template order."""
        return tuple(f.name for f in self.fields)

    def fingerprint(self) -> str:
        """A short hash of everything a template encodes; a template stamped with another is stale."""
        spec = [
            [f.name, f.kind.value, f.required, f.max_length, f.max_items, f.minimum, f.maximum,
             list(f.choice_values), f.forbidden]
            for f in self.fields
        ]
        blob = json.dumps([self.name, spec], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def read_success(self) -> Success:
        """How a read answer says success: the read side's own codes, else the write call's."""
        return (self.read.success if self.read is not None else None) or self.success

    def record_key(self, values: Mapping[str, Any]) -> str:
        """The record's identity as text, e.g. ``1307145259662215169`` or ``12/17472992…``."""
        return "/".join(str(values.get(name, "")) for name in self.key)

    def build_call(self, values: Mapping[str, Any]) -> PreparedCall:
        """The request for one validated row; ``values`` holds typed values of the non-empty cells."""
        body: dict[str, Any] = {}
        path_args: dict[str, str] = {}
        for f in self.fields:
            if f.name not in values:
                continue
            value = values[f.name]
            if f.in_url:
                path_args[f.name] = str(value)
                continue
            node = body
            for part in f.path[:-1]:
                node = node.setdefault(part, {})
            node[f.path[-1]] = value
        return PreparedCall(self.family, "POST", self.path.format(**path_args), body,
                            operator_id=self.sends_user_id)

    def outcome(self, result: CallResult) -> Outcome:
        """Read a call's answer: success only when the documented success code is there."""
        body = result.body if isinstance(result.body, dict) else {}
        code = next((str(body[k]) for k in self.success.code_fields if body.get(k) is not None), "")
        message = next((str(body[k]) for k in self.success.message_fields if body.get(k)), "")
        if result.http_status is None:
            return Outcome(False, "", result.error or "no answer from the server")
        if result.http_status != 200:
            detail = message or result.error or _short(result.text) or "no description"
            return Outcome(False, code, f"HTTP {result.http_status}: {detail}")
        if code in self.success.ok_codes:
            return Outcome(True, code, message or "ok")
        if not code:
            return Outcome(False, "", "the answer carried no return code: " + (_short(result.text) or "empty"))
        return Outcome(False, code, message or "the server reported a failure without a description")


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


C1_SUCCESS = Success(("returnCode",), ("0",), ("returnDesc", "description"))
# The update pages answer returnCode at the top level ("0" success); modifyCalledRoute's table numbers it 1.1
# and marks it optional, but its sample has it at the top level too. An HTTP 200 without a code is not taken
# for success on a write (outcome says so); a read answer without one is (queryAgentInfo documents none).

AGENT_SETTINGS = Operation(
    name="agent-settings",
    title="Agent softphone and display numbers",
    api="agentsettings/update",
    family="c1",
    path="/apiaccess/CC-Management/v1/openapp/agentsettings/update",
    key=("id",),
    success=C1_SUCCESS,
    doc="Updates an agent's personal settings: call type, softphone numbers and display numbers.",
    read=ReadSide(
        export_name="agent-settings",
        by_key=KeyQuery("/apiaccess/CC-Management/v1/openapp/agentsettings/query", params=("userId",),
                        markers=("id",), must_match=("id",)),
        walk=AgentWalk(param="userId", agent_field="accountId", check=("agentName", "accountCode"),
                       context=("workNo", "accountCode", "accountName"), ids=("workNo", "accountCode")),
        facts=(Fact("agentName"), Fact("createTime"), Fact("tenantId")),
        label=("agentName", "workNo"),
        note="The query page lists the record's fields beside returnCode at the top level (no data object); "
             "a server that wraps them in data is read too. api-notes.md adds createTime and tenantId, the "
             "page does not: both are optional facts. There is no list query: every record is found by "
             "walking querySysInfo's agents (accountId as userId, checked by agentName == accountCode), "
             "which api-notes.md calls an inference.",
    ),
    fields=(
        Field("id", Kind.ID, "Primary key of the agent's settings record (from agentsettings/create).",
              required=True, aliases=("settings id", "主键ID", "主键"), example="1307145259662215169"),
        Field("userId", Kind.ID, "The agent's user ID (USER_ID of t_aicc_pub_appcube_user).", required=True,
              aliases=("user id", "用户ID"), example="1660270845627002401"),
        Field("callType", Kind.CODE, "Call type.",
              choices=(Choice("0", "direct call"), Choice("1", "bidirectional call"),
                       Choice("2", "pass-through call")),
              aliases=("call type", "呼叫类型"), example="1"),
        Field("callerPresent", Kind.NUMBER_LIST, "Display numbers of the called party.",
              max_length=MAX_NUMBER_LENGTH, max_items=MAX_NUMBERS_PER_LIST,
              aliases=("display numbers", "主叫号码显示", "外显号码"), example="12323"),
        Field("callNumber", Kind.NUMBER_LIST, "Agent softphone numbers.",
              max_length=MAX_NUMBER_LENGTH, max_items=MAX_NUMBERS_PER_LIST,
              aliases=("softphone numbers", "软电话号码"), example="12323,232343"),
        Field("callNumberDefault", Kind.NUMBER, "Default softphone number bound to the agent.",
              max_length=MAX_NUMBER_LENGTH, aliases=("default softphone number", "默认软电话号码"),
              example="23232323"),
        Field("callerPresentDefault", Kind.NUMBER, "Default display number of the called party.",
              max_length=MAX_NUMBER_LENGTH, aliases=("default display number", "默认外显号码"),
              example="1212121212"),
    ),
)

CALLED_ROUTE = Operation(
    name="called-route",
    title="Access code routing to a skill queue or IVR",
    api="calledRoute/modifyCalledRoute",
    family="c1",
    path="/apiaccess/rest/cc-management/v1/calledRoute/modifyCalledRoute",
    key=("id",),
    success=C1_SUCCESS,
    doc="Changes which skill queue or IVR a called route (access code) is bound to.",
    read=ReadSide(
        export_name="called-routes",
        listing=Listing("/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute",
                        items=(("data", "calledRouteList"), ("calledRouteList",), ("data", "list")),
                        total=(("data", "total"), ("total",))),
        facts=(Fact("editable", labels={"0": "can be edited", "1": "cannot be edited", "2": "can be edited",
                                        "3": "cannot be edited"}),
               Fact("accessCode"), Fact("extCode"), Fact("deviceDesc"), Fact("mediatypeId"), Fact("dnid")),
        blockers=(Blocker("editable", frozenset({"1", "3"}),
                          "the called route {id} cannot be edited (editable={value})"),),
        label=("accessCode", "extCode"),
        note="api-notes.md: data.total and data.calledRouteList, editable 1 or 3 must not be edited. "
             "queryCalledRoute cannot filter by id, so one listing answers every row of a plan.",
    ),
    fields=(
        Field("id", Kind.ID, "ID of the called route.", required=True, aliases=("route id", "被叫路由ID"),
              example="1125397061153369092"),
        Field("devicetype", Kind.CODE, "Device type.", required=True, as_int=True,
              choices=(Choice("1", "skill queue"), Choice("3", "IVR")),
              aliases=("device type", "设备类型"), example="1"),
        Field("deviceId", Kind.INTEGER, "Skill queue ID or IVR ID.", required=True, as_int=True,
              minimum=1, maximum=INT32_MAX, aliases=("device id", "设备ID"), example="1",
              note="The page says Integer; skill queue and IVR IDs start at 1, so batchops takes 1 to "
                   "2147483647 (a 32-bit integer)."),
    ),
)

APPOINTMENT = Operation(
    name="appointment",
    title="Reserved outbound-call appointments (CC-iSales)",
    api="campaigns/{vdnId}/appoint/update",
    family="isales",
    path="/rest/isales/v1/openapi/campaigns/{vdnId}/appoint/update",
    key=("vdnId", "appointId"),
    success=Success(("returnCode", "resultCode"), ("0200000",), ("resultDesc", "returnDesc")),
    rules=(OneOf(("userAccount", "workNo"),
                 "userAccount is mandatory except in the OP independent deployment, where workNo is"),),
    doc="Modifies a reserved manual outbound call; automatic reservations cannot be modified.",
    read=ReadSide(
        export_name="appointments",
        listing=Listing("/rest/isales/v1/openapi/campaigns/{vdnId}/appoint/list",
                        items=(("data",), ("data", "data"), ("data", "list"), ("data", "appointList")),
                        total=(("totalCount",), ("data", "totalCount")), filters=("appointId",)),
        facts=(Fact("callType", labels={"1": "manual", "2": "automatic"}), Fact("calledNo")),
        blockers=(Blocker("callType", frozenset({"2"}),
                          "the appointment {appointId} is automatic: cannot be modified"),),
        label=("calledNo",),
        note="api-notes.md: totalCount and data[] at the top level, callType 1 manual, 2 automatic (only "
             "manual ones can be modified). No page says appoint/list filters by appointId: a server that "
             "ignores the filter is caught by the ID check and the VDN is then listed once.",
    ),
    fields=(
        Field("vdnId", Kind.INTEGER, "VCC ID (part of the URL).", required=True, minimum=1, maximum=9999,
              in_url=True, aliases=("vdn", "vdn id", "vccId"), example="1"),
        Field("appointId", Kind.ID, "ID of the reservation task.", required=True, max_length=64,
              aliases=("appointment id", "预约ID"), example="174729926098016859445364892091",
              note="The page gives no length; IDs are about 30 digits, batchops takes at most 64 characters."),
        Field("userAccount", Kind.TEXT, "Business account of the agent.", max_length=100,
              aliases=("user account", "业务账号"), example="agent001",
              note="No length on the page; 100 as for accountCode in queryAgentInfo."),
        Field("workNo", Kind.INTEGER, "Agent ID (workNo).", minimum=101, maximum=59999,
              aliases=("work no", "agent id", "工号"), example="125",
              note="Sent as a string, as the page types it; 101 to 59999 per queryAgentInfo."),
        Field("appointTime", Kind.TIMESTAMP_MS, "Reservation time.", minimum=EPOCH_MS_FLOOR,
              aliases=("appoint time", "预约时间"), example="2026-12-01 09:30",
              note="Epoch milliseconds; a value under 10^11 (before 1973-03-03) would be seconds sent by "
                   "mistake, so batchops refuses it."),
        Field("remark", Kind.TEXT, "Remarks of the reservation task.", max_length=REMARK_MAX_LENGTH,
              forbidden=REMARK_FORBIDDEN, aliases=("remarks", "备注"), example="Call back after 9",
              note="The page gives no length; batchops caps remarks at 200 characters."),
    ),
)

SILENCE_RULE = Operation(
    name="silence-rule",
    title="Quality-inspection silence rules (CCSQM)",
    api="silencerule/updateSilenceRule",
    family="c1",
    path="/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/updateSilenceRule",
    key=("silence_id",),
    success=Success(("resultCode",), ("0405000",), ("resultDesc",)),
    rules=(NotAfter("call_from", "call_end"),),
    sends_user_id=True,
    doc="Updates a quality-inspection silence rule: score, thresholds, time window, exceptions.",
    read=ReadSide(
        export_name="silence-rules",
        by_key=KeyQuery("/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRule",
                        params=("silence_id",), markers=("silence_id", "setting")),
        listing=Listing("/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRules",
                        items=(("data",), ("data", "list"), ("data", "rows"), ("list",), ("rows",)),
                        total=(("total",), ("data", "total")),
                        paging=Paging(offset_param=None, page_param="page", first_page=1), complete=False),
        facts=tuple(Fact(f"{side}_{who}_sentences", paths=(("exception", side, who),),
                         items=("sentence_id", "sentence_name"))
                    for side, who in (("before", "staff"), ("before", "customer"), ("after", "staff"))),
        label=("name",),
        note="api-notes.md names the calls and their parameters and says the query answers score, seconds "
             "and times as strings and sentences as {category_id, sentence_id, sentence_name}; no page shows "
             "where the rule is in the answer, so it is read at the top level or under data, its fields "
             "flat or under setting. The list answer lacks the exceptions: each rule is read again by ID.",
    ),
    fields=(
        Field("silence_id", Kind.ID, "静默规则标识 Silence rule ID.", required=True,
              body_path=("setting", "silence_id"), aliases=("静默规则标识", "silence rule id"),
              example="922988537635147776"),
        Field("name", Kind.TEXT, "规则名称 Rule name.", required=True, max_length=RULE_NAME_MAX_LENGTH,
              body_path=("setting", "name"), aliases=("规则名称", "rule name"), example="test35444",
              note="The page gives no length; batchops caps rule names at 200 characters."),
        Field("score", Kind.INTEGER, "规则分数 Rule score.", required=True, as_int=True, minimum=1,
              maximum=100, body_path=("setting", "score"), aliases=("规则分数", "rule score"), example="4"),
        Field("seconds", Kind.INTEGER, "连续静默秒数 Seconds of continuous silence.", required=True,
              as_int=True, minimum=1, maximum=INT32_MAX, body_path=("setting", "seconds"),
              aliases=("连续静默秒数",), example="5"),
        Field("times", Kind.INTEGER, "静默次数 Number of silences.", required=True, as_int=True, minimum=1,
              maximum=INT32_MAX, body_path=("setting", "times"), aliases=("静默次数",), example="4"),
        Field("call_from", Kind.TIMESTAMP_S, "单通通话开始时间 Call start time.", minimum=0,
              body_path=("setting", "other", "call_from"), aliases=("单通通话开始时间",),
              example="2021-06-17 14:38:04"),
        Field("call_end", Kind.TIMESTAMP_S, "单通通话结束时间 Call end time.", minimum=0,
              body_path=("setting", "other", "call_end"), aliases=("单通通话结束时间",),
              example="2021-06-23 14:38:05"),
        Field("before_staff", Kind.ID_LIST, "静默之前的例外设定: 座席说的句子标识集合 "
              "Sentence IDs the agent says before the silence.",
              body_path=("exception", "before", "staff"),
              aliases=("静默之前座席说的句子标识集合", "静默之前的例外设定座席"), example="14161"),
        Field("before_customer", Kind.ID_LIST, "静默之前的例外设定: 客户说的句子标识集合 "
              "Sentence IDs the customer says before the silence.",
              body_path=("exception", "before", "customer"),
              aliases=("静默之前客户说的句子标识集合", "静默之前的例外设定客户"), example=""),
        Field("after_staff", Kind.ID_LIST, "静默之后的例外设定: 座席说的句子标识集合 "
              "Sentence IDs the agent says after the silence.",
              body_path=("exception", "after", "staff"),
              aliases=("静默之后座席说的句子标识集合", "静默之后的例外设定座席"), example=""),
    ),
)

OPERATIONS: dict[str, Operation] = {op.name: op for op in (AGENT_SETTINGS, CALLED_ROUTE, APPOINTMENT, SILENCE_RULE)}


def get_operation(name: str) -> Operation:
    """The operation called ``name``; KeyError lists the known ones."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}") from None


def normalize_header(text: str) -> str:
    """Headers match case-, space-, underscore- and hyphen-insensitively."""
    return re.sub(r"[\s_\-:：]+", "", str(text)).casefold()


def header_index(op: Operation) -> dict[str, str]:
    """Normalised header or alias → canonical field name."""
    index: dict[str, str] = {}
    for f in op.fields:
        for text in (f.name, *f.aliases):
            index[normalize_header(text)] = f.name
    return index
