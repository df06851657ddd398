"""The sandbox's settings: one frozen dataclass, built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .errors import SandboxError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8707
DEFAULT_AGENTS = 300
DEFAULT_SEED = 7

# Test credentials. They only open this emulator, so printing them is fine.
DEFAULT_APP_KEY = "9a4c1f27e0b84d6c8e3f5a7b2d9c0e13"
DEFAULT_APP_SECRET = "s3cr3t-5a7b2d9c0e134d6c8e3f9a4c1f27e0b8"
DEFAULT_ISALES_AK = "AKSANDBOX7F3E91C2"
DEFAULT_ISALES_SK = "sk-6d0b2f8e4a1c9e7d5b3f0a2c4e6b8d1f"
DEFAULT_USER_ID = "1611917095665261978"

# Agent IDs (workNo) range from 101 to 59999 (queryAgentInfo page).
WORKNO_MIN = 101
WORKNO_MAX = 59999
MAX_AGENTS_WITH_WORKNO = WORKNO_MAX - WORKNO_MIN + 1
MAX_AGENTS = 200_000

TOKEN_TTL_MAX = 3600
DEFAULT_TOKEN_EXPIRE = 600
SIGNATURE_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True)
class SandboxOptions:
    """Everything that shapes one sandbox: data, credentials, faults, persistence.

    ``agents`` is the number of agent-setting records (AppCube users). Agents with a ``workNo`` are
    capped at 59,899 because workNo ranges 101..59999; above that, the extra users have settings but
    no softphone, as supervisors and back-office users do.
    """

    agents: int = DEFAULT_AGENTS
    seed: int = DEFAULT_SEED
    routes: int | None = None
    """Called routes; None means ``max(40, agents // 5)``."""
    silence_rules: int = 60
    appointments: int | None = None
    """Appointments over all VDNs; None means ``max(60, agents // 2)``."""
    vdn_ids: tuple[int, ...] = (1, 2, 3)
    state_file: Path | None = None
    """SQLite file that keeps the state across restarts; None keeps it in memory."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    retry_after_seconds: int = 1
    timeout_hold_seconds: float = 30.0
    """How long a ``timeout`` fault holds the request before answering 504 (longer than a client waits)."""
    token_faults: bool = False
    """Let fault rates hit tokenByAkSk too (by default they spare it: faults.py)."""
    token_ttl: int | None = None
    """Overrides the token lifetime in seconds (the ``Expires`` answered); None honours X-Token-Expire."""
    rate_limit: float | None = None
    """A gateway's flow control: at most this many requests per second on each API path (a token bucket per
    path), 429 with ``Retry-After`` beyond it. None: no limit. The pages do not give AICC's own limits."""
    rate_limit_burst: float | None = None
    """The bucket's size: requests a path may take at once after a quiet spell; None is one second's worth."""

    app_key: str = DEFAULT_APP_KEY
    app_secret: str = DEFAULT_APP_SECRET
    isales_ak: str = DEFAULT_ISALES_AK
    isales_sk: str = DEFAULT_ISALES_SK
    user_id: str = DEFAULT_USER_ID

    signature_skew_seconds: int = SIGNATURE_SKEW_SECONDS
    accept_millisecond_timestamps: bool = False
    """The demo signs ``yyyy-MM-dd'T'HH:mm:ss'Z'``; some ports add milliseconds (api-notes.md)."""
    require_user_id: bool = False
    """Editions disagree whether the silence-rule calls need ``x-UserId``; off accepts its absence."""
    sip_port_as_string: bool = False
    """queryAgentInfo's sample answers ``sipServicePort`` as a number, its table says string(5)."""
    allow_unknown_fields: bool = False
    """Off: a body field the API page does not list is a 400, so a client's typo cannot pass unseen."""
    log_limit: int = 50_000
    """Request-log entries kept (oldest dropped first)."""

    def __post_init__(self) -> None:
        if not 1 <= self.agents <= MAX_AGENTS:
            raise SandboxError(f"--agents must be between 1 and {MAX_AGENTS:,}, not {self.agents}.")
        for name in ("error_rate", "throttle_rate", "timeout_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SandboxError(f"{name} must be between 0 and 1, not {value}.")
        if self.error_rate + self.throttle_rate + self.timeout_rate > 1.0:
            raise SandboxError("error_rate + throttle_rate + timeout_rate must not exceed 1.")
        if self.latency_ms < 0:
            raise SandboxError(f"latency_ms must not be negative, not {self.latency_ms}.")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise SandboxError(f"--rate-limit must be above 0 requests per second, not {self.rate_limit}.")
        if self.rate_limit_burst is not None and not self.rate_limit_burst >= 1:
            raise SandboxError(f"rate_limit_burst must be at least 1 request, not {self.rate_limit_burst}.")
        if self.token_ttl is not None and not 1 <= self.token_ttl <= TOKEN_TTL_MAX:
            raise SandboxError(f"token_ttl must be between 1 and {TOKEN_TTL_MAX}, not {self.token_ttl}.")
        if not self.vdn_ids or any(not 1 <= v <= 9999 for v in self.vdn_ids):
            raise SandboxError("vdn_ids must be VDN IDs between 1 and 9999.")
        if self.state_file is not None and not isinstance(self.state_file, Path):
            object.__setattr__(self, "state_file", Path(self.state_file))

    @property
    def agents_with_workno(self) -> int:
        """How many agents get a workNo and a softphone (workNo ranges 101..59999)."""
        return min(self.agents, MAX_AGENTS_WITH_WORKNO)

    @property
    def route_count(self) -> int:
        """Called routes to seed."""
        return self.routes if self.routes is not None else max(40, self.agents // 5)

    @property
    def appointment_count(self) -> int:
        """Appointments to seed over all VDNs."""
        return self.appointments if self.appointments is not None else max(60, self.agents // 2)

    def with_changes(self, **changes: object) -> SandboxOptions:
        """A copy with some options changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        # Secrets never appear in a repr (STYLE.md); the test credentials are masked like real ones.
        return (
            f"SandboxOptions(agents={self.agents}, seed={self.seed}, state_file={self.state_file!r}, "
            f"latency_ms={self.latency_ms}, error_rate={self.error_rate}, throttle_rate={self.throttle_rate}, "
            f"timeout_rate={self.timeout_rate}, token_ttl={self.token_ttl}, rate_limit={self.rate_limit}, "
            f"app_secret='[secure]', "
            f"isales_sk='[secure]')"
        )
