"""A run against a throttling gateway in virtual time: the limiter's algorithm measured, whatever the machine.

What runs is the real thing: ``Dispatcher``, ``Client`` (retries and all) and ``Limiter``, with each row read
before its update as ``apply`` does by default. What is simulated is the gateway and time:

- the gateway is the sandbox's own ``GatewayLimit`` (a token bucket per API path, ``limit`` per second, one
  second's worth of burst), admitting or refusing at arrival; a refused request is answered 429 with
  ``Retry-After`` (whole seconds until a token, at least 1), every answer after a round trip (``Network``);
- time is the event loop's, and it moves only when every task waits (``VirtualTimeLoop``): a run of minutes
  takes a fraction of a second, and the client's CPU costs nothing, so the figures are the algorithm's alone.

    .venv/bin/python tests/limiter_sim.py     # the issue's three gateways, a first run and the next

``bench/bench_limiter.py`` measures the same cases against the real sandbox over HTTP.
"""

from __future__ import annotations

import asyncio
import math
import random
import selectors
from dataclasses import dataclass
from typing import Any

import httpx

from batchops.http.calls import PreparedCall
from batchops.http.client import Client
from batchops.http.dispatch import Dispatcher
from batchops.http.limiter import Limiter
from batchops.http.retrying import RetryPolicy
from batchops.sandbox.faults import GatewayLimit
from batchops.secrets import Secret
from batchops.settings import Settings

READ_PATH = "/agentsettings/query"
UPDATE_PATH = "/agentsettings/update"
CASES = [(10, 16, 300), (50, 8, 600), (200, 32, 2000)]
"""The issue's gateways: (limit per path, --concurrency, rows)."""


class _Selector(selectors.DefaultSelector):
    """Never blocks: a wait for ``timeout`` seconds moves the loop's virtual clock instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        # Each turn of the loop costs a microsecond, as on a real machine, where time never stands still.
        self._loop.now += timeout if not events and timeout is not None and timeout > 0 else 1e-6
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when every task waits: timers fire in order, at once."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(selector=_Selector(self))

    def time(self) -> float:
        return self.now


@dataclass
class SimResult:
    """How a simulated run went."""

    rows_ok: int
    seconds: float
    requests: int
    throttled: int
    settled_rate: float | None
    limit: float

    @property
    def rows_per_second(self) -> float:
        """Rows per second over the whole run."""
        return self.rows_ok / self.seconds if self.seconds else 0.0

    @property
    def share_of_limit(self) -> float:
        """Rows per second as a share of the gateway's limit per path (each row calls both paths once)."""
        return self.rows_per_second / self.limit

    @property
    def throttled_share(self) -> float:
        """The share of requests answered 429."""
        return self.throttled / self.requests if self.requests else 0.0

    def line(self, label: str) -> str:
        """One line of the table ``main`` prints."""
        settled = f"{self.settled_rate:,.1f}" if self.settled_rate else "-"
        return (f"{label:<34} {self.rows_ok:>5} ok in {self.seconds:7.2f} s: {self.rows_per_second:7.1f} rows/s "
                f"({self.share_of_limit:.3f} x L), 429 {self.throttled:>4} of {self.requests:>5} "
                f"({self.throttled_share:.1%}), settled {settled} req/s")


def settings() -> Settings:
    """Settings for a made-up gateway (no file, no environment)."""
    return Settings(base_url="https://gw.example.com", app_key="k", app_secret=Secret("s"))


@dataclass(frozen=True)
class Load:
    """A busy client machine: CPU per request on the event loop, and now and then the process not scheduled."""

    cpu: float = 0.0
    """Seconds of the event loop's time each request costs (nothing else runs meanwhile)."""
    stall_chance: float = 0.0
    stall: float = 0.0
    """With this chance per request, the process is not scheduled for ``stall`` seconds more."""


