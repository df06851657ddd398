"""Time ``batchops apply`` of 5,000 rows against the sandbox with 20 ms latency per call (issue 4).

    .venv/bin/python bench/bench_apply.py [--rows 5000] [--repeat 3]

The sandbox runs in its own process (``batchops sandbox``), so that its CPU is not the client's. Each
figure is the real command, ``batchops apply FILE --yes --json`` in a child process, timed by the run
itself (journal, planning and sending; the Results write-back after it is timed separately).

Reported next to each other, measured in the same run:
* rows/s at concurrency 16 and 32 against the physical limit (concurrency / 0.020 s), the median of
  ``--repeat`` runs (each run's figure listed);
* a plain sequential loop (one ``httpx.Client``, one update call after another, same auth);
* the same with the before-values read (the default: one read call per row before its update);
* the client's own CPU per row against the sandbox with no latency (total CPU of the apply process,
  and the same minus a ``--dry-run`` of the file, i.e. the cost of sending);
* peak memory of an apply of 100,000 rows (no latency; rows beyond the sandbox's 60,000 records fail
  as unknown IDs, which costs the client the same as a success).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "out"
LATENCY_MS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sandbox(agents: int, latency_ms: float, *extra: str):
    """``batchops sandbox`` in its own process (``extra``: more of its options); yields its BATCHOPS_* environment."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "batchops", "sandbox", "--port", str(port), "--agents", str(agents),
                             "--latency-ms", str(latency_ms), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    env: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        while len(env) < 7:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox did not start")
            # The sandbox prints shell lines to paste: `export BATCHOPS_X=value` (quoted when it must be).
            match = re.match(r"^(?:export )?(BATCHOPS_[A-Z_]+)=(.*)$", line.strip())
            if match:
                env[match.group(1)] = shlex.split(match.group(2))[0] if match.group(2) else ""
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def settings_ids(agents: int, count: int) -> list[tuple[str, str]]:
    """(id, userId) of the sandbox's agent settings: the seed is deterministic, so a local copy knows them."""
    from batchops.sandbox import Sandbox, SandboxOptions

    records = Sandbox(SandboxOptions(agents=agents)).agent_settings()
    return [(r["id"], r["userId"]) for r in records[:count]]


def make_workbook(path: Path, ids: list[tuple[str, str]], rows: int) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("agent-settings")
    ws.write_row(0, 0, ["id", "userId", "callNumber", "callNumberDefault"])
    for i in range(rows):
        ident, user = ids[i] if i < len(ids) else (str(9_000_000_000_000_000_000 + i), str(i))
        ws.write_row(i + 1, 0, [ident, user, f"0755{i:07d}", f"0755{i:07d}"])
    wb.close()


def apply(path: Path, env: dict[str, str], *args: str, journal: Path | None = None) -> dict:
    """One ``batchops apply`` in a child process: its JSON summary, wall time, CPU seconds and peak RSS; on a
    fresh journal unless one is given."""
    journal = journal or Path(tempfile.mkdtemp()) / "journal.sqlite3"
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(path), "--journal", str(journal), *args]
    proc = subprocess.run(cmd, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"apply printed no summary: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def child(argv: list[str]) -> None:
    """In a child process: run the CLI in-process, then print its summary plus CPU and peak memory."""
    import contextlib
    import io

    from batchops.cli import run

    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        code = run(["apply", argv[0], "--yes", "--json", *argv[1:]])
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    summary = json.loads([line for line in buffer.getvalue().splitlines() if line.startswith("{")][-1])
    summary.update(exit=code, wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024,
                   # apply's one rate is per second of sending; the whole run's is the bench's own figure
                   rows_per_second_sending=summary["rows_per_second"] or 0.0,
                   rows_per_second_whole=summary["sent"] / summary["seconds"] if summary["seconds"] else 0.0)
    print(json.dumps(summary))


def sequential(env: dict[str, str], ids: list[tuple[str, str]], calls: int) -> float:
    """Calls per second of a plain loop: one httpx.Client, token auth, one update after another."""
    import httpx

    base = env["BATCHOPS_BASE_URL"]
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/apigovernance/api/oauth/tokenByAkSk", headers={"X-Token-Expire": "3600"},
                            json={"app_key": env["BATCHOPS_APP_KEY"],
                                  "app_secret": env["BATCHOPS_APP_SECRET"]}).json()["AccessToken"]
        headers = {"Authorization": f"Bearer {token}", "X-APP-Key": env["BATCHOPS_APP_KEY"]}
        start = time.perf_counter()
        for i in range(calls):
            ident, user = ids[i % len(ids)]
            client.post("/apiaccess/CC-Management/v1/openapp/agentsettings/update", headers=headers,
                        json={"id": ident, "userId": user, "callNumber": [f"0755{i:07d}"]}).raise_for_status()
        return calls / (time.perf_counter() - start)


