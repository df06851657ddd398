"""Deterministic seed data at a realistic scale: the same seed always gives the same records.

Shapes follow the API pages and the read endpoints in api-notes.md. The awkward cases a client must
survive are seeded on purpose: SIP accounts and numbers with leading zeros, 19-digit IDs that a
spreadsheet would round, routes that must not be edited, automatic appointments, rules in Chinese.

Each agent also carries the fields querySysInfo answers (api-notes.md, "From agents to their
agent-settings userId"): its configuration ``id``, ``accountId`` (the userId of its agent settings),
``accountName``, its secret ``password`` and the rest. A client that maps agents to settings must cope with
the cases seeded here (:func:`_sys_info`): agents without ``accountCode`` (nothing to check a match
against), without ``accountId``, with an ``accountId`` that has no settings, and settings whose
``agentName`` is not the agent's ``accountCode``.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any

from .options import WORKNO_MAX, WORKNO_MIN, SandboxOptions

StoredObject = dict[str, Any]
"""One JSON object as the sandbox stores and serves it (an agent, a setting, a route, a rule...)."""

SIP_SERVICE_IP = "10.10.96.98"
SIP_SERVICE_PORT = 5060
SERVICE_IP = "10.10.96.97"
SERVICE_PORT = "28070"
TENANT_ID = "202103120315"
MEDIA_TYPES = (5, 53)  # voice, multimedia
# 2026-07-01T00:00:00Z in milliseconds: appointments sit after it, whatever day the tests run.
APPOINTMENT_BASE_MS = 1_782_864_000_000
CREATE_TIME_BASE_MS = 1_700_000_000_000

_SURNAMES = ("Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun")
_GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Yan", "Jun", "Tao", "Ming", "Hui", "Xin")
_SENTENCES = (
    ("Greeting", "您好，请问有什么可以帮您？"),
    ("Greeting", "Thank you for calling, how can I help?"),
    ("Hold", "请稍等，我帮您查询一下"),
    ("Hold", "Please hold while I check that for you"),
    ("Verify", "请提供您的身份证后四位"),
    ("Verify", "May I have your account number?"),
    ("Closing", "感谢您的来电，再见"),
    ("Closing", "Is there anything else I can help with?"),
    ("Complaint", "我要投诉"),
    ("Complaint", "I want to speak to a supervisor"),
)


@dataclass
class SeedData:
    """Every record the sandbox starts with, keyed as the API addresses them."""

    agents: list[StoredObject] = field(default_factory=list)
    agent_settings: dict[str, StoredObject] = field(default_factory=dict)
    routes: dict[str, StoredObject] = field(default_factory=dict)
    skill_queues: dict[int, str] = field(default_factory=dict)
    ivrs: dict[int, str] = field(default_factory=dict)
    sentences: dict[str, StoredObject] = field(default_factory=dict)
    silence_rules: dict[str, StoredObject] = field(default_factory=dict)
    appointments: dict[int, dict[str, StoredObject]] = field(default_factory=dict)


class _Ids:
    """Unique random decimal IDs of a fixed width (19 digits is a Java long, 30 an iSales appointment)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def new(self, digits: int) -> str:
        while True:
            value = str(self._rng.randrange(10 ** (digits - 1), 10**digits))
            if value not in self._seen:
                self._seen.add(value)
                return value


def generate(options: SandboxOptions) -> SeedData:
    """Build the seed data for ``options`` (only ``seed`` and the counts matter)."""
    rng = random.Random(options.seed)
    ids = _Ids(rng)
    data = SeedData()
    _agents(rng, options, data)
    _agent_settings(rng, ids, options, data)
    _devices(rng, options, data)
    _routes(rng, ids, options, data)
    _sentences(rng, data)
    _silence_rules(rng, ids, options, data)
    _appointments(rng, ids, options, data)
    # A stream of its own, so the querySysInfo fields leave every other seeded value as it was.
    _sys_info(random.Random(f"sysinfo-{options.seed}"), ids, data)
    return data


def _sip_account(i: int, work_no: int) -> str:
    # Every 8th account starts with 0 and every 23rd with 00: a spreadsheet that reads them as numbers
    # loses those zeros, which is the mistake the sandbox must reveal. The prefixes keep them unique.
    if i % 23 == 5:
        return f"00{work_no:06d}"
    if i % 8 == 3:
        return f"0{7_770_000 + work_no}"
    return str(88_880_000 + work_no)


