"""The two agent lists of the C1 gateway: queryAgentInfo (softphones) and querySysInfo (accounts, ids).

``read_agent_info``: queryAgentInfo, the page in api-docs: ``sipServiceIp``, ``sipServicePort`` and
``agents[{workNo, sipAccount, sipPwd, accountCode}]``. ``sipPwd`` is held as a :class:`~batchops.secrets.Secret`
so that only an export told to reveal it can.

``read_sys_info``: querySysInfo (api-notes.md, "From agents to their agent-settings userId"): the same agents
with their configuration ``id``, ``accountId``, ``accountCode``, ``accountName`` and more. Its secrets
(``sipPwd``, ``password``) are never kept: nothing batchops does with this list needs them, so they cannot
reach a file, a log or the journal. The 2023 English edition lists only ``workNo``, ``sipAccount``, ``sipPwd``
and ``password``: every other field may be absent and is ``""`` then. Its path is the setting
``sysinfo_path``, because editions spell it differently (``CC-Management`` / ``CC-Mangemant``).

Neither answer documents a return code: one that carries a C1 failure code is an error, one without a code
is taken at its word.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..catalogue import C1_SUCCESS
from ..http.calls import PreparedCall
from ..http.client import Client
from ..secrets import Secret
from .answers import json_object, require_success, text_of

__all__ = ["AGENT_INFO_PATH", "SYS_AGENT_FIELDS", "Agent", "AgentInfo", "SysAgent", "SysInfo", "iter_agents",
           "read_agent_info", "read_sys_info"]

AGENT_INFO_PATH = "/apiaccess/CC-Management/v1/queryAgentInfo"

SYS_AGENT_FIELDS = ("workNo", "sipAccount", "id", "accountId", "accountCode", "accountName", "agentType",
                    "agentStatus", "ccRoleId", "tenantId")
"""The querySysInfo agent fields batchops keeps (as texts); sipPwd and password are left in the answer."""


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent of queryAgentInfo; ``sip_pwd`` stays a ``Secret`` until an export is told to reveal it."""

    work_no: str
    sip_account: str
    account_code: str
    sip_pwd: Secret | None


@dataclass(frozen=True)
class AgentInfo:
    """The queryAgentInfo answer: the softphone registration server and every agent."""

    sip_service_ip: str
    sip_service_port: str
    agents: list[Agent] = field(default_factory=list)


@dataclass(frozen=True)
class SysAgent:
    """One agent of querySysInfo without its secrets: ``fields`` holds :data:`SYS_AGENT_FIELDS` as texts."""

    fields: dict[str, str]

    def get(self, name: str) -> str:
        """One field's text; ``""`` when the answer did not have it."""
        return self.fields.get(name, "")

    @property
    def work_no(self) -> str:
        return self.get("workNo")


@dataclass(frozen=True)
class SysInfo:
    """The querySysInfo answer: every agent, and which of the fields batchops uses the answer had at all."""

    agents: list[SysAgent]
    present: frozenset[str]
    """Fields at least one agent had: an edition without ``accountId`` leaves every agent unmatched."""


def _get(client: Client, path: str, what: str) -> dict[str, Any]:
    body = json_object(client.send(PreparedCall("c1", "GET", path, None)), what)
    require_success(body, C1_SUCCESS, what)
    return dict(body)


def _agent_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    agents = body.get("agents")
    return [a for a in agents if isinstance(a, dict)] if isinstance(agents, list) else []


def read_agent_info(client: Client) -> AgentInfo:
    """queryAgentInfo: the SIP server and every agent (one GET; the page has no paging)."""
    body = _get(client, AGENT_INFO_PATH, "queryAgentInfo")
    agents = []
    for item in _agent_items(body):
        pwd = item.get("sipPwd")
        agents.append(Agent(
            work_no=text_of(item.get("workNo")),
            sip_account=text_of(item.get("sipAccount")),
            account_code=text_of(item.get("accountCode")),
            sip_pwd=Secret(str(pwd)) if pwd is not None else None,
        ))
    return AgentInfo(text_of(body.get("sipServiceIp")), text_of(body.get("sipServicePort")), agents)


def iter_agents(client: Client) -> Iterator[Agent]:
    """Every agent of queryAgentInfo, ``sipPwd`` held as a ``Secret``."""
    return iter(read_agent_info(client).agents)


def read_sys_info(client: Client) -> SysInfo:
    """querySysInfo at the ``sysinfo_path`` setting: every agent, secrets left out (one GET, no paging)."""
    path = client.settings.sysinfo_path
    body = _get(client, path, f"querySysInfo ({path})")
    agents: list[SysAgent] = []
    present: set[str] = set()
    for item in _agent_items(body):
        kept = {name: text_of(item.get(name)) for name in SYS_AGENT_FIELDS}
        present.update(name for name, value in kept.items() if value)
        agents.append(SysAgent(kept))
    return SysInfo(agents, frozenset(present))
