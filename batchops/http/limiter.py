"""One limiter shared by every request of a run: how many in flight, how fast, and waiting out a throttle.

Nobody tells an operator the tenant's allowance at the API gateway, so a run finds it. Two anchors:

- the AWS SDKs' adaptive retry mode: a client-side rate that is off until the first throttle, then a cut
  to ``BETA`` x the rate the server was measured to let through, and a CUBIC curve that climbs back quickly
  to that rate, lingers near it and only then probes above it. Tuned in a simulation of a token-bucket
  gateway in virtual time (tests/limiter_sim.py) and checked against the sandbox (bench/bench_limiter.py),
  four things differ from the SDKs: the server's rate is measured over whole throttle cycles, the curve is
  relative to that rate and probes more slowly, the rate doubles each second (a slow start) from a run's
  first throttle, or from a remembered rate, until the next throttle; and requests are evenly spaced;
- Netflix concurrency-limits (AIMD): the number of requests in flight grows by one per round trip while
  answers are good and shrinks by ``CONCURRENCY_BACKOFF`` on a throttle or a clear rise in latency.

Why this holds a token-bucket gateway at its allowance: the bucket's long-run rate is exactly its limit, and
a ``Retry-After`` pause refills it, so a run that sends a little above the limit loses nothing but the 429s
of one round trip per pause, while a run below the limit loses the difference for good (the bucket overflows).
So the rate after a throttle is near what was measured, never far under it, and a run started at a
remembered rate probes upward at once: a rate remembered too low costs a second or two, not the whole run.

A 429's ``Retry-After`` pauses every request of the run, not only the one that got it. One throttle event
cuts once: a 429 for a request sent before the last cut says nothing new. A request that continues work
begun (a retry, a row's update after its read: ``FOLLOW_UP``) goes ahead of requests that begin new rows, so
that the calls on each API path keep step (a gateway limits each path on its own; rows that drift into
reads-first and updates-later empty one path's bucket while the other's overflows). ``--concurrency`` and
``--rate`` are hard caps the limiter never exceeds (``max_concurrency``, ``max_rate``). A run that has heard
nothing but 429 for ``stall_seconds`` is ``stalled``: its requests give up and it stops, with what is left
unsent.

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
from contextvars import ContextVar

from .retrying import DEFAULT_MAX_RETRY_AFTER, DEFAULT_STALL_SECONDS
from .tuning import call_in_loop

BETA = 0.9
"""The rate after a throttle, as a share of the rate the server let through. The AWS SDKs cut to 0.7, which
leaves a token bucket overflowing; 0.9 (Netflix AIMDLimit's ratio) keeps the run near the allowance (0.85 to
0.95 measured alike in the simulation), and the CUBIC curve still backs off further on repeated throttles."""
CUBIC_SCALE = 0.0025
"""How fast the rate climbs back, as a share of the last throttled rate per s³ of the CUBIC curve: back at it
in cbrt((1 - BETA) / CUBIC_SCALE) = 3.4 s, then probing above it slowly (the AWS SDKs use 0.4 requests/s per
s³ whatever the rate: measured, that probed a gateway of 10/s into a 429 and a pause every 4 s)."""
FIRST_GROWTH = 2.0
"""After a run's first throttle, or from a remembered rate, until the next throttle, the rate grows by this
factor per second (a slow start): a rate remembered at a quarter of the allowance is back at it in 2 s."""
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

PACING_SLACK = 0.02
"""Seconds of sending at the rate that a late turn may catch up (at least one request): an event loop that
wakes a few milliseconds late, on a busy machine, does not lose those milliseconds' requests for good
(simulated at ~1 ms of CPU a request and a 20 ms stall now and then: 0.90 x the allowance without it at
200/s, 1.0 with it)."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

FOLLOW_UP: ContextVar[bool] = ContextVar("batchops_limiter_follow_up", default=False)
"""True while the current task sends a request that continues a row already begun (its update after its record
was read): ``acquire`` lets it go ahead of requests that begin new rows (the dispatcher sets it)."""