def _agents(rng: random.Random, options: SandboxOptions, data: SeedData) -> None:
    count = options.agents_with_workno
    room = (WORKNO_MAX - WORKNO_MIN + 1) - count  # workNos we may skip and still fit
    work_no = WORKNO_MIN
    pwd_chars = string.ascii_letters + string.digits + "!@#$%^*"
    for i in range(count):
        if room > 0 and rng.random() < 0.04:
            skip = rng.randint(1, min(room, 9))
            work_no += skip
            room -= skip
        agent: StoredObject = {
            "workNo": work_no,
            "sipAccount": _sip_account(i, work_no),
            "sipPwd": "".join(rng.choice(pwd_chars) for _ in range(12)),
        }
        if i % 10 != 7:  # some agents have no Service Cloud account, as in the page's sample
            agent["accountCode"] = f"{rng.choice(_SURNAMES).lower()}.{rng.choice(_GIVEN).lower()}{work_no}"
        data.agents.append(agent)
        work_no += 1


def _phone(rng: random.Random) -> str:
    # Landlines with an area code keep a leading zero; mobiles start with 1.
    if rng.random() < 0.5:
        return f"0{rng.choice((10, 20, 21, 25, 755))}{rng.randrange(10**7, 10**8)}"
    return f"1{rng.choice((35, 38, 39, 58, 86))}{rng.randrange(10**7, 10**8)}"


def _agent_settings(rng: random.Random, ids: _Ids, options: SandboxOptions, data: SeedData) -> None:
    for i in range(options.agents):
        agent = data.agents[i] if i < len(data.agents) else None
        presents = [_phone(rng) for _ in range(rng.choice((0, 1, 1, 2, 3)))]
        numbers = [agent["sipAccount"]] if agent else []
        numbers += [_phone(rng) for _ in range(rng.choice((0, 0, 1)))]
        setting_id = ids.new(19)
        data.agent_settings[setting_id] = {
            "id": setting_id,
            "callType": rng.choice(("0", "1", "1", "2")),
            "callerPresent": presents,
            "callNumber": numbers,
            "callNumberDefault": numbers[0] if numbers else "",
            "callerPresentDefault": presents[0] if presents else "",
            "userId": ids.new(19),
            "agentName": _agent_name(rng, agent),
            "createTime": str(CREATE_TIME_BASE_MS + i * 61_000 + rng.randrange(60_000)),
            "tenantId": TENANT_ID,
        }


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"


def _agent_name(rng: random.Random, agent: StoredObject | None) -> str:
    """agentName is "the business account bound to the agent" (the query page): its accountCode; a user
    without one gets a person's name. The name is drawn either way, so the values after it do not move."""
    person = _person(rng)
    return str(agent["accountCode"]) if agent and "accountCode" in agent else person


NO_ACCOUNT_ID_EVERY = (31, 4)
"""Agents ``i`` with ``i % 31 == 4`` have no accountId in querySysInfo."""
FOREIGN_ACCOUNT_ID_EVERY = (43, 9)
"""Agents ``i`` with ``i % 43 == 9`` have an accountId that no agent settings carry."""
OTHER_AGENT_NAME_EVERY = (47, 21)
"""Agents ``i`` with ``i % 47 == 21`` have settings whose agentName is a person's name, not their account."""


def _sys_info(rng: random.Random, ids: _Ids, data: SeedData) -> None:
    """The querySysInfo fields of every agent, linked to the agent setting of the same index."""
    settings = list(data.agent_settings.values())
    pwd_chars = string.ascii_letters + string.digits
    for i, agent in enumerate(data.agents):
        setting = settings[i] if i < len(settings) else None
        code = agent.get("accountCode")
        agent.update({
            "password": "".join(rng.choice(pwd_chars) for _ in range(8)),
            "id": ids.new(19),
            "ccRoleId": str(rng.choice((1, 2, 3))),
            "accountName": _person(rng) if code else "",
            "agentType": rng.choice((4, 4, 11)),
            "selfPhone": "",
            "createInCtiFlag": 1,
            "guId": ids.new(16),
            "singlePhoneFlag": "0",
            "agentpara": "",
            "partdbId": "1",
            "tenantId": TENANT_ID,
            "agentStatus": "0",
            "timeRemaining": "0",
        })
        if setting is None or i % NO_ACCOUNT_ID_EVERY[0] == NO_ACCOUNT_ID_EVERY[1]:
            continue  # the field is absent, as in the 2023 English edition
        if i % FOREIGN_ACCOUNT_ID_EVERY[0] == FOREIGN_ACCOUNT_ID_EVERY[1]:
            agent["accountId"] = ids.new(19)
            continue
        agent["accountId"] = setting["userId"]
        if code and i % OTHER_AGENT_NAME_EVERY[0] == OTHER_AGENT_NAME_EVERY[1]:
            setting["agentName"] = _person(rng)


