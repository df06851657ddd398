"""Dispatcher: order, concurrency bound, rate, callbacks, stop, cancel and Ctrl-C, budget and errors."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

import httpx
import pytest
from fakes import FakeClock

from batchops.errors import AuthError
from batchops.http.calls import CallResult, PreparedCall
from batchops.http.client import Client, RetryBudget, RetryPolicy
from batchops.http.dispatch import Dispatcher, StopReason, dispatch
from batchops.http.limiter import FOLLOW_UP, Limiter
from batchops.settings import load_settings


class FakeSender:
    """Answers every call after ``delay`` seconds and records how many were in flight at once."""

    def __init__(self, delay: float = 0.01, fail_on: Any = None, exhaust_after: int | None = None) -> None:
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent: list[Any] = []
        self.fail_on = fail_on
        self.exhaust_after = exhaust_after
        self.retries_stopped = False
        self.limiter: Limiter | None = None
        self.sent_at: list[float] = []

    async def asend(self, call: PreparedCall) -> CallResult:
        sent_at = None
        if self.limiter is not None:
            sent_at = await self.limiter.acquire()
            if sent_at is None:
                return CallResult(http_status=None, error="not sent: the run stopped", attempts=0)
            self.sent_at.append(sent_at)
        self.sent.append(call.body["key"] if call.body else None)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if call.body and call.body["key"] == self.fail_on:
                raise AuthError("token refused")
            return CallResult(http_status=200, body={"returnCode": "0"})
        finally:
            self.in_flight -= 1
            if self.limiter is not None and sent_at is not None:
                self.limiter.release(sent_at, throttled=False)

    @property
    def budget_exhausted(self) -> bool:
        return self.exhaust_after is not None and len(self.sent) >= self.exhaust_after

    def stop_retrying(self) -> None:
        self.retries_stopped = True


def calls(n: int) -> list[tuple[int, PreparedCall]]:
    return [(i, PreparedCall("c1", "POST", "/x", {"key": i})) for i in range(n)]


class Recorder:
    """on_start/on_result that record keys, the thread they ran in, and whether two ever overlapped."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.results: dict[int, CallResult] = {}
        self.threads: set[int] = set()
        self.busy = False
        self.overlapped = False

    def _enter(self) -> None:
        self.overlapped |= self.busy
        self.busy = True
        self.threads.add(threading.get_ident())

    def on_start(self, key: int) -> None:
        self._enter()
        self.started.append(key)
        self.busy = False

    def on_result(self, key: int, result: CallResult) -> None:
        self._enter()
        assert key in self.started  # on_start always comes first
        self.results[key] = result
        self.busy = False


def test_every_call_runs_in_order_within_the_limit() -> None:
    sender, rec = FakeSender(), Recorder()
    report = dispatch(sender, calls(60), concurrency=7, on_start=rec.on_start, on_result=rec.on_result)
    assert report.completed and report.sent == report.finished == 60 and report.unsent == []
    assert rec.started == list(range(60)) and sender.sent == list(range(60))
    assert sorted(rec.results) == list(range(60))
    assert sender.max_in_flight == 7
    assert not rec.overlapped and len(rec.threads) == 1


def test_a_worker_sends_its_next_call_before_its_answer_is_recorded() -> None:
    events: list[tuple[str, int]] = []
    report = dispatch(FakeSender(delay=0.001), calls(6), concurrency=1,
                      on_start=lambda k: events.append(("start", k)),
                      on_result=lambda k, r: events.append(("result", k)))
    assert report.completed and report.finished == 6
    # Answers are delivered in the same turn of the loop, just after the next call went out; none is lost.
    assert events == [("start", 0), ("start", 1), ("result", 0), ("start", 2), ("result", 1), ("start", 3),
                      ("result", 2), ("start", 4), ("result", 3), ("start", 5), ("result", 4), ("result", 5)]


def test_rate_limit_is_honoured() -> None:
    clock, sender = FakeClock(), FakeSender(delay=0.0)
    limiter = Limiter(max_concurrency=8, max_rate=50, clock=clock, sleep=clock.sleep)
    report = dispatch(sender, calls(11), concurrency=8, limiter=limiter)
    assert report.finished == 11
    assert [round(t, 6) for t in sender.sent_at] == [round(i * 0.02, 6) for i in range(11)]  # 50/s exactly


def test_rate_alone_makes_a_limiter_the_sender_goes_through() -> None:
    sender = FakeSender(delay=0.0)
    dispatcher: Dispatcher[int] = Dispatcher(sender, concurrency=2, rate=1000)
    assert dispatcher.limiter is not None
    assert dispatcher.limiter.max_rate == 1000 and dispatcher.limiter.max_concurrency == 2
    report = dispatcher.run(calls(3), handle_sigint=False)
    assert report.completed and len(sender.sent_at) == 3  # every call went through it
    assert sender.limiter is None  # the run's limiter ended with the run


def test_stop_from_a_callback_lets_in_flight_finish_and_lists_unsent() -> None:
    sender, rec = FakeSender(delay=0.02), Recorder()
    dispatcher: Dispatcher[int] = Dispatcher(sender, concurrency=4, on_start=rec.on_start)

    def on_result(key: int, result: CallResult) -> None:
        rec.on_result(key, result)
        if len(rec.results) == 5:
            dispatcher.stop()

    dispatcher.on_result = on_result
    report = dispatcher.run(calls(40), handle_sigint=False)
    assert report.stop_reason is StopReason.STOPPED and not report.completed
    assert sorted(rec.results) == sorted(rec.started)  # everything sent got its result
    assert report.sent == len(rec.started) < 40
    assert rec.started + report.unsent == list(range(40))
    assert sender.retries_stopped