IDLE = Load()
LOADED = Load(cpu=0.001, stall_chance=0.05, stall=0.02)
"""About this 2-core machine shared by other test runs: ~1 ms of wall time per request, a 20 ms stall now
and then (a load average of 5-9)."""


@dataclass(frozen=True)
class Network:
    """The round trip of every answer: ``latency`` seconds, give or take ``jitter`` of it (uniform)."""

    latency: float = 0.020
    jitter: float = 0.25


def simulate(limit: float, concurrency: int, rows: int, *, start_rate: float | None = None,
             network: Network = Network(), read_before: bool = True, burst: float | None = None,
             load: Load = IDLE, seed: int = 1) -> SimResult:
    """One run of ``rows`` rows against a gateway of ``limit`` requests/s per path, in virtual time; ``seed``
    draws the jitter and the stalls."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(_run(loop, limit, concurrency, rows, start_rate, network, read_before,
                                            burst if burst is not None else max(1.0, limit), load, seed))
    finally:
        loop.close()


async def _run(loop: VirtualTimeLoop, limit: float, concurrency: int, rows: int, start_rate: float | None,
               network: Network, read_before: bool, burst: float, load: Load, seed: int) -> SimResult:
    gateway = GatewayLimit()
    counts = {"requests": 0, "throttled": 0}
    chance = random.Random(seed)

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("tokenByAkSk"):
            return httpx.Response(200, json={"AccessToken": "t", "Expires": "3600"})
        counts["requests"] += 1
        # The client's CPU: the event loop is busy, every timer due meanwhile fires late.
        loop.now += load.cpu + (load.stall if chance.random() < load.stall_chance else 0.0)
        wait = gateway.take(request.url.path, loop.now, limit, burst)  # admitted or refused at arrival
        await asyncio.sleep(network.latency * (1 + network.jitter * (2 * chance.random() - 1)))
        if wait is not None:
            counts["throttled"] += 1
            return httpx.Response(429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return httpx.Response(200, json={"returnCode": "0"})

    limiter = Limiter(max_concurrency=concurrency, start_rate=start_rate, clock=loop.time)
    client = Client(settings(), async_transport=httpx.MockTransport(answer), retry=RetryPolicy(),
                    token_clock=loop.time)
    ok = 0

    def on_result(_row: int, result: Any) -> None:
        nonlocal ok
        ok += result.http_status == 200

    async def read(row: int) -> bool:
        result = await client.asend(PreparedCall("c1", "POST", READ_PATH, {"row": row}))
        return result.http_status == 200

    dispatcher: Dispatcher[int] = Dispatcher(client, concurrency=concurrency, on_result=on_result,
                                             prepare=read if read_before else None, limiter=limiter)
    calls = [(row, PreparedCall("c1", "POST", UPDATE_PATH, {"row": row})) for row in range(rows)]
    started = loop.now
    await dispatcher.arun(calls)
    seconds = loop.now - started
    return SimResult(ok, seconds, counts["requests"], counts["throttled"], limiter.settled_rate, limit)


def first_and_next(limit: float, concurrency: int, rows: int, **options: Any) -> tuple[SimResult, SimResult]:
    """A first run that finds the limit, and the next one, started at the rate the first settled on."""
    first = simulate(limit, concurrency, rows, **options)
    return first, simulate(limit, concurrency, rows, start_rate=first.settled_rate, **options)


def main() -> None:
    """Print the issue's cases: a first run and the next one, and next runs from a rate remembered wrong."""
    for limit, concurrency, rows in CASES:
        first, following = first_and_next(limit, concurrency, rows)
        print(first.line(f"L={limit} c={concurrency} first"))
        print(following.line(f"L={limit} c={concurrency} next"))
        for factor in (0.25, 4.0):
            print(simulate(limit, concurrency, rows, start_rate=2 * limit * factor)
                  .line(f"L={limit} c={concurrency} from {factor} x"))


if __name__ == "__main__":
    main()
