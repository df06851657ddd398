"""What is retried, how often, how long to wait, and the run's retry budget: one place for the whole client.

``Attempts`` follows one call from its first answer to its last and says after each: return it, try again
after a backoff, or wait out a throttle. ``Client.send`` (blocking) and ``Client.asend`` (asyncio) only drive
it; the auth flow's token endpoint uses the same ``RETRY_STATUSES``.

- Retried, counted against ``RetryPolicy.max_attempts`` and paid from the run's ``RetryBudget``: connection
  errors, timeouts, 502/503/504 and an ``AuthError`` marked retryable (a busy token endpoint). An outage
  drains the budget within a few dozen calls and the run stops instead of hammering the server.
- Throttled (HTTP 429): the server saying how fast to go, not that it is down. Retried without spending the
  attempt cap or the budget, after ``Retry-After`` (or a backoff), until the run has made no progress for
  ``stall_seconds``; with a run's ``Limiter`` the wait is the limiter's, shared by every request of the run.
- Never retried: 400, 401 (``TokenAuth`` has already renewed once), 403, 404, 500, and any HTTP 200,
  whatever its return code.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

THROTTLED = 429
RETRY_STATUSES = frozenset({THROTTLED, 502, 503, 504})
"""Answers worth another attempt: throttled, or a gateway that could not reach a busy or restarting server."""

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_MAX_RETRY_AFTER = 120.0
DEFAULT_STALL_SECONDS = 300.0
"""A call (or a run, with a limiter) that hears nothing but 429 for this long gives up: it stays unsent."""
DEFAULT_BUDGET_INITIAL = 20.0
DEFAULT_BUDGET_PER_CALL = 0.5
DEFAULT_BUDGET_CAP = 100.0


@dataclass(frozen=True)
class RetryPolicy:
    """How one call is retried: attempts cap, backoff window (equal jitter), longest ``Retry-After`` obeyed,
    and how long nothing but throttling is tolerated."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    retry_statuses: frozenset[int] = RETRY_STATUSES
    stall_seconds: float = DEFAULT_STALL_SECONDS

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with equal jitter: uniform in [c / 2, c], c = min(max, base * 2 ** (attempt - 1)).

        The jitter spreads the calls of a run that failed together; its floor makes one call's retries span a
        known time, so a server that is away for a moment (a restart, a gateway failing over) fails no row:
        with the defaults the four retries of a call wait at least 0.25 + 0.5 + 1 + 2 = 3.75 s in all
        (full jitter, from 0, let a call give up within a fraction of a second now and then)."""
        ceiling = self._ceiling(attempt)
        return (rng or _RNG).uniform(ceiling / 2, ceiling)

    def shortest_span(self) -> float:
        """The least time all of one call's retries wait together: how long an outage it always rides out."""
        return sum(self._ceiling(n) / 2 for n in range(1, self.max_attempts))

    def _ceiling(self, attempt: int) -> float:
        """The longest wait after the ``attempt``-th attempt: the base doubled each time, up to the maximum."""
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, min(attempt - 1, 30)))


_RNG = random.Random()


class RetryBudget:
    """Retries shared by every call of a run: a bucket that each call fills by ``per_call`` up to ``cap`` and
    each retry empties by one. Once a retry finds it empty it stays exhausted: the run should stop.

    With the defaults a run tolerates a steady 1 retry per 2 calls (10% 503 is about 0.11), while an outage,
    where every call wants ``max_attempts - 1`` retries, drains it within a few dozen calls. Throttling (429)
    is not paid from it.
    """

    def __init__(
        self,
        initial: float = DEFAULT_BUDGET_INITIAL,
        per_call: float = DEFAULT_BUDGET_PER_CALL,
        cap: float = DEFAULT_BUDGET_CAP,
    ) -> None:
        self.balance = float(initial)
        self.per_call = per_call
        self.cap = cap
        self.retries = 0
        self.exhausted = False
        self._lock = threading.Lock()

    def record_call(self) -> None:
        """A new call started: it earns the run a little more room to retry."""
        with self._lock:
            self.balance = min(self.cap, self.balance + self.per_call)

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and exhausted from now on) when there is none left."""
        with self._lock:
            if self.exhausted or self.balance < 1:
                self.exhausted = True
                return False
            self.balance -= 1
            self.retries += 1
            return True

    def __repr__(self) -> str:
        return f"RetryBudget(balance={self.balance:.1f}, retries={self.retries}, exhausted={self.exhausted})"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_of(outcome: Any) -> int | None:
    """The HTTP status an outcome carries: a response's, or a token error's (``AuthError.status``)."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code
    return getattr(outcome, "status", None)


