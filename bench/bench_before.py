"""What reading before-values costs apply: Replay with and without ``read_before``, same server, same run.

    .venv/bin/python bench/bench_before.py [--rows 3000] [--repeat 2] [--write bench/RESULTS.before.md]

The server is bench_dispatch's minimal latency server (its own process, 20 ms per answer): every POST answers
``{"returnCode":"0"}``, so each read finds no record and the row is sent anyway; the figure is the cost of one
extra call per row (read in chunks from a thread pool over ``Client.send``, then sent by the dispatcher), plus
the journal. Rows per second are the median of ``--repeat`` runs; CPU is this process's (all threads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dispatch import settings_for, start_server

from batchops.apply.replay import ApplyOptions, Replay
from batchops.checking.validation import validate_file
from batchops.http.client import Client
from batchops.journal import Journal
from batchops.sheets.writer import SheetSpec, write_xlsx

LATENCY = 0.020
HEADERS = ["id", "userId", "callType", "callNumberDefault"]


def measure(settings: object, folder: Path, rows: int, concurrency: int, read_before: bool, n: int) -> tuple[float, float]:
    """One Replay of ``rows`` agent-settings rows: (rows per second, client CPU ms per row)."""
    path = folder / f"rows-{concurrency}-{read_before}-{n}.xlsx"
    data = [[f"{10**18 + i}", f"{2 * 10**18 + i}", "1", f"8{n}{i:06d}"] for i in range(rows)]
    write_xlsx(path, [SheetSpec("agent-settings", HEADERS, data)])
    report = validate_file(path, operation="agent-settings")
    journal = Journal(folder / f"journal-{concurrency}-{read_before}-{n}.sqlite3")
    client = Client(settings, max_connections=concurrency)  # type: ignore[arg-type]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        Replay(report, settings, journal=journal, client=client,  # type: ignore[arg-type]
               options=ApplyOptions(concurrency=concurrency, read_before=read_before)).run()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        journal.close()
        client.close()
    return rows / elapsed, cpu / rows * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    proc, url = start_server(LATENCY)
    lines = ["| concurrency | limit rows/s | read_before | rows/s | client CPU ms/row |", "|---|---|---|---|---|"]
    try:
        settings = settings_for(url)
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in (16, 32):
                for read_before in (False, True):
                    figures = [measure(settings, Path(tmp), args.rows, concurrency, read_before, n)
                               for n in range(args.repeat)]
                    rate = statistics.median(f[0] for f in figures)
                    cpu = statistics.median(f[1] for f in figures)
                    lines.append(f"| {concurrency} | {concurrency / LATENCY:,.0f} | {read_before} | {rate:,.0f} | "
                                 f"{cpu:.2f} |")
                    print(lines[-1], flush=True)
    finally:
        proc.terminate()
    if args.write:
        args.write.write_text("# Before-values in apply\n\n" + f"{args.rows} rows, {LATENCY * 1000:.0f} ms per "
                              "answer, median of " + f"{args.repeat}.\n\n" + "\n".join(lines) + "\n",
                              encoding="utf-8")


if __name__ == "__main__":
    main()
