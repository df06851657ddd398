"""Run many calls at once: at most ``concurrency`` in flight, at most ``rate`` started per second, in order.

The engine is asyncio over the client's aiohttp-backed ``httpx.AsyncClient``: measured in
bench/RESULTS.dispatch.md against threads sharing an ``httpx.Client`` and a plain ``httpx.AsyncClient``.

Callbacks, both called in the event-loop thread, one at a time, never concurrently with each other:

- ``on_start(key)`` just before the call for ``key`` is sent (the journal records "in flight" here); when it
  returns an awaitable (the journal's commit), the call goes once that is done, the loop free meanwhile;
- ``on_result(key, result)`` as each call finishes, in completion order (the journal commits the row here);
- ``prepare(key)``, awaited before ``on_start`` within the same concurrency limit: True sends the call, False
  skips it (the caller accounts for it). ``apply`` reads a record's current values here, just before its update.

Pace: with a ``Limiter`` (``batchops.http.limiter``; one is made when ``rate`` is given) the sender sends every
attempt through it (``Sender.limiter``): requests in flight and the sending rate adapt to the server's
throttling within the hard caps ``concurrency`` and ``rate``.

Stopping: a ``CancelToken`` (``cancel.cancel()`` from any thread: a web page's Cancel button), ``stop()``,
Ctrl-C in ``run()`` (which cancels the same token, so both take one path), a ``KeyboardInterrupt`` raised in a
callback, the client's retry budget running out, a run the server throttled without progress for too long,
or an exception from a callback or from the client (an ``AuthError``, say). Each stops the sending of new
calls; calls in flight finish and get their ``on_result``; calls waiting for the limiter return unsent; the
report lists the keys never sent. A second Ctrl-C during ``run()`` aborts at once.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from .calls import CallResult, PreparedCall
from .limiter import FOLLOW_UP, Limiter
from .tuning import call_in_loop, default_loop_factory, run_on_new_loop

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256

K = TypeVar("K", bound=Hashable)


class StopReason(str, enum.Enum):
    """Why a dispatch ended before every call was sent."""

    STOPPED = "stopped"
    """``stop()`` was called."""
    INTERRUPTED = "interrupted"
    """Ctrl-C (SIGINT) or a KeyboardInterrupt."""
    CANCELLED = "cancelled"
    """The run's ``CancelToken`` was cancelled (a front end's Cancel)."""
    BUDGET = "budget"
    """The run's retry budget ran out: the server looks down."""
    THROTTLED = "throttled"
    """The server answered nothing but 429 for the limiter's ``stall_seconds``."""
    ERROR = "error"
    """A callback or the client raised; ``DispatchReport.error`` holds the exception."""


class Sender(Protocol):
    """What the dispatcher needs from a client (``batchops.http.client.Client`` is one).

    ``limiter``: when the dispatcher sets one, every attempt of ``asend`` waits for it and reports to it.
    A sender may also say ``stalled`` (True: the server throttled it without progress for too long).
    """

    limiter: Limiter | None

    async def asend(self, call: PreparedCall) -> CallResult: ...

    @property
    def budget_exhausted(self) -> bool: ...

    def stop_retrying(self) -> None: ...


class CancelToken:
    """Asks a run to stop sending: calls in flight finish and are recorded, the rest stay unsent.

    Thread-safe: ``cancel()`` may come from a signal handler, another thread or a web handler, before or
    during the run. The first reason given is the one reported.
    """

    def __init__(self) -> None:
        self._reason: StopReason | None = None
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[StopReason], None]] = []

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self._reason is not None

    @property
    def reason(self) -> StopReason | None:
        """``CANCELLED``, ``INTERRUPTED`` (Ctrl-C) or the reason given; None until cancelled."""
        return self._reason

    def cancel(self, reason: StopReason = StopReason.CANCELLED) -> None:
        """Stop the run this token was given to (or the next, if it has not started)."""
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(reason)

    def subscribe(self, callback: Callable[[StopReason], None]) -> Callable[[], None]:
        """Call ``callback(reason)`` on cancellation (at once if already cancelled); returns the unsubscribe."""
        with self._lock:
            reason = self._reason
            if reason is None:
                self._callbacks.append(callback)
        if reason is not None:
            callback(reason)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def __repr__(self) -> str:
        return f"CancelToken(reason={self._reason.value if self._reason else None})"