class _Waiters:
    """Futures waiting for a slot or a turn: follow-ups ahead of new work, each kind in arrival order."""

    def __init__(self) -> None:
        self._follow_ups: deque[asyncio.Future[None]] = deque()
        self._new: deque[asyncio.Future[None]] = deque()

    def __bool__(self) -> bool:
        return bool(self._follow_ups or self._new)

    def add(self, loop: asyncio.AbstractEventLoop, follow_up: bool) -> asyncio.Future[None]:
        """A new waiter, queued behind those of its kind."""
        waiter: asyncio.Future[None] = loop.create_future()
        (self._follow_ups if follow_up else self._new).append(waiter)
        return waiter

    def wake_one(self) -> bool:
        """Hand the next waiter its turn; False when nobody waits."""
        for queue in (self._follow_ups, self._new):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return True
        return False

    def remove(self, waiter: asyncio.Future[None]) -> None:
        """Forget a waiter that gave up (cancelled) before its turn came."""
        for queue in (self._follow_ups, self._new):
            try:
                queue.remove(waiter)
                return
            except ValueError:
                pass

    def clear(self) -> None:
        """Forget every waiter (their event loop is gone)."""
        self._follow_ups.clear()
        self._new.clear()


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
        self._measure_from = now  # answers before this say nothing of the server's rate (the first pause's end)
        self._first_pause = False  # the run's first Retry-After pause is running
        self._last_progress = now
        self._paused_until = -float("inf")
        self._tokens = 0.0  # sends allowed now (at most one: evenly spaced)
        self._refilled = now
        self._next_capped = -float("inf")  # the next send --rate allows
        self._window: deque[float] = deque()  # times of recent non-throttled answers
        self._rtt_recent = 0.0
        self._rtt_base = 0.0
        self._last_latency_cut = -float("inf")
        self._slot_waiters = _Waiters()
        self._turn_waiters = _Waiters()
        self._turn_taken = False  # a request is waiting for the pace; the others queue behind it
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

    async def acquire(self, *, follow_up: bool | None = None) -> float | None:
        """Wait for a slot, any Retry-After pause and the rate; the time the request may go, or None when
        the limiter was closed (the run is stopping: do not send).

        ``follow_up`` (default: ``FOLLOW_UP`` of the current task): a request that continues work already
        begun (a retry, a row's update after its read) waits ahead of requests that begin new rows. Fewer rows
        are half done at a time, and each row's calls go out close together, so that the calls on each API
        path keep step with each other: a gateway limits each path on its own."""
        if self.closed:
            return None
        self._bind()
        if follow_up is None:
            follow_up = FOLLOW_UP.get()
        if self.in_flight >= int(self.concurrency) or self._slot_waiters:
            assert self._loop is not None
            waiter = self._slot_waiters.add(self._loop, follow_up)
            try:
                await waiter  # a released slot is handed over: in_flight already counts this request
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._hand_back()
                else:
                    self._slot_waiters.remove(waiter)
                raise
            if self.closed:
                self._hand_back()
                return None
        else:
            self.in_flight += 1
        try:
            now = self._clock()
            if now < self._paused_until or self.rate is not None:
                now = await self._take_turn(follow_up)
        except BaseException:
            self._hand_back()
            raise
        if self.closed:
            self._hand_back()
            return None
        self.sent += 1
        return now

    async def _take_turn(self, follow_up: bool) -> float:
        """One request at a time waits for the pace; the rest queue for their turn (follow-ups first)."""
        if self._turn_taken or self._turn_waiters:
            assert self._loop is not None
            waiter = self._turn_waiters.add(self._loop, follow_up)
            try:
                await waiter  # handed the turn by the request before
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._pass_turn()
                else:
                    self._turn_waiters.remove(waiter)
                raise
        else:
            self._turn_taken = True
        try:
            return await self._wait_turn()
        finally:
            self._pass_turn()

    def _pass_turn(self) -> None:
        if not self._turn_waiters.wake_one():
            self._turn_taken = False

    async def _wait_turn(self) -> float:
        while not self.closed:
            now = self._clock()
            wait = self._paused_until - now
            if self.max_rate:
                wait = max(wait, self._next_capped - now)
            if wait > 0:
                await self._sleep(wait)
                continue
            if self._first_pause:
                self._after_first_pause(now)
            rate = self._rate
            if rate is not None:
                # Evenly spaced, with a little slack for a late wake-up. Measured against a token-bucket gateway,
                # a client bucket of one second's worth (the AWS SDKs') caught up after each pause but drew 2.5x
                # the 429s.
                slack = max(1.0, rate * PACING_SLACK)
                self._tokens = min(slack, self._tokens + (now - self._refilled) * rate)
                self._refilled = now
                wait = (1 - self._tokens) / rate
                if wait > 1e-6:  # not a whole token yet, beyond rounding (a tiny sleep might never add it)
                    await self._sleep(wait)
                    continue
                self._tokens = max(0.0, self._tokens - 1)
            if self.max_rate:  # --rate is a hard cap: evenly spaced, never a burst
                self._next_capped = max(self._next_capped, now) + 1 / self.max_rate
            return now
        return self._clock()

    def release(self, sent_at: float, *, throttled: bool, retry_after: float | None = None,
                latency: float | None = None) -> None:
        """A request sent at ``sent_at`` (``acquire``'s answer) got its answer: adapt, free its slot.
        ``latency``: its round trip, when not the time since ``sent_at``."""
        now = self._clock()
        self._hand_back()
        if throttled:
            self._on_throttle(sent_at, now, retry_after)
        else:
            self._on_answer(now, now - sent_at if latency is None else latency)

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
        first = self._cuts == 0
        if first or self._first_pause:
            # The run's first throttle: its burst emptied the gateway's bucket and the pause refills it. What
            # came before says little about the allowance; the server's rate is measured from the pause's end.
            self._first_pause = self._paused_until > now
            self._measure_from = max(self._measure_from, self._paused_until)
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

    def _after_first_pause(self, now: float) -> None:
        """The first pause is over: start from the answers the run got so far, per second (the gateway's burst
        over the pause that refilled it), and grow from there (a slow start)."""
        self._first_pause = False
        self._rate = max(MIN_RATE, BETA * self.answers / max(now - self._started, 1e-3))
        self._w_max = self._rate
        self._grown_at = now

    def _on_answer(self, now: float, latency: float) -> None:
        self.answers += 1
        self._last_progress = now
        if self._limited_since is not None:
            self._answers_at_limit += 1
        self._window.append(now)
        if self._rate is not None:
            if self._cuts == 1:
                # After the first throttle of a run (or from a remembered rate) the measured rate says little: a
                # second of answers at most. Grow as a slow start does, until the server throttles again.
                grown = self._rate * FIRST_GROWTH ** max(0.0, now - self._grown_at)
            else:
                grown = CUBIC_SCALE * self._w_max * (now - self._last_cut - self._k) ** 3 + self._w_max
            self._grown_at = now
            # No credit for a rate the run does not reach (its concurrency or the client's CPU holds it back),
            # judged once the window of answers is whole: a run started at a remembered rate has few at first.
            ceiling = MAX_GROWTH * self._measured_rate(now) if now - self._measure_from >= RATE_WINDOW else 0.0
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
        span = min(RATE_WINDOW, max(RATE_WINDOW / 12, now - self._measure_from))
        window = self._window
        while window and window[0] < now - span:
            window.popleft()
        return len(window) / span

    def _start_at(self, rate: float, now: float) -> None:
        """Begin at a remembered rate, growing from there until the server throttles (``FIRST_GROWTH``)."""
        self._w_max = rate
        self._k = 0.0
        self._rate = rate
        self._last_cut = self._grown_at = now
        self._limited_since = now
        self._cuts = 1  # a slow start from there: the remembered rate may be too low (the allowance grew)

    # --- slots, sleeping and closing ---------------------------------------------------------------------

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # asyncio primitives belong to one loop
            self._loop, self._wake = loop, asyncio.Event()
            self._slot_waiters.clear()
            self._turn_waiters.clear()
            self._turn_taken = False
            if self.closed:
                self._wake.set()

    def _hand_back(self) -> None:
        """Free one slot: to the first waiter when the limit allows, else back to the pool."""
        self.in_flight -= 1
        self._wake_slots()

    def _wake_slots(self) -> None:
        while self._slot_waiters and (self.closed or self.in_flight < int(self.concurrency)):
            self.in_flight += 1
            if not self._slot_waiters.wake_one():
                self.in_flight -= 1
                return

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