def _devices(rng: random.Random, options: SandboxOptions, data: SeedData) -> None:
    for queue_id in range(1, max(10, options.agents // 30) + 1):
        data.skill_queues[queue_id] = f"Skill queue {queue_id} {rng.choice(('Sales', 'Billing', 'Support'))}"
    for ivr_id in range(1, 13):
        data.ivrs[ivr_id] = f"IVR flow {ivr_id}"


def _routes(rng: random.Random, ids: _Ids, options: SandboxOptions, data: SeedData) -> None:
    access_codes = [f"400{rng.randrange(10**6, 10**7)}" for _ in range(max(2, options.route_count // 8))]
    for i in range(options.route_count):
        route_id = ids.new(19)
        devicetype = 1 if rng.random() < 0.7 else 3
        devices = data.skill_queues if devicetype == 1 else data.ivrs
        device_id = rng.choice(list(devices))
        roll = rng.random()
        # editable 1 or 3: the route must not be edited (api-notes.md). 0 and 2 may be.
        editable = 1 if roll < 0.06 else 3 if roll < 0.12 else 2 if roll < 0.2 else 0
        data.routes[route_id] = {
            "id": route_id,
            "dnid": 1000 + i,
            "accessCode": access_codes[i // 8 % len(access_codes)],
            "extCode": str(i % 8) if i % 8 else "",
            "deviceId": device_id,
            "devicetype": devicetype,
            "deviceDesc": devices[device_id],
            "mediatypeId": rng.choice(MEDIA_TYPES),
            "editable": editable,
        }


def _sentences(rng: random.Random, data: SeedData) -> None:
    categories = {name: str(5000 + n) for n, name in enumerate(sorted({c for c, _ in _SENTENCES}))}
    for n in range(40):
        category, text = _SENTENCES[n % len(_SENTENCES)]
        sentence_id = str(14100 + n * 7 + rng.randrange(7))
        data.sentences[sentence_id] = {
            "category_id": categories[category],
            "sentence_id": sentence_id,
            "sentence_name": text if n < len(_SENTENCES) else f"{text} ({n})",
        }


def _silence_rules(rng: random.Random, ids: _Ids, options: SandboxOptions, data: SeedData) -> None:
    sentence_ids = list(data.sentences)
    for n in range(options.silence_rules):
        silence_id = ids.new(18)
        rule: StoredObject = {
            "silence_id": silence_id,
            "name": f"静默规则{n + 1:02d}" if n % 3 == 0 else f"silence-rule-{n + 1:02d}",
            "score": rng.randint(1, 100),
            "seconds": rng.randint(3, 30),
            "times": rng.randint(1, 10),
            "exception": {
                "before": {
                    "staff": rng.sample(sentence_ids, rng.randint(0, 3)),
                    "customer": rng.sample(sentence_ids, rng.randint(0, 2)),
                },
                "after": {"staff": rng.sample(sentence_ids, rng.randint(0, 2))},
            },
        }
        if n % 4 == 1:
            start = 1_623_911_884 + n * 86_400
            rule["other"] = {"call_from": start, "call_end": start + 518_401}
        data.silence_rules[silence_id] = rule


def _appointments(rng: random.Random, ids: _Ids, options: SandboxOptions, data: SeedData) -> None:
    vdns = options.vdn_ids
    for vdn in vdns:
        data.appointments[vdn] = {}
    with_account = [a for a in data.agents if "accountCode" in a]
    for n in range(options.appointment_count):
        vdn = vdns[n % len(vdns)]
        agent = rng.choice(with_account) if with_account else None
        appoint_id = ids.new(30)
        data.appointments[vdn][appoint_id] = {
            "appointId": appoint_id,
            "callType": 2 if rng.random() < 0.2 else 1,  # 1 manual, 2 automatic (cannot be modified)
            "appointTime": APPOINTMENT_BASE_MS + rng.randrange(0, 90 * 86_400) * 1000,
            "calledNo": _phone(rng),
            "userAccount": agent["accountCode"] if agent else "",
            "workNo": str(agent["workNo"]) if agent else "",
            "remark": rng.choice(("回访客户", "Call back about the invoice", "", "预约外呼 follow-up")),
        }
