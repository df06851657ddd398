"""One limiter shared by every request of a run: how many in flight, how fast, and waiting out a throttle.

Nobody tells an operator the tenant's allowance at the API gateway, so a run finds it. Two anchors:

- the AWS SDKs' adaptive retry mode: a client-side rate that is off until the first throttle, then a cut
  to ``BETA`` x the rate the server was measured to let through, and a CUBIC curve that climbs back quickly
  to that rate, lingers near it and only then probes above it. Measured against a token-bucket gateway
  (bench/bench_limiter.py) three things differ from the SDKs: the server's rate is measured over whole
  throttle cycles, the curve is relative to that rate and probes more slowly, and after a run's first
  throttle the rate grows as a slow start does until the second; requests are evenly spaced (no burst);
- Netflix concurrency-limits (AIMD): the number of requests in flight grows by one per round trip while
  answers are good and shrinks by ``CONCURRENCY_BACKOFF`` on a throttle or a clear rise in latency.

A 429's ``Retry-After`` pauses every request of the run, not only the one that got it. One throttle event
cuts once: a 429 for a request sent before the last cut says nothing new. ``--concurrency`` and ``--rate``
are hard caps the limiter never exceeds (``max_concurrency``, ``max_rate``). A run that has heard nothing but
429 for ``stall_seconds`` is ``stalled``: its requests give up and it stops, with what is left unsent.

The limiter's rate counts requests (a row that reads its record first sends two). ``settled_rate`` is what
the server let through while it was throttling (answers per second since the first 429): the journal keeps
it per target and the next run starts there (``start_rate``) instead of finding the limit again.

All methods run on the event loop's thread except ``close``, which is safe from any thread. ``clock`` and
``sleep`` are injectable: tests drive time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from .retrying import DEFAULT_MAX_RETRY_AFTER, DEFAULT_STALL_SECONDS
from .tuning import call_in_loop

BETA = 0.9
"""The rate after a throttle, as a share of the rate the server let through. The AWS SDKs cut to 0.7; measured
against a token-bucket gateway (bench/RESULTS.limiter.md) 0.9 (Netflix AIMDLimit's ratio) keeps the run near
the allowance, and the CUBIC curve still backs off further on repeated throttles."""
CUBIC_SCALE = 0.0025
"""How fast the rate climbs back, as a share of the last throttled rate per s³ of the CUBIC curve: back at it
in cbrt((1 - BETA) / CUBIC_SCALE) = 3.4 s, then probing above it slowly (the AWS SDKs use 0.4 requests/s per
s³ whatever the rate: measured, that probed a gateway of 10/s into a 429 and a pause every 4 s)."""
FIRST_GROWTH = 1.5
"""After a run's first throttle, until its second, the rate grows by this factor per second (a slow start)."""
CONCURRENCY_BACKOFF = 0.9
"""The concurrency limit after a throttle or a latency rise (Netflix AIMDLimit's default)."""
MIN_RATE = 0.5
"""Requests per second the limiter never goes below: slow enough for any gateway, never a standstill."""
RATE_WINDOW = 3.0
"""Seconds of answers the server's rate is measured over: a few throttle cycles of a gateway that says
``Retry-After: 1`` (a shorter window mistakes its burst after each pause for its allowance)."""
MAX_GROWTH = 2.0
"""The rate never climbs above this many times the rate answers arrive at: no credit for idle time."""
LATENCY_RISE = 2.0
LATENCY_FLOOR = 0.05
"""A clear latency rise: the recent round trip above LATENCY_RISE x the baseline and LATENCY_FLOOR s more."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Limiter:
    """AIMD on concurrency and rate, shared by the workers of one run; see the module docstring."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_rate: float | None = None,
        start_rate: float | None = None,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        max_pause: float = DEFAULT_MAX_RETRY_AFTER,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.max_concurrency = max_concurrency
        self.max_rate = max_rate
        self.stall_seconds = stall_seconds
        self.max_pause = max_pause
        self._clock = clock
        self._given_sleep = sleep
        now = clock()
        self.concurrency = float(max_concurrency)
        """The current limit on requests in flight (never above ``max_concurrency``)."""
        self.in_flight = 0
        self.sent = 0
        self.throttles = 0
        """429 answers heard."""
        self.answers = 0
        """Answers other than 429."""
        self.pauses = 0
        self.closed = False
        self._rate: float | None = None  # None: not limiting (only ``max_rate`` applies)
        self._w_max = 0.0
        self._k = 0.0
        self._last_cut = -float("inf")
        self._grown_at = now
        self._cuts = 0
        self._limited_since: float | None = None  # first throttle, or the start when started at a known rate
        self._answers_at_limit = 0
        if start_rate is not None and start_rate > 0:
            self._start_at(start_rate, now)
        self._started = now
        self._last_progress = now
        self._paused_until = -float("inf")
        self._tokens = 0.0  # sends allowed now (at most one: evenly spaced)
        self._refilled = now
        self._next_capped = -float("inf")  # the next send --rate allows
        self._window: deque[float] = deque()  # times of recent non-throttled answers
        self._rtt_recent = 0.0
        self._rtt_base = 0.0
        self._last_latency_cut = -float("inf")
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._gate: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- what front ends and the journal read ----------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """The sending rate in force (requests/s), None when nothing but ``max_rate`` limits it."""
        if self._rate is None:
            return self.max_rate
        return min(self._rate, self.max_rate) if self.max_rate else self._rate

    @property
    def held_back(self) -> bool:
        """True while the server's throttling, not ``--rate``, sets the pace (or a Retry-After pause runs)."""
        if self._clock() < self._paused_until:
            return True
        return self._rate is not None and (self.max_rate is None or self._rate < self.max_rate)

    @property
    def stalled(self) -> bool:
        """True once nothing but 429 has been heard for ``stall_seconds``: the run should stop."""
        return self.throttles > 0 and self._clock() - self._last_progress >= self.stall_seconds

    @property
    def settled_rate(self) -> float | None:
        """Answers per second the server let through since it first throttled (or since a run started at a
        remembered rate); None when it never held the run back."""
        if self._limited_since is None:
            return None
        seconds = self._clock() - self._limited_since
        if seconds <= 0 or self._answers_at_limit == 0:
            return self._rate
        return self._answers_at_limit / seconds

    # --- the requests' side ----------------------------------------------------------------------------

    async def acquire(self) -> float | None:
        """Wait for a slot, any Retry-After pause and the rate; the time the request may go, or None when
        the limiter was closed (the run is stopping: do not send)."""
        if self.closed:
            return None
        self._bind()
        if self.in_flight >= int(self.concurrency) or self._slot_waiters:
            assert self._loop is not None
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await waiter  # a released slot is handed over: in_flight already counts this request
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._hand_back()
                else:
                    self._drop_waiter(waiter)
                raise
            if self.closed:
                self._hand_back()
                return None
        else:
            self.in_flight += 1
        try:
            now = self._clock()
            if now < self._paused_until or self.rate is not None:
                assert self._gate is not None
                async with self._gate:  # one request waits for the pace at a time, the rest queue in order
                    now = await self._wait_turn()
        except BaseException:
            self._hand_back()
            raise
        if self.closed:
            self._hand_back()
            return None
        self.sent += 1
        return now

    async def _wait_turn(self) -> float:
        while not self.closed:
            now = self._clock()
            wait = self._paused_until - now
            if self.max_rate:
                wait = max(wait, self._next_capped - now)
            if wait > 0:
                await self._sleep(wait)
                continue
            rate = self._rate
            if rate is not None:
                # Evenly spaced: a bucket of one request. Measured against a token-bucket gateway, a client bucket
                # of one second's worth (the AWS SDKs') caught up after each pause but drew 2.5x the 429s.
                self._tokens = min(1.0, self._tokens + (now - self._refilled) * rate)
                self._refilled = now
                if self._tokens < 1 - 1e-9:  # a whole token, up to rounding (tiny sleeps might never add it)
                    await self._sleep((1 - self._tokens) / rate)
                    continue
                self._tokens = max(0.0, self._tokens - 1)
            if self.max_rate:  # --rate is a hard cap: evenly spaced, never a burst
                self._next_capped = max(self._next_capped, now) + 1 / self.max_rate
            return now
        return self._clock()

    def release(self, sent_at: float, *, throttled: bool, retry_after: float | None = None,
                latency: float = 0.0) -> None:
        """A request sent at ``sent_at`` (``acquire``'s answer) got its answer: adapt, free its slot."""
        now = self._clock()
        self._hand_back()
        if throttled:
            self._on_throttle(sent_at, now, retry_after)
        else:
            self._on_answer(now, latency)

    def forget(self) -> None:
        """A request ``acquire`` let through was not sent after all (or got no answer): free its slot."""
        self._hand_back()

    # --- adapting --------------------------------------------------------------------------------------

    def _on_throttle(self, sent_at: float, now: float, retry_after: float | None) -> None:
        self.throttles += 1
        if self._limited_since is None:
            self._limited_since = now
        if retry_after is not None and retry_after > 0:
            until = now + min(retry_after, self.max_pause)
            if until > self._paused_until:
                self._paused_until = until
                self.pauses += 1
        if sent_at <= self._last_cut:
            return  # sent before the last cut: the same congestion event
        measured = self._measured_rate(now)
        base = measured if measured > 0 else (self._rate or MIN_RATE)
        if self._rate is not None:
            base = min(base, self._rate)
        self._w_max = base
        self._k = ((1 - BETA) / CUBIC_SCALE) ** (1 / 3)
        self._rate = max(MIN_RATE, base * BETA)
        self._last_cut = self._grown_at = now
        self._cuts += 1
        # Fewer in flight too, but never fewer than the new rate needs over a round trip (with room): here the
        # rate is what the gateway limits, and starving it of slots would hold the run below its allowance.
        needed = 2 * self._rate * self._rtt_recent + 1
        self.concurrency = max(1.0, min(self.concurrency, max(self.concurrency * CONCURRENCY_BACKOFF, needed)))
        self._wake_slots()

    def _on_answer(self, now: float, latency: float) -> None:
        self.answers += 1
        self._last_progress = now
        if self._limited_since is not None:
            self._answers_at_limit += 1
        self._window.append(now)
        if self._rate is not None:
            if self._cuts == 1:
                # After the first throttle of a run the measured rate says little (a second of answers at
                # most): grow by half per second, as a slow start does, until the server throttles again.
                grown = self._rate * FIRST_GROWTH ** max(0.0, now - self._grown_at)
            else:
                grown = CUBIC_SCALE * self._w_max * (now - self._last_cut - self._k) ** 3 + self._w_max
            self._grown_at = now
            ceiling = MAX_GROWTH * self._measured_rate(now)
            self._rate = max(MIN_RATE, min(grown, ceiling) if ceiling > 0 else grown)
        if latency > 0:
            self._watch_latency(now, latency)
        if self.concurrency < self.max_concurrency and self.in_flight * 2 >= self.concurrency:
            self.concurrency = min(float(self.max_concurrency), self.concurrency + 1 / self.concurrency)
            self._wake_slots()

    def _watch_latency(self, now: float, latency: float) -> None:
        """Shrink the concurrency limit on a clear, lasting rise of the round trip over its baseline."""
        recent = latency if self._rtt_recent == 0 else 0.8 * self._rtt_recent + 0.2 * latency
        self._rtt_recent = recent
        if self._rtt_base == 0 or recent < self._rtt_base:
            self._rtt_base = recent
        else:
            self._rtt_base *= 1.0005  # the baseline drifts up slowly, so a lasting new normal is accepted
        rose = recent > LATENCY_RISE * self._rtt_base and recent - self._rtt_base > LATENCY_FLOOR
        if rose and now - self._last_latency_cut >= max(recent, 0.1):
            self._last_latency_cut = now
            self.concurrency = max(1.0, self.concurrency * CONCURRENCY_BACKOFF)

    def _measured_rate(self, now: float) -> float:
        """Answers per second over the last ``RATE_WINDOW``, Retry-After pauses included (over the time so far,
        early in a run): what the server delivered over whole throttle cycles, its bursts and pauses evened
        out, so that the rate settles at the gateway's allowance rather than at its burst."""
        span = min(RATE_WINDOW, max(RATE_WINDOW / 12, now - self._started))
        window = self._window
        while window and window[0] < now - span:
            window.popleft()
        return len(window) / span

    def _start_at(self, rate: float, now: float) -> None:
        """Begin at a remembered rate, at the top of the CUBIC curve: it holds there, then probes above."""
        self._w_max = rate
        self._k = 0.0
        self._rate = rate
        self._last_cut = self._grown_at = now
        self._limited_since = now
        self._cuts = 2  # a remembered rate is a known one: no slow start

    # --- slots, sleeping and closing ---------------------------------------------------------------------

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # asyncio primitives belong to one loop
            self._loop, self._gate, self._wake = loop, asyncio.Lock(), asyncio.Event()
            self._slot_waiters.clear()
            if self.closed:
                self._wake.set()

    def _hand_back(self) -> None:
        """Free one slot: to the first waiter when the limit allows, else back to the pool."""
        self.in_flight -= 1
        self._wake_slots()

    def _wake_slots(self) -> None:
        while self._slot_waiters and (self.closed or self.in_flight < int(self.concurrency)):
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def _drop_waiter(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._slot_waiters.remove(waiter)
        except ValueError:
            pass

    async def _sleep(self, seconds: float) -> None:
        if self._given_sleep is not None:
            await self._given_sleep(seconds)
            return
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    def close(self) -> None:
        """Let nothing more through: waiting requests return at once without sending. Safe from any thread."""
        self.closed = True
        call_in_loop(self._loop, self._wake_all)

    def _wake_all(self) -> None:
        if self._wake is not None:
            self._wake.set()
        self._wake_slots()

    def __repr__(self) -> str:
        rate = f"{self.rate:.1f}/s" if self.rate else "unlimited"
        return (f"Limiter(concurrency={self.concurrency:.1f}/{self.max_concurrency}, rate={rate}, "
                f"throttles={self.throttles})")


__all__ = ["Limiter"]
