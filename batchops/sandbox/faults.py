"""Misbehaving on purpose: latency, 503s, 429s and requests that never get an answer.

A fault is decided before the request is read any further, so it never changes state: the applied
count of every record stays exact. Rates draw from their own seeded generator; queued faults hit the
next matching requests exactly, for tests that must not depend on chance.

The token call (tokenByAkSk) is spared by the rates and by queued faults that do not name it, unless
``token_faults`` is on: an error rate then measures how a run copes with failing calls, not whether it
can log in at all. A queued fault whose ``path_contains`` names the token path always hits it.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, fields

from ..errors import ConfigError
from .options import TOKEN_TTL_MAX, SandboxOptions


class Fault(enum.Enum):
    """What a misbehaving sandbox does instead of answering."""

    ERROR = "error"  # HTTP 503
    THROTTLE = "throttle"  # HTTP 429 with Retry-After
    TIMEOUT = "timeout"  # no answer for timeout_hold_seconds, then 504: the client gives up first
    LOST_RESPONSE = "lost_response"  # the update IS applied, then the answer is held like a timeout


@dataclass
class FaultSettings:
    """The fault knobs, changeable while the sandbox runs."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    retry_after_seconds: int = 1
    timeout_hold_seconds: float = 30.0
    token_ttl: int | None = None
    token_faults: bool = False
    """Let the rates (and queued faults not naming it) hit tokenByAkSk too."""

    @classmethod
    def from_options(cls, options: SandboxOptions) -> FaultSettings:
        """The knobs as the options set them."""
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})

    def as_dict(self) -> dict[str, float | int | bool | None]:
        """The knobs as JSON-ready values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _Queued:
    fault: Fault
    remaining: int
    path_contains: str


class Faults:
    """Decides, per request, whether and how to misbehave."""

    def __init__(self, options: SandboxOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self.settings = FaultSettings.from_options(options)
        self._rng = random.Random(options.seed ^ 0x5EED)
        self._queue: deque[_Queued] = deque()
        self.injected: dict[str, int] = {f.value: 0 for f in Fault}

    def reset(self) -> None:
        """Back to the options' settings, with no queued faults and zero counts."""
        with self._lock:
            self.settings = FaultSettings.from_options(self._options)
            self._rng = random.Random(self._options.seed ^ 0x5EED)
            self._queue.clear()
            self.injected = {f.value: 0 for f in Fault}

    def update(self, **changes: float | bool | None) -> FaultSettings:
        """Change some knobs (``error_rate=0.1``, ``latency_ms=20``...) and return the new settings."""
        with self._lock:
            current = self.settings.as_dict()
            unknown = set(changes) - set(current)
            if unknown:
                raise ConfigError(f"Unknown fault setting {min(unknown)!r}; known: {sorted(current)}.")
            merged = {**current, **changes}
            try:
                for name in ("latency_ms", "error_rate", "throttle_rate", "timeout_rate", "timeout_hold_seconds"):
                    merged[name] = float(merged[name])  # type: ignore[arg-type]
                merged["retry_after_seconds"] = int(merged["retry_after_seconds"])  # type: ignore[arg-type]
                if merged["token_ttl"] is not None:
                    merged["token_ttl"] = int(merged["token_ttl"])
                merged["token_faults"] = bool(merged["token_faults"])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"Fault settings must be numbers ({exc}).") from None
            for name in ("error_rate", "throttle_rate", "timeout_rate"):
                if not 0.0 <= merged[name] <= 1.0:  # type: ignore[operator]
                    raise ConfigError(f"{name} must be between 0 and 1, not {merged[name]}.")
            if merged["error_rate"] + merged["throttle_rate"] + merged["timeout_rate"] > 1.0:  # type: ignore[operator]
                raise ConfigError("error_rate + throttle_rate + timeout_rate must not exceed 1.")
            ttl = merged["token_ttl"]
            if ttl is not None and not 1 <= ttl <= TOKEN_TTL_MAX:
                raise ConfigError(f"token_ttl must be between 1 and {TOKEN_TTL_MAX}, not {ttl}.")
            if merged["latency_ms"] < 0 or merged["timeout_hold_seconds"] < 0:  # type: ignore[operator]
                raise ConfigError("latency_ms and timeout_hold_seconds must not be negative.")
            self.settings = FaultSettings(**merged)  # type: ignore[arg-type]
            return self.settings

    def queue(self, fault: Fault | str, count: int = 1, path_contains: str = "") -> None:
        """Make the next ``count`` requests whose path contains ``path_contains`` suffer ``fault``."""
        with self._lock:
            self._queue.append(_Queued(Fault(fault), count, path_contains))

    def pick(self, path: str, is_token: bool = False) -> Fault | None:
        """The fault this request suffers, if any (queued faults first, then the rates)."""
        spare_token = is_token and not self.settings.token_faults
        with self._lock:
            for item in self._queue:
                if item.path_contains in path and not (spare_token and not item.path_contains):
                    item.remaining -= 1
                    if item.remaining <= 0:
                        self._queue.remove(item)
                    self.injected[item.fault.value] += 1
                    return item.fault
            s = self.settings
            if spare_token or not (s.error_rate or s.throttle_rate or s.timeout_rate):
                return None
            roll = self._rng.random()
            fault = None
            if roll < s.error_rate:
                fault = Fault.ERROR
            elif roll < s.error_rate + s.throttle_rate:
                fault = Fault.THROTTLE
            elif roll < s.error_rate + s.throttle_rate + s.timeout_rate:
                fault = Fault.TIMEOUT
            if fault is not None:
                self.injected[fault.value] += 1
            return fault


class Clock:
    """Wall-clock seconds that tests can move forward, to expire tokens without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, plus any offset a test added."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (tokens expire, signatures age)."""
        self.offset += seconds