def bare_aiohttp(env: dict[str, str], ids: list[tuple[str, str]], calls: int, concurrency: int) -> float:
    """Calls per second of a minimal client: aiohttp on uvloop, ``concurrency`` workers over one session, the
    same update calls with the same token, no journal, no retries, no parsing beyond the status."""
    import asyncio

    import aiohttp
    import uvloop

    async def main() -> float:
        base = env["BATCHOPS_BASE_URL"]
        async with aiohttp.ClientSession(base_url=base, connector=aiohttp.TCPConnector(limit=concurrency)) as s:
            async with s.post("/apigovernance/api/oauth/tokenByAkSk", headers={"X-Token-Expire": "3600"},
                              json={"app_key": env["BATCHOPS_APP_KEY"],
                                    "app_secret": env["BATCHOPS_APP_SECRET"]}) as r:
                token = (await r.json())["AccessToken"]
            headers = {"Authorization": f"Bearer {token}", "X-APP-Key": env["BATCHOPS_APP_KEY"]}
            todo = iter(range(calls))

            async def worker() -> None:
                for i in todo:
                    ident, user = ids[i % len(ids)]
                    async with s.post("/apiaccess/CC-Management/v1/openapp/agentsettings/update", headers=headers,
                                      json={"id": ident, "userId": user, "callNumber": [f"0755{i:07d}"]}) as r:
                        await r.read()
                        assert r.status == 200

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return calls / (time.perf_counter() - start)

    return uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--memory-rows", type=int, default=100_000)
    parser.add_argument("--sequential-calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    OUT.mkdir(exist_ok=True)
    rows = args.rows
    load_before = os.getloadavg()[0]
    table: list[str] = []
    with sandbox(max(rows, 300), LATENCY_MS) as env:
        ids = settings_ids(max(rows, 300), rows)
        path = OUT / f"apply-{rows}.xlsx"
        make_workbook(path, ids, rows)
        seq = sequential(env, ids, args.sequential_calls)
        client_limited: list[str] = []
        for concurrency in (16, 32):
            limit = concurrency / (LATENCY_MS / 1000)
            # --force: every run sends every row, whatever the journal of an earlier figure says. Each run is
            # paired with a bare aiohttp loop sending the same calls to the same sandbox, interleaved.
            bare: list[float] = []
            runs_list = []
            for _ in range(args.repeat):
                bare.append(bare_aiohttp(env, ids, rows, concurrency))
                runs_list.append(apply(path, env, "--concurrency", str(concurrency), "--no-before", "--force"))
            runs = sorted(runs_list, key=lambda r: r["rows_per_second_sending"])
            bare.sort()
            fast = runs[len(runs) // 2]
            read = apply(path, env, "--concurrency", str(concurrency), "--force")
            sending = fast["rows_per_second_sending"]
            each = ", ".join(f"{r['rows_per_second_sending']:,.0f}" for r in runs)
            mid_bare = bare[len(bare) // 2]
            client_limited.append(
                f"| {concurrency} | {sending:,.0f} ({each}) | {mid_bare:,.0f} "
                f"({', '.join(f'{x:,.0f}' for x in bare)}) | {sending / mid_bare:.2f} x | "
                f">= {0.85 if concurrency == 16 else 0.8} x | {fast['rows_per_second_whole']:,.0f} "
                f"({fast['rows_per_second_whole'] / sending:.2f} x sending) | {rows / fast['wall']:,.0f} "
                f"({rows / fast['wall'] / sending:.2f} x sending) |")
            table.append(f"| {concurrency} | {sending:,.0f} ({each}) | {limit:,.0f} | {sending / limit:.0%} | "
                         f"{'>= 80%' if concurrency == 16 else '>= 70%'} | {fast['rows_per_second_whole']:,.0f} "
                         f"({fast['rows_per_second_whole'] / limit:.0%}) | {sending / seq:.1f}x | "
                         f"{read['rows_per_second_sending']:,.0f} | {fast['counts']['ok']:,} ok |")
    with sandbox(max(rows, 300), 0) as env:
        sent = apply(path, env, "--concurrency", "32", "--no-before", "--force")
        dry = apply(path, env, "--dry-run")
        cpu_total = sent["cpu"] / rows * 1000
        cpu_marginal = (sent["cpu"] - dry["cpu"]) / rows * 1000
    with sandbox(60_000, 0) as env:
        ids = settings_ids(60_000, args.memory_rows)
        big = OUT / f"apply-{args.memory_rows}.xlsx"
        make_workbook(big, ids, args.memory_rows)
        memory = apply(big, env, "--concurrency", "32", "--no-before", "--force")
    text = "\n".join([
        f"## apply: {rows:,} rows against the sandbox, {LATENCY_MS} ms latency per call (issue 4)",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
         f"httpx {version('httpx')}, aiohttp {version('aiohttp')}. "
         f"Load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}. The sandbox runs in its own "
         "process on the same 2 CPUs."),
        "",
        f"Sequential loop (one httpx.Client, one call after another): **{seq:,.1f} rows/s**.",
        "",
        ("rows/s while sending: from the first request to the last answer (what concurrency and latency bound); "
         "whole run: the command's own total (journal, planning and sending; not start-up, validation or the "
         "Results write-back)."),
        "",
        (f"| concurrency | rows/s sending, median of {args.repeat} (each) | limit | % of limit | target | rows/s whole run | x sequential "
         "| rows/s reading before-values (default) | rows |"),
        "|---:|---:|---:|---:|---|---:|---:|---:|---|",
        *table,
        "",
        (f"Client CPU per row, no latency, concurrency 32: {cpu_total:.3f} ms in all (start-up, validation and "
         f"journal included), {cpu_marginal:.3f} ms for sending (minus a dry run of the same file). Target < 1 ms."),
        "",
        ("Against a bare aiohttp loop (the same update calls to the same sandbox, 20 ms latency, no journal, no "
         "retries), each run paired with one of the apply's above; and the whole command next to its sending: "
         "the run (journal, planning, sending) and the whole in-process command (validation, the run, the "
         "Results write-back; not the interpreter's start):"),
        "",
        ("| concurrency | apply --no-before, rows/s sending | bare aiohttp loop, calls/s | apply / bare | target "
         "| rows/s whole run | rows/s whole command (target >= 0.7 x sending at 2,000 rows, 16) |"),
        "|---:|---:|---:|---:|---|---:|---:|",
        *client_limited,
        "",
        (f"Peak memory of an apply of {args.memory_rows:,} rows: {memory['rss_mb']:.0f} MB "
         f"({memory['counts']['ok']:,} ok, {memory['counts']['failed']:,} failed as unknown IDs; "
         f"{memory['rows_per_second_sending']:,.0f} rows/s while sending). Target < 500 MB."),
        "",
        f"Command: `.venv/bin/python {shlex.join(['bench/bench_apply.py', *sys.argv[1:]])}`",
        "",
    ])
    (Path(__file__).parent / "RESULTS.apply.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