def is_throttled(outcome: Any) -> bool:
    """True for a 429 answer, from the call itself or from the token endpoint on its behalf."""
    return status_of(outcome) == THROTTLED


def is_retryable(outcome: Any, statuses: frozenset[int] = RETRY_STATUSES) -> bool:
    """True for an outcome worth another attempt (see the module docstring)."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code in statuses
    return isinstance(outcome, httpx.TransportError) or bool(getattr(outcome, "retryable", False))


class Attempts:
    """One call's attempts: after each outcome, ``after`` says how long to wait before the next one, or None
    when this outcome is the call's last.

    ``shared_wait``: a run's limiter waits out throttles for every request (throttled retries then need no
    wait of their own). ``stalled`` says whether the run has gone too long without progress; without it a
    call gives up after ``policy.stall_seconds`` of answers that were all 429.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        budget: RetryBudget,
        *,
        stopped: Callable[[], bool],
        shared_wait: bool = False,
        stalled: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.budget = budget
        self.sent = 0
        """Requests sent for this call, throttled ones included."""
        self.throttled = 0
        """Of those, answered 429."""
        self.budget_ran_out = False
        self._stopped = stopped
        self._shared_wait = shared_wait
        self._stalled = stalled
        self._clock = clock
        self._throttled_since: float | None = None

    @property
    def counted(self) -> int:
        """Attempts that count against the cap: every one that was not throttled."""
        return self.sent - self.throttled

    def after(self, outcome: Any) -> float | None:
        """Record one attempt's outcome; the seconds to wait before the next attempt, or None to stop here."""
        self.sent += 1
        if is_throttled(outcome):
            self.throttled += 1
            return self._after_throttle(outcome)
        self._throttled_since = None
        if not is_retryable(outcome, self.policy.retry_statuses) or self._stopped():
            return None
        if self.counted >= self.policy.max_attempts:
            return None
        if not self.budget.try_spend():
            self.budget_ran_out = True
            return None
        given = self._retry_after(outcome)
        return given if given is not None else self.policy.backoff(self.counted)

    def _after_throttle(self, outcome: Any) -> float | None:
        if self._stopped():
            return None
        if self._stalled is not None:
            if self._stalled():
                return None
        else:
            now = self._clock()
            if self._throttled_since is None:
                self._throttled_since = now
            elif now - self._throttled_since >= self.policy.stall_seconds:
                return None
        if self._shared_wait:
            return 0.0  # the run's limiter pauses every request, this one included
        given = self._retry_after(outcome)
        return given if given is not None else self.policy.backoff(self.throttled)

    def _retry_after(self, outcome: Any) -> float | None:
        if not isinstance(outcome, httpx.Response):
            return None
        seconds = retry_after_seconds(outcome)
        return None if seconds is None else min(seconds, self.policy.max_retry_after)


__all__ = [
    "DEFAULT_STALL_SECONDS",
    "RETRY_STATUSES",
    "THROTTLED",
    "Attempts",
    "RetryBudget",
    "RetryPolicy",
    "is_retryable",
    "is_throttled",
    "retry_after_seconds",
    "status_of",
]
