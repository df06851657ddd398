"""The run's limiter: Retry-After pauses the whole run, AIMD within the hard caps, throttling never spends the
retry budget or the attempt cap, and a run that hears nothing but 429 stops. Time is a fake clock throughout."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from fakes import FakeClock

from batchops.http.calls import CallResult, PreparedCall
from batchops.http.client import Client, RetryBudget, RetryPolicy
from batchops.http.dispatch import StopReason, dispatch
from batchops.http.limiter import BETA, FOLLOW_UP, Limiter
from batchops.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text("")
    return load_settings(config_path=config, env={
        "BATCHOPS_BASE_URL": "https://gw.example.com", "BATCHOPS_APP_KEY": "k", "BATCHOPS_APP_SECRET": "s"})


def calls(n: int) -> list[tuple[int, PreparedCall]]:
    return [(i, PreparedCall("c1", "POST", "/x", {"key": i})) for i in range(n)]


class Gateway:
    """A MockTransport handler that notes the fake time of every call and answers from ``answer(n)``."""

    def __init__(self, clock: FakeClock, answer: Any) -> None:
        self.clock, self.answer = clock, answer
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("tokenByAkSk"):
            return httpx.Response(200, json={"AccessToken": "t", "Expires": "600"})
        self.times.append(self.clock())
        return self.answer(len(self.times))


def run(settings: Settings, gateway: Gateway, n: int, limiter: Limiter, concurrency: int = 4,
        budget: RetryBudget | None = None) -> tuple[Any, dict[int, CallResult]]:
    client = Client(settings, transport=httpx.MockTransport(gateway), budget=budget,
                    retry=RetryPolicy(max_attempts=2, backoff_base=0.0001, backoff_max=0.0001))
    results: dict[int, CallResult] = {}
    report = dispatch(client, calls(n), concurrency=concurrency, on_result=results.__setitem__,
                      handle_sigint=False, limiter=limiter)
    return report, results


def ok() -> httpx.Response:
    return httpx.Response(200, json={"returnCode": "0"})


def test_retry_after_30_on_one_answer_pauses_the_whole_run_about_30_seconds(settings: Settings) -> None:
    clock = FakeClock()
    gateway = Gateway(clock, lambda n: httpx.Response(429, headers={"Retry-After": "30"}) if n == 1 else ok())
    limiter = Limiter(max_concurrency=4, clock=clock, sleep=clock.sleep)
    report, results = run(settings, gateway, 8, limiter)
    assert report.completed and all(r.http_status == 200 for r in results.values())
    assert gateway.times[0] == 0 and all(t >= 30 for t in gateway.times[1:])  # every worker waited, not one
    assert clock.now < 35  # ... about 30 s, not 30 s per request
    assert limiter.throttles == 1 and limiter.pauses == 1
    assert results[0].attempts == 2 and results[0].throttled == 1


def test_throttling_spends_neither_the_budget_nor_the_attempt_cap(settings: Settings) -> None:
    clock = FakeClock()
    # Each call is throttled three times before it gets through; the cap is 2 attempts and the budget 0.
    gateway = Gateway(clock, lambda n: ok() if n % 4 == 0 else httpx.Response(429, headers={"Retry-After": "1"}))
    budget = RetryBudget(initial=0, per_call=0, cap=0)
    limiter = Limiter(max_concurrency=1, clock=clock, sleep=clock.sleep)
    report, results = run(settings, gateway, 5, limiter, concurrency=1, budget=budget)
    assert report.completed and report.stop_reason is None
    assert [(r.http_status, r.attempts, r.throttled) for r in results.values()] == [(200, 4, 3)] * 5
    assert budget.retries == 0 and not budget.exhausted


def test_a_run_that_hears_nothing_but_429_stops_with_the_rest_unsent(settings: Settings) -> None:
    clock = FakeClock()
    gateway = Gateway(clock, lambda n: httpx.Response(429, headers={"Retry-After": "5"}))
    limiter = Limiter(max_concurrency=4, stall_seconds=60, clock=clock, sleep=clock.sleep)
    report, results = run(settings, gateway, 50, limiter)
    assert report.stop_reason is StopReason.THROTTLED
    assert 60 <= clock.now < 70
    # Calls in flight came back with their last answer, a 429 (the server did not process them); the rest
    # were never sent.
    assert results and all(r.http_status == 429 and r.error for r in results.values())
    assert len(report.unsent) + len(results) == 50 and len(report.unsent) > 40
    assert len(gateway.times) < 30  # a 5 s pause for the whole run each time, not a storm


def test_a_throttle_cuts_the_rate_and_concurrency_once_and_it_climbs_back(settings: Settings) -> None:
    clock = FakeClock()
    limiter = Limiter(max_concurrency=16, clock=clock, sleep=clock.sleep)

    async def scenario() -> None:
        # 40 answers in one second: the server lets 40/s through. Then four 429s of one event.
        for _ in range(40):
            sent = await limiter.acquire()
            assert sent is not None
            clock.now += 0.025
            limiter.release(sent, throttled=False)
        assert limiter.rate is None and not limiter.held_back  # off until the first throttle
        sent_together = [await limiter.acquire() for _ in range(4)]
        for sent in sent_together:
            assert sent is not None
            limiter.release(sent, throttled=True, retry_after=1)
        assert limiter.rate == pytest.approx(40 * BETA)
        assert limiter.concurrency == pytest.approx(16 * 0.9)  # one cut for the one event
        assert limiter.held_back and limiter.throttles == 4
        # Good answers for a while: the rate climbs back past 40/s, never above twice what arrives.
        start, answered = clock.now, 0
        while clock.now - start < 5:
            sent = await limiter.acquire()
            assert sent is not None
            limiter.release(sent, throttled=False)
            answered += 1
        assert limiter.rate is not None and limiter.rate > 40
        assert limiter.rate <= 2 * answered  # never credit for rates the run did not reach

    asyncio.run(scenario())


def test_concurrency_and_rate_caps_are_never_exceeded() -> None:
    clock = FakeClock()
    limiter = Limiter(max_concurrency=3, max_rate=20, start_rate=1000, clock=clock, sleep=clock.sleep)
    peak = 0
    times: list[float] = []

    async def one() -> None:
        nonlocal peak
        sent = await limiter.acquire()
        assert sent is not None
        times.append(sent)
        peak = max(peak, limiter.in_flight)
        await clock.sleep(0.01)
        limiter.release(sent, throttled=False, latency=0.01)

    async def scenario() -> None:
        await asyncio.gather(*(one() for _ in range(60)))

    asyncio.run(scenario())
    assert peak <= 3 and limiter.rate == 20
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / 20 - 1e-9


def test_a_remembered_rate_is_where_the_next_run_starts() -> None:
    clock = FakeClock()
    limiter = Limiter(max_concurrency=8, start_rate=12.5, clock=clock, sleep=clock.sleep)
    assert limiter.rate == 12.5 and limiter.held_back
    clock.now = 10
    assert limiter.settled_rate == 12.5  # nothing answered yet: the rate in force


def test_a_clear_latency_rise_shrinks_concurrency_and_small_jitter_does_not() -> None:
    clock = FakeClock()
    limiter = Limiter(max_concurrency=16, clock=clock, sleep=clock.sleep)

    async def answers(latency: float, n: int) -> None:
        for _ in range(n):
            sent = await limiter.acquire()
            assert sent is not None
            clock.now += 0.2
            limiter.release(sent, throttled=False, latency=latency)

    asyncio.run(answers(0.002, 50))
    asyncio.run(answers(0.004, 50))  # twice the baseline, but only 2 ms more: jitter, not a queue
    assert limiter.concurrency == 16
    asyncio.run(answers(0.5, 10))  # a queue builds at the server
    assert limiter.concurrency < 16


def test_close_lets_waiting_requests_go_home_unsent(settings: Settings) -> None:
    clock = FakeClock()
    limiter = Limiter(max_concurrency=1, clock=clock)

    async def scenario() -> list[float | None]:
        first = await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        limiter.close()
        return [first, await waiting]

    first, second = asyncio.run(scenario())
    assert first is not None and second is None


def test_a_follow_up_goes_ahead_of_requests_that_begin_new_rows() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:  # a few turns of the loop pass while the pace is waited for
        for _ in range(5):
            await asyncio.sleep(0)
        clock.now += seconds

    limiter = Limiter(max_concurrency=8, start_rate=10, clock=clock, sleep=sleep)
    order: list[str] = []

    async def one(name: str, follow_up: bool | None = None) -> None:
        sent = await limiter.acquire(follow_up=follow_up)
        assert sent is not None
        order.append(name)

    async def scenario() -> None:
        await one("first")  # the bucket's one token: the next requests wait for their turn
        news = [asyncio.ensure_future(one(f"new {i}")) for i in range(3)]
        await asyncio.sleep(0)
        FOLLOW_UP.set(True)  # as the dispatcher sets it for a row's update after its read
        update = asyncio.ensure_future(one("update"))
        FOLLOW_UP.set(False)
        retry = asyncio.ensure_future(one("retry", follow_up=True))
        await asyncio.gather(*news, update, retry)

    asyncio.run(scenario())
    # "new 0" was already waiting for the pace when the follow-ups came; they go before the other new rows.
    assert order == ["first", "new 0", "update", "retry", "new 1", "new 2"]
