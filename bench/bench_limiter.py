"""How close ``batchops apply`` gets to a gateway's rate limit it was not told about (issue 12).

    .venv/bin/python bench/bench_limiter.py [--repeat 1] [--scale 1.0]

The sandbox runs in its own process as a throttling gateway: ``--rate-limit L`` (a token bucket per API path,
one second's worth of burst, 429 + ``Retry-After: 1`` beyond it) and 20 ms latency. Each case is the real
command, ``batchops apply FILE --yes --json --force`` in a child process, on a fresh journal (so each run
finds the limit from nothing), reading each record before its update (the default: two API paths, each
with its own bucket of L/s, so rows/s can reach L). Reported per case: exit code, rows ok, rows/s over the
whole run against L (target >= 0.9 x L), the share of requests answered 429 (target <= 5%, from the
sandbox's request counts), and the settled rate the journal keeps for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import httpx
from bench_apply import OUT, apply, make_workbook, sandbox, settings_ids

LATENCY_MS = 20
CASES = [  # (L, concurrency flag or None for the default, rows)
    (10, 16, 300),
    (50, None, 600),
    (200, 32, 2000),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="rows x this (a quicker look)")
    parser.add_argument("--limit", type=int, action="append", help="only the case(s) of this gateway limit")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]
    table: list[str] = []
    for limit, concurrency, rows in CASES:
        if args.limit and limit not in args.limit:
            continue
        rows = int(rows * args.scale)
        flags = ["--concurrency", str(concurrency)] if concurrency else []
        for _ in range(args.repeat):
            with sandbox(max(rows, 300), LATENCY_MS, "--rate-limit", str(limit)) as env:
                ids = settings_ids(max(rows, 300), rows)
                path = OUT / f"limiter-{rows}.xlsx"
                make_workbook(path, ids, rows)
                journal = Path(tempfile.mkdtemp()) / "journal.sqlite3"
                for run in ("first", "next"):  # the next run starts at the rate the first one settled on
                    with httpx.Client(base_url=env["BATCHOPS_BASE_URL"]) as control:
                        control.post("/_sandbox/reset")
                    result = apply(path, env, *flags, "--force", journal=journal)
                    with httpx.Client(base_url=env["BATCHOPS_BASE_URL"]) as control:
                        entries = control.get("/_sandbox/log", params={"limit": 1_000_000}).json()["entries"]
                        control.post("/_sandbox/faults", json={"rate_limit": limit})  # reset cleared it
                    api = [e for e in entries if "tokenByAkSk" not in e["path"]]
                    throttled = sum(1 for e in api if e["status"] == 429)
                    rate = result["rows_per_second_whole"]
                    table.append(
                        f"| {limit} | {concurrency or 'default (8)'} | {rows:,} | {run} | {result['exit']} | "
                        f"{result['counts']['ok']:,} | {rate:,.1f} ({rate / limit:.2f} x L) | "
                        f"{throttled:,} of {len(api):,} ({throttled / max(1, len(api)):.1%}) | "
                        f"{result['throttled_answers']:,} | {result['settled_rate']} |")
                    print(table[-1], flush=True)
    text = "\n".join([
        "## apply against a throttling gateway it was not told about (issue 12)",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
         f"Load average before: {load_before:.2f}. Sandbox in its own process: `--rate-limit L` (token bucket "
         f"per API path, 1 s burst, 429 + Retry-After: 1), {LATENCY_MS} ms latency; records read before each "
         "update (two paths, each L/s). The first run on a fresh journal finds the limit from nothing; the next "
         "run, on the same journal, starts at the rate the first settled on."),
        "",
        "Targets: exit 0, every row ok, rows/s over the whole run >= 0.9 x L, <= 5% of requests answered 429.",
        "",
        ("| L (req/s per path) | --concurrency | rows | run | exit | ok | rows/s whole run | requests answered "
         "429 | 429s the client counted | settled rate (req/s, kept for the next run) |"),
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        *table,
        "",
        f"Command: `.venv/bin/python bench/bench_limiter.py --repeat {args.repeat}`",
        "",
    ])
    (Path(__file__).parent / "RESULTS.limiter.md").write_text(text, encoding="utf-8")
    print(text)
    print(json.dumps({"load_before": load_before}))


if __name__ == "__main__":
    main()