@dataclass
class DispatchReport(Generic[K]):
    """How a dispatch ended.

    ``sent``: calls started (``on_start`` called). ``finished``: ``on_result`` called. ``unsent``: keys never
    sent, in submission order. ``elapsed``: seconds from the first call sent to the last answer (0 when none
    was sent), the time concurrency and latency bound. ``errored``: keys whose call raised instead of returning a result (no
    ``on_result``; their outcome is unknown, as for a call in flight when the process dies).
    """

    sent: int = 0
    finished: int = 0
    unsent: list[K] = field(default_factory=list)
    errored: list[K] = field(default_factory=list)
    stop_reason: StopReason | None = None
    error: BaseException | None = None
    elapsed: float = 0.0

    @property
    def completed(self) -> bool:
        """True when every call was sent and answered."""
        return self.stop_reason is None and not self.unsent and not self.errored

    @property
    def rate(self) -> float:
        """Finished calls per second."""
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0


class Dispatcher(Generic[K]):
    """Sends ``(key, PreparedCall)`` pairs through a ``Sender`` with bounded concurrency and an optional rate."""

    def __init__(
        self,
        sender: Sender,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        on_start: Callable[[K], Awaitable[object] | None] | None = None,
        on_result: Callable[[K, CallResult], None] | None = None,
        prepare: Callable[[K], Awaitable[bool]] | None = None,
        limiter: Limiter | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}")
        if rate is not None and not rate > 0:
            raise ValueError(f"rate must be above 0 calls per second, not {rate}")
        self.sender = sender
        self.concurrency = concurrency
        self.rate = rate
        if limiter is None and rate is not None:
            limiter = Limiter(max_concurrency=concurrency, max_rate=rate)
        self.limiter = limiter
        self.cancel = cancel if cancel is not None else CancelToken()
        self.on_start = on_start
        self.on_result = on_result
        self.prepare = prepare
        self._stop_reason: StopReason | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._report: DispatchReport[K] = DispatchReport()
        self._finished: list[tuple[K, CallResult]] = []  # answered, on_result not called yet
        self._flush_handle: asyncio.Handle | None = None
        self._iter_error: BaseException | None = None
        self._held: list[tuple[int, K]] = []  # taken from the iterator, then not sent because of a stop
        self._first_sent: float | None = None

    # --- stopping --------------------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self._stop_reason is not None

    def stop(self, reason: StopReason = StopReason.STOPPED) -> None:
        """Send no new calls; let those in flight finish. Safe from any thread and from callbacks; the first
        reason given is the one reported."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self.sender.stop_retrying()
        if self.limiter is not None:
            self.limiter.close()
        wake = self._wake
        if wake is not None:
            call_in_loop(self._loop, wake.set)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self.stop(StopReason.ERROR)

    # --- running ---------------------------------------------------------------------------------------------

    def run(
        self,
        calls: Iterable[tuple[K, PreparedCall]],
        *,
        handle_sigint: bool = True,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> DispatchReport[K]:
        """Run on a new event loop (uvloop when installed: measured faster); the first Ctrl-C cancels the run's
        token, as a front end's Cancel does (main thread only).

        The sender's async connections belong to this loop and are closed at the end (``aclose``).
        """

        async def main() -> DispatchReport[K]:
            try:
                return await self.arun(calls)
            finally:
                aclose = getattr(self.sender, "aclose", None)
                if aclose is not None:
                    await aclose()

        on_sigint = (lambda: self.cancel.cancel(StopReason.INTERRUPTED)) if handle_sigint else None
        return run_on_new_loop(main(), on_sigint=on_sigint, loop_factory=loop_factory)

    async def arun(self, calls: Iterable[tuple[K, PreparedCall]]) -> DispatchReport[K]:
        """Run on the current event loop and return the report once every call sent has finished.

        ``concurrency`` worker tasks take the next pair from one shared iterator, so calls start in order and
        a finished call's slot is reused at once (measured faster than a task per call behind a semaphore).
        """
        loop = asyncio.get_running_loop()
        self._loop, self._wake = loop, asyncio.Event()
        report: DispatchReport[K] = DispatchReport()
        self._report = report
        self._iter_error = None
        iterator = enumerate(calls)
        self._held = []
        self._first_sent = None
        if self.limiter is not None:
            self.sender.limiter = self.limiter
        unsubscribe = self.cancel.subscribe(self.stop)
        workers = [loop.create_task(self._worker(iterator)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            for worker in workers:
                worker.cancel()
            raise
        finally:
            unsubscribe()
            if self.limiter is not None and self.sender.limiter is self.limiter:
                self.sender.limiter = None  # the run's limiter ends with it; the sender may serve others
            self._flush()
            self._loop = self._wake = None
            report.stop_reason = self._stop_reason
            report.error = self._error
            if self._first_sent is not None:
                report.elapsed = time.perf_counter() - self._first_sent
        if self._iter_error is not None:
            raise self._iter_error
        # Keys taken but not sent, then the rest, in submission order; iterating may build their calls (cheap).
        report.unsent.extend(key for _, key in sorted(self._held, key=lambda held: held[0]))
        report.unsent.extend(key for _, (key, _call) in iterator)
        return report

    async def _worker(self, iterator: Iterator[tuple[int, tuple[K, PreparedCall]]]) -> None:
        """Send calls one after another until the iterator is empty or a stop is asked for."""
        report = self._report
        while not self.stopping:
            try:
                index, (key, call) = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - the caller's iterable broke: stop, finish, then raise it
                if self._iter_error is None:
                    self._iter_error = exc
                self._fail(exc)
                return
            if self.prepare is not None and not self.stopping:
                go = await self._prepare(key)
                if go is None:  # preparing failed or was interrupted: the call is not sent
                    self._held.append((index, key))
                    return
                if not go:
                    continue  # the caller decided not to send it (and accounted for it)
            started = False if self.stopping else self._start(key)
            if started is not True and (started is False or not await self._start_done(started)):
                self._held.append((index, key))
                return
            if self._first_sent is None:
                self._first_sent = time.perf_counter()
            report.sent += 1
            # A call after its row's prepare continues that row: the limiter lets it go ahead of new rows.
            if self.prepare is not None:
                FOLLOW_UP.set(True)  # this worker task's own context: no other task sees it
            try:
                result = await self.sender.asend(call)
            except Exception as exc:  # noqa: BLE001 - any failure stops the run and goes in the report
                report.errored.append(key)
                self._fail(exc)
                return
            finally:
                if self.prepare is not None:
                    FOLLOW_UP.set(False)
            self._defer(key, result)
            if self.sender.budget_exhausted:
                self.stop(StopReason.BUDGET)
            elif getattr(self.sender, "stalled", False) or (self.limiter is not None and self.limiter.stalled):
                self.stop(StopReason.THROTTLED)

    async def _prepare(self, key: K) -> bool | None:
        """Await ``prepare``: True to send, False to skip; None (and a stop) if it raised."""
        assert self.prepare is not None
        try:
            return await self.prepare(key)
        except KeyboardInterrupt:
            self.stop(StopReason.INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - any failure stops the run and goes in the report
            self._fail(exc)
        return None

    def _start(self, key: K) -> bool | Awaitable[object]:
        """Call ``on_start``: True to send, False (and a stop) if it raised; an awaitable it returned is what
        must be done before the call may go (``_start_done``)."""
        if self.on_start is None:
            return True
        try:
            pending = self.on_start(key)
        except KeyboardInterrupt:
            self.stop(StopReason.INTERRUPTED)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure stops the run and goes in the report
            self._fail(exc)
            return False
        return True if pending is None else pending

    async def _start_done(self, pending: Awaitable[object]) -> bool:
        """Wait for what ``on_start`` needs done first (a journal commit); False (and a stop) if it failed."""
        try:
            await pending
        except KeyboardInterrupt:
            self.stop(StopReason.INTERRUPTED)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure stops the run and goes in the report
            self._fail(exc)
            return False
        return not self.stopping

    def _defer(self, key: K, result: CallResult) -> None:
        """Queue ``on_result`` for the end of this turn of the event loop.

        Answers tend to arrive together. Each worker sends its next call first and the results of the turn are
        delivered after, so no call waits for the bookkeeping (journal commits) of the answers ahead of it:
        measured +3% rows/s at concurrency 16. A result waits less than a millisecond.
        """
        self._finished.append((key, result))
        if self._flush_handle is None:
            assert self._loop is not None
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Deliver the queued results, in the order their answers came."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()  # called directly (the run is ending): the scheduled call is not needed
            self._flush_handle = None
        finished, self._finished = self._finished, []
        for key, result in finished:
            self._deliver(key, result)

    def _deliver(self, key: K, result: CallResult) -> None:
        self._report.finished += 1
        if self.on_result is None:
            return
        try:
            self.on_result(key, result)
        except KeyboardInterrupt:
            self.stop(StopReason.INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - any failure stops the run and goes in the report
            self._fail(exc)


def dispatch(
    sender: Sender,
    calls: Iterable[tuple[K, PreparedCall]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    on_start: Callable[[K], None] | None = None,
    on_result: Callable[[K, CallResult], None] | None = None,
    handle_sigint: bool = True,
    limiter: Limiter | None = None,
    cancel: CancelToken | None = None,
) -> DispatchReport[K]:
    """Run ``calls`` through ``sender`` on a new event loop; see ``Dispatcher``."""
    dispatcher: Dispatcher[K] = Dispatcher(
        sender, concurrency=concurrency, rate=rate, on_start=on_start, on_result=on_result, limiter=limiter,
        cancel=cancel,
    )
    return dispatcher.run(calls, handle_sigint=handle_sigint)


__all__ = [
    "DEFAULT_CONCURRENCY",
    "CancelToken",
    "DispatchReport",
    "Dispatcher",
    "Sender",
    "StopReason",
    "default_loop_factory",
    "dispatch",
]
