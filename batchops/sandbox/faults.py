"""Misbehaving on purpose: latency, 503s, 429s, a gateway's rate limit and requests that never get an answer.

A fault is decided before the request is read any further, so it never changes state: the applied
count of every record stays exact. Rates draw from their own seeded generator; queued faults hit the
next matching requests exactly, for tests that must not depend on chance.

The token call (tokenByAkSk) is spared by the rates and by queued faults that do not name it, unless
``token_faults`` is on: an error rate then measures how a run copes with failing calls, not whether it
can log in at all. A queued fault whose ``path_contains`` names the token path always hits it.

``rate_limit`` is a gateway's flow control, not chance: a token bucket per API path (``GatewayLimit``) that
refills at ``rate_limit`` requests per second up to ``rate_limit_burst`` (one second's worth by default); a
request that finds its bucket empty is answered 429 with ``Retry-After`` (whole seconds until a token, at
least ``retry_after_seconds``). It runs on the sandbox's clock, so a test can refill a bucket by advancing it.
"""

from __future__ import annotations

import enum
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, fields

from .errors import SandboxError
from .options import TOKEN_TTL_MAX, SandboxOptions


class Fault(enum.Enum):
    """What a misbehaving sandbox does instead of answering."""

    ERROR = "error"  # HTTP 503
    THROTTLE = "throttle"  # HTTP 429 with Retry-After
    TIMEOUT = "timeout"  # no answer for timeout_hold_seconds, then 504: the client gives up first
    LOST_RESPONSE = "lost_response"  # the update IS applied, then the answer is held like a timeout
    TOKEN_EXPIRY = "token_expiry"  # every token expires just as this request arrives: it is refused with 401


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
    rate_limit: float | None = None
    rate_limit_burst: float | None = None

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
    after: int = 0  # matching requests to let by first


class Faults:
    """Decides, per request, whether and how to misbehave."""

    def __init__(self, options: SandboxOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self.settings = FaultSettings.from_options(options)
        self._rng = random.Random(options.seed ^ 0x5EED)
        self._queue: deque[_Queued] = deque()
        self.injected: dict[str, int] = _no_injections()
        self.gateway = GatewayLimit()

    def reset(self) -> None:
        """Back to the options' settings, with no queued faults and zero counts."""
        with self._lock:
            self.settings = FaultSettings.from_options(self._options)
            self._rng = random.Random(self._options.seed ^ 0x5EED)
            self._queue.clear()
            self.injected = _no_injections()
            self.gateway = GatewayLimit()

    def update(self, **changes: float | bool | None) -> FaultSettings:
        """Change some knobs (``error_rate=0.1``, ``latency_ms=20``...) and return the new settings."""
        with self._lock:
            current = self.settings.as_dict()
            unknown = set(changes) - set(current)
            if unknown:
                raise SandboxError(f"Unknown fault setting {min(unknown)!r}; known: {sorted(current)}.")
            merged = {**current, **changes}
            try:
                for name in ("latency_ms", "error_rate", "throttle_rate", "timeout_rate", "timeout_hold_seconds"):
                    merged[name] = float(merged[name])  # type: ignore[arg-type]
                merged["retry_after_seconds"] = int(merged["retry_after_seconds"])  # type: ignore[arg-type]
                if merged["token_ttl"] is not None:
                    merged["token_ttl"] = int(merged["token_ttl"])
                for name in ("rate_limit", "rate_limit_burst"):
                    if merged[name] is not None:
                        merged[name] = float(merged[name])  # type: ignore[arg-type]
                merged["token_faults"] = bool(merged["token_faults"])
            except (TypeError, ValueError) as exc:
                raise SandboxError(f"Fault settings must be numbers ({exc}).") from None
            for name in ("error_rate", "throttle_rate", "timeout_rate"):
                if not 0.0 <= merged[name] <= 1.0:  # type: ignore[operator]
                    raise SandboxError(f"{name} must be between 0 and 1, not {merged[name]}.")
            if merged["error_rate"] + merged["throttle_rate"] + merged["timeout_rate"] > 1.0:  # type: ignore[operator]
                raise SandboxError("error_rate + throttle_rate + timeout_rate must not exceed 1.")
            ttl = merged["token_ttl"]
            if ttl is not None and not 1 <= ttl <= TOKEN_TTL_MAX:
                raise SandboxError(f"token_ttl must be between 1 and {TOKEN_TTL_MAX}, not {ttl}.")
            if merged["rate_limit"] is not None and not merged["rate_limit"] > 0:  # type: ignore[operator]
                raise SandboxError(f"rate_limit must be above 0 requests per second, not {merged['rate_limit']}.")
            if merged["rate_limit_burst"] is not None and not merged["rate_limit_burst"] >= 1:  # type: ignore[operator]
                raise SandboxError(f"rate_limit_burst must be at least 1, not {merged['rate_limit_burst']}.")
            if merged["latency_ms"] < 0 or merged["timeout_hold_seconds"] < 0:  # type: ignore[operator]
                raise SandboxError("latency_ms and timeout_hold_seconds must not be negative.")
            self.settings = FaultSettings(**merged)  # type: ignore[arg-type]
            return self.settings

    def queue(self, fault: Fault | str, count: int = 1, path_contains: str = "", after: int = 0) -> None:
        """Make the next ``count`` requests whose path contains ``path_contains`` suffer ``fault``, once
        ``after`` such requests have gone by (a fault at a known point of a run, whatever its speed)."""
        with self._lock:
            self._queue.append(_Queued(Fault(fault), count, path_contains, after))

    def pick(self, path: str, is_token: bool = False) -> Fault | None:
        """The fault this request suffers, if any (queued faults first, then the rates)."""
        spare_token = is_token and not self.settings.token_faults
        with self._lock:
            for item in self._queue:
                if item.path_contains in path and not (spare_token and not item.path_contains):
                    if item.after > 0:
                        item.after -= 1
                        continue
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


    def over_limit(self, path: str, now: float) -> int | None:
        """The ``Retry-After`` seconds when ``path``'s bucket is empty (the request is refused), else None."""
        s = self.settings
        if s.rate_limit is None:
            return None
        wait = self.gateway.take(path, now, s.rate_limit, s.rate_limit_burst or max(1.0, s.rate_limit))
        if wait is None:
            return None
        with self._lock:
            self.injected[RATE_LIMITED] += 1
        return max(s.retry_after_seconds, math.ceil(wait))


RATE_LIMITED = "rate_limit"
"""The injected-count key (and the log's fault) of a request refused by ``rate_limit``."""


def _no_injections() -> dict[str, int]:
    return {**{f.value: 0 for f in Fault}, RATE_LIMITED: 0}


class GatewayLimit:
    """Token buckets, one per API path, as a gateway's per-API flow control."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # path -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, path: str, now: float, rate: float, burst: float) -> float | None:
        """Take one token from ``path``'s bucket: None when there was one, else the seconds until there is."""
        with self._lock:
            tokens, at = self._buckets.get(path, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            if tokens >= 1:
                self._buckets[path] = (tokens - 1, now)
                return None
            self._buckets[path] = (tokens, now)
            return (1 - tokens) / rate


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
