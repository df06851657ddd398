"""Requests per second the AICC sandbox serves: small agentsettings/update POSTs with a valid token.

    .venv/bin/python bench/bench_sandbox.py [--requests 5000] [--concurrency 32] [--repeat 3]

The sandbox runs in a child process (uvicorn + httptools + uvloop, as ``batchops sandbox`` runs it) so
that the client does not share its interpreter. Two clients, each with ``--concurrency`` workers on one
keep-alive connection each, on uvloop: aiohttp (what batchops' own client stack costs), and a raw
asyncio HTTP/1.1 client that costs a few microseconds a request, so that the figure is the server's
and not the client's (both share the machine's two cores). Three servers are measured:

* ``plain``: the sandbox as shipped (a plain ASGI app with dictionary routing), no injected latency;
* ``starlette``: the same handlers behind starlette's Router and Request/Response (the alternative);
* ``plain+20ms``: the shipped sandbox with ``--latency-ms 20``; the ceiling is concurrency / 20 ms
  (1,600/s at 32), and the replay benchmarks need the sandbox to stay close to it.

Target (issue 3): plain >= 3,000 requests/s on this 2-core machine. Every run also checks that the
sandbox's applied count equals the number of successful answers. Results: stdout and
bench/RESULTS.sandbox.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

RESULTS = Path(__file__).parent / "RESULTS.sandbox.md"
UPDATE = "/apiaccess/CC-Management/v1/openapp/agentsettings/update"
TOKEN = "/apigovernance/api/oauth/tokenByAkSk"


# -- the child process: one server ------------------------------------------------------------------

def serve(kind: str, port: int, latency_ms: float) -> None:
    """Run one server until killed (child process)."""
    from batchops.sandbox import Sandbox, SandboxOptions, start_sandbox

    options = SandboxOptions(agents=3000, latency_ms=latency_ms)
    if kind == "plain":
        with start_sandbox(options, port=port):
            while True:
                time.sleep(3600)
    import uvicorn

    uvicorn.run(_starlette_app(Sandbox(options)), host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False, lifespan="off")


def _starlette_app(sb):  # type: ignore[no-untyped-def]
    """The same handlers behind starlette routing, for comparison."""
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    from batchops.sandbox import app as sandbox_app
    from batchops.sandbox.wire import Request

    def endpoint(handler, auth):  # type: ignore[no-untyped-def]
        async def call(request: StarletteRequest) -> Response:
            body = await request.body()
            req = Request(request.method, request.url.path, request.url.path, request.url.query,
                          {k.lower(): v for k, v in request.headers.items()}, body)
            reply = await sb._serve_api(req) if auth != "raw" else handler(sb, req)
            return Response(reply.encoded(), reply.status, media_type="application/json;charset=UTF-8")
        return call

    routes = [Route(path, endpoint(h, a), methods=list(methods))
              for path, methods in sandbox_app.ROUTES.items() for h, a in methods.values()]
    return Starlette(routes=routes)


# -- the client -------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with session.post(url + TOKEN, json={}) as r:
                await r.read()
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"no server at {url}")


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a request and waits for its whole answer."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.waiter is None:
            return
        head = self.buffer[:head_end].lower()
        start = head.find(b"content-length:") + 15
        length = int(head[start:head.find(b"\r\n", start) if head.find(b"\r\n", start) > 0 else None])
        if len(self.buffer) >= head_end + 4 + length:
            status = int(self.buffer[9:12])
            body = self.buffer[head_end + 4:head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length:]
            waiter, self.waiter = self.waiter, None
            waiter.set_result((status, body))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter


async def _run_raw(url: str, requests: int, concurrency: int, repeat: int) -> tuple[list[float], int, int]:
    """The same load as _run with a raw asyncio client (a few microseconds a request)."""
    from batchops.sandbox import Sandbox, SandboxOptions

    host, port = url.removeprefix("http://").split(":")
    seed = Sandbox(SandboxOptions(agents=3000))
    options = seed.options
    async with aiohttp.ClientSession(base_url=url) as session:
        await _wait_up(session, url)
        async with session.post(TOKEN, json={"app_key": options.app_key, "app_secret": options.app_secret}) as r:
            token = (await r.json())["AccessToken"]
    requests_bytes = []
    for n, s in enumerate(seed.agent_settings()):
        body = json.dumps({"id": s["id"], "userId": s["userId"], "callType": "1",
                           "callerPresent": ["02512345678"], "callNumber": [f"0{n % 10_000:04d}"]}).encode()
        requests_bytes.append(
            f"POST {UPDATE} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"X-APP-Key: {options.app_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(_RawConnection, host, int(port)))[1] for _ in range(concurrency)]
    ok = 0

    async def worker(conn: _RawConnection, queue: list[int]) -> None:
        nonlocal ok
        while queue:
            n = queue.pop()
            status, body = await conn.request(requests_bytes[n % len(requests_bytes)])
            ok += status == 200 and b'"returnCode":"0"' in body

    async def burst(count: int) -> float:
        queue = list(range(count))
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, queue) for c in conns))
        return count / (time.perf_counter() - started)

    await burst(min(1000, requests))
    rates = [await burst(requests) for _ in range(repeat)]
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    async with aiohttp.ClientSession(base_url=url) as session, session.get("/_sandbox/applied") as r:
        applied = (await r.json())["total"] if r.status == 200 else -1
    return rates, ok if applied >= 0 else -1, applied


async def _run(url: str, requests: int, concurrency: int, repeat: int) -> tuple[list[float], int, int]:
    from batchops.sandbox import Sandbox, SandboxOptions

    seed = Sandbox(SandboxOptions(agents=3000))  # same seed as the server: the same records
    settings = seed.agent_settings()
    options = seed.options
    bodies = [json.dumps({"id": s["id"], "userId": s["userId"], "callType": "1",
                          "callerPresent": ["02512345678"], "callNumber": [f"0{n % 10_000:04d}"]}).encode()
              for n, s in enumerate(settings)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:
        await _wait_up(session, url)
        async with session.post(TOKEN, json={"app_key": options.app_key, "app_secret": options.app_secret}) as r:
            token = (await r.json())["AccessToken"]
        headers = {"Authorization": f"Bearer {token}", "X-APP-Key": options.app_key,
                   "Content-Type": "application/json"}
        ok = 0
        sent = 0

        async def worker(queue: list[int]) -> None:
            nonlocal ok, sent
            while queue:
                n = queue.pop()
                async with session.post(UPDATE, data=bodies[n % len(bodies)], headers=headers) as r:
                    answer = await r.json()
                    sent += 1
                    ok += r.status == 200 and answer["returnCode"] == "0"

        async def burst(count: int) -> float:
            queue = list(range(count))
            started = time.perf_counter()
            await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
            return count / (time.perf_counter() - started)

        await burst(min(1000, requests))  # warm up connections and caches
        rates = [await burst(requests) for _ in range(repeat)]
        applied = -1
        try:
            async with session.get("/_sandbox/applied") as r:
                if r.status == 200:
                    applied = (await r.json())["total"]
        except aiohttp.ClientError:
            pass
        return rates, ok if applied >= 0 else -1, applied


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc does not exist."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _asyncio_run(coro):  # type: ignore[no-untyped-def]
    import uvloop

    return uvloop.run(coro)


def measure(kind: str, latency_ms: float, requests: int, concurrency: int, repeat: int,
            client: str = "aiohttp") -> dict[str, object]:
    """Start one server in a child process, hammer it, stop it."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),
                              "--latency-ms", str(latency_ms)], env=env)
    try:
        run = _run if client == "aiohttp" else _run_raw
        cpu_before = _cpu_seconds(child.pid)
        rates, ok, applied = _asyncio_run(run(f"http://127.0.0.1:{port}", requests, concurrency, repeat))
        cpu_after = _cpu_seconds(child.pid)
    finally:
        child.terminate()
        child.wait(10)
    if kind == "plain" and ok != applied:
        raise SystemExit(f"applied count {applied} differs from successful answers {ok}")
    served = min(1000, requests) + requests * repeat + 2  # warm-up, runs, token and count calls
    # Server CPU per request does not depend on how busy the machine is, unlike requests/s: one core
    # can serve 1 / (CPU per request) requests a second.
    cpu_us = (cpu_after - cpu_before) / served * 1e6 if cpu_before is not None and cpu_after is not None else None
    return {"server": kind if not latency_ms else f"{kind}+{latency_ms:g}ms", "client": client,
            "median": statistics.median(rates), "runs": rates, "cpu_us": cpu_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", choices=("plain", "starlette"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--latency-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.sandbox.md")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.latency_ms)
        return
    load = os.getloadavg()
    rows = [
        measure(kind, latency, args.requests if not latency else max(2000, args.requests // 2),
                args.concurrency, args.repeat, client)
        for kind, latency in (("plain", 0), ("starlette", 0), ("plain", 20))
        for client in ("aiohttp", "raw")
    ]
    # More connections than the target's 32 show whether the sandbox, not the 20 ms, sets the ceiling.
    wide = args.concurrency * 3 // 2
    rows.append({**measure("plain", 20, max(2000, args.requests // 2), wide, args.repeat, "raw"),
                 "concurrency": wide})
    import aiohttp as _a
    import httptools
    import uvicorn
    import uvloop

    ceiling = args.concurrency / 0.020
    lines = [
        "# Sandbox bench",
        "",
        (f"`.venv/bin/python bench/bench_sandbox.py --requests {args.requests} --concurrency {args.concurrency}"
         f" --repeat {args.repeat}`"),
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"uvicorn {uvicorn.__version__}, httptools {httptools.__version__}, uvloop {uvloop.__version__}, "
        f"clients: aiohttp {_a.__version__} and a raw asyncio HTTP/1.1 client, {args.concurrency} keep-alive "
        "connections, uvloop, in another process. "
        "Small agentsettings/update POSTs with a valid token; 3,000 seeded agents; requests/s is the median "
        "of the runs after a warm-up. "
        f"Load average before the run: {load[0]:.1f} (other work on the machine lowers every figure)."),
        "",
        ("| server | client | connections | requests/s (median) | runs | server CPU µs/request "
         "| one server core serves /s | target |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        runs = ", ".join(f"{r:,.0f}" for r in row["runs"])  # type: ignore[attr-defined]
        target = {"plain": ">= 3,000", "plain+20ms": f"close to {ceiling:,.0f} (concurrency / 20 ms)"}.get(
            str(row["server"]), "comparison")
        cpu = row["cpu_us"]
        cpu_text = f"{cpu:,.0f} | {1e6 / cpu:,.0f}" if isinstance(cpu, float) and cpu > 0 else "n/a | n/a"
        conns = int(row.get("concurrency", args.concurrency))  # type: ignore[call-overload]
        if conns != args.concurrency:
            target = f"ceiling {conns / 0.020:,.0f}"
        lines.append(f"| {row['server']} | {row['client']} | {conns} | {row['median']:,.0f} | {runs} | {cpu_text} "
                     f"| {target} |")
    lines += [
        "",
        ("Reading: `plain` is the sandbox as shipped (plain ASGI app, dictionary routing, uvicorn's httptools "
        "protocol with each response sent in one write: `batchops/sandbox/protocol.py`). `starlette` runs "
        "the same handlers behind starlette's router on stock uvicorn + httptools. The raw client shows the "
        "server's own ceiling; aiohttp shows what a real Python client gets while sharing the two cores. "
        "With 20 ms latency every request waits 20 ms plus the round trip, so 32 connections cannot pass "
        f"{ceiling:,.0f}/s; the server's CPU per request says how much of a core that load takes "
        "(requests/s x µs/request), i.e. whether the sandbox could be the bottleneck."),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