def test_stop_from_another_thread() -> None:
    sender, rec = FakeSender(delay=0.02), Recorder()
    dispatcher: Dispatcher[int] = Dispatcher(sender, concurrency=4, rate=100, on_start=rec.on_start)
    threading.Timer(0.1, dispatcher.stop).start()
    report = dispatcher.run(calls(200), handle_sigint=False)
    assert report.stop_reason is StopReason.STOPPED
    assert report.sent == report.finished and report.unsent
    assert rec.started + report.unsent == list(range(200))  # unsent keys in submission order


def test_ctrl_c_stops_like_stop() -> None:
    sender = FakeSender(delay=0.02)
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
    report = dispatch(sender, calls(500), concurrency=4)
    assert report.stop_reason is StopReason.INTERRUPTED
    assert report.sent == report.finished and report.sent + len(report.unsent) == 500
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_keyboard_interrupt_in_a_callback_stops() -> None:
    def on_result(key: int, result: CallResult) -> None:
        if key == 3:
            raise KeyboardInterrupt

    report = dispatch(FakeSender(), calls(50), concurrency=2, on_result=on_result, handle_sigint=False)
    assert report.stop_reason is StopReason.INTERRUPTED and report.unsent


def test_exhausted_budget_stops_the_run() -> None:
    report = dispatch(FakeSender(exhaust_after=6), calls(50), concurrency=2, handle_sigint=False)
    assert report.stop_reason is StopReason.BUDGET
    assert report.sent == report.finished and 6 <= report.sent < 10


def test_sender_error_stops_and_is_reported() -> None:
    rec = Recorder()
    report = dispatch(FakeSender(fail_on=4), calls(50), concurrency=3, on_start=rec.on_start,
                      on_result=rec.on_result, handle_sigint=False)
    assert report.stop_reason is StopReason.ERROR and isinstance(report.error, AuthError)
    assert report.errored == [4] and 4 not in rec.results
    assert sorted(rec.results) == sorted(k for k in rec.started if k != 4)
    assert report.unsent and rec.started + report.unsent == list(range(50))


def test_on_start_error_means_the_call_is_not_sent() -> None:
    sender = FakeSender()

    def on_start(key: int) -> None:
        if key == 2:
            raise OSError("journal disk full")

    report = dispatch(sender, calls(10), concurrency=1, on_start=on_start, handle_sigint=False)
    assert report.stop_reason is StopReason.ERROR and isinstance(report.error, OSError)
    assert sender.sent == [0, 1] and report.unsent == list(range(2, 10))


def test_a_broken_iterable_raises_after_in_flight_calls_finish() -> None:
    rec = Recorder()

    def broken() -> Any:
        yield from calls(3)
        raise ValueError("row 5 cannot be built")

    with pytest.raises(ValueError, match="row 5"):
        dispatch(FakeSender(), broken(), concurrency=2, on_start=rec.on_start, on_result=rec.on_result,
                 handle_sigint=False)
    assert sorted(rec.results) == [0, 1, 2]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Dispatcher(FakeSender(), concurrency=0)
    with pytest.raises(ValueError):
        Dispatcher(FakeSender(), rate=0)


def test_with_the_real_client_an_outage_stops_the_run(tmp_path: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    settings = load_settings(config_path=config, env={
        "BATCHOPS_BASE_URL": "https://gw.example.com", "BATCHOPS_APP_KEY": "k", "BATCHOPS_APP_SECRET": "s"})
    hits = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("tokenByAkSk"):
            return httpx.Response(200, json={"AccessToken": "t", "Expires": "600"})
        hits["n"] += 1
        return httpx.Response(503)

    client = Client(settings, transport=httpx.MockTransport(handler), budget=RetryBudget(initial=10, cap=10),
                    retry=RetryPolicy(backoff_base=0.0001, backoff_max=0.0001))
    results: dict[int, CallResult] = {}
    report = dispatch(client, calls(1000), concurrency=4, on_result=results.__setitem__, handle_sigint=False)
    assert report.stop_reason is StopReason.BUDGET
    assert len(report.unsent) > 900 and hits["n"] < 100
    assert all(r.http_status == 503 for r in results.values())


def test_a_call_after_its_rows_prepare_is_a_follow_up_for_the_limiter() -> None:
    seen: list[tuple[str, int, bool]] = []

    class Sender(FakeSender):
        async def asend(self, call: PreparedCall) -> CallResult:
            seen.append(("send", call.body["key"] if call.body else -1, FOLLOW_UP.get()))
            return await super().asend(call)

    async def prepare(key: int) -> bool:
        seen.append(("prepare", key, FOLLOW_UP.get()))
        return True

    async def scenario(with_prepare: bool) -> None:
        dispatcher: Dispatcher[int] = Dispatcher(Sender(delay=0), concurrency=2,
                                                 prepare=prepare if with_prepare else None)
        await dispatcher.arun(calls(3))

    asyncio.run(scenario(True))
    # The read (prepare) begins a row; the row's own call continues it and goes ahead of new rows' reads.
    assert sorted(seen) == [("prepare", k, False) for k in range(3)] + [("send", k, True) for k in range(3)]
    seen.clear()
    asyncio.run(scenario(False))
    assert sorted(seen) == [("send", k, False) for k in range(3)]
