"""What confirming an apply costs: the preview a person is asked about, against the apply it precedes.

    .venv/bin/python bench/bench_preview.py [--rows 2000] [--latency-ms 20]

``batchops apply`` at a terminal reads every record's current values before it asks (``Job.preview(read=
True)``, the reads ``plan`` makes), so that its "N row(s) to send" counts out the rows that change nothing.
Measured here, in one process against the sandbox in its own process (``batchops sandbox``): the preview
from the journal alone, the preview with the reads, and the apply that follows (which reads each record
again just before its update, for fresh before-values). Half the rows change, half are already as the file
says. Writes ``bench/RESULTS.preview.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_apply import sandbox  # the same sandbox process the apply figures use

RESULTS = Path(__file__).parent / "RESULTS.preview.md"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with sandbox(args.rows, args.latency_ms) as env, tempfile.TemporaryDirectory() as folder:
        os.environ.update(env)
        from batchops.apply.replay import ApplyOptions
        from batchops.sandbox import Sandbox, SandboxOptions
        from batchops.sheets.writer import SheetSpec, write_xlsx
        from batchops.workflow import Job

        # The seed is deterministic: a local copy knows the records the sandbox process holds.
        records = Sandbox(SandboxOptions(agents=args.rows)).agent_settings()[: args.rows]
        rows = [[r["id"], r["userId"], f"0755{n:07d}" if n % 2 else r["callNumberDefault"]]
                for n, r in enumerate(records)]
        path = Path(folder) / "settings.xlsx"
        write_xlsx(path, [SheetSpec("agent-settings", ["id", "userId", "callNumberDefault"], rows)])
        job = Job(path, journal_path=Path(folder) / "journal.sqlite3")
        job.validate()
        options = ApplyOptions(concurrency=args.concurrency, read_before=True)
        started = time.perf_counter()
        quick = job.preview(options)
        journal_only = time.perf_counter() - started
        started = time.perf_counter()
        read = job.preview(options, read=True, concurrency=args.concurrency)
        reading = time.perf_counter() - started
        started = time.perf_counter()
        applied = job.apply(options)
        applying = time.perf_counter() - started
    summary = applied.summary()
    text = "\n".join([
        f"## Confirming an apply: {args.rows:,} rows, {args.latency_ms:g} ms latency, concurrency {args.concurrency}",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
         f"before: {load:.2f}. The sandbox runs in its own process on the same CPUs."),
        "",
        "| step | seconds | rows to send it reports |",
        "|---|---:|---:|",
        f"| preview from the journal alone (`--yes`, scripts) | {journal_only:.2f} | {quick.to_send:,} |",
        (f"| preview with the current values read (a person is asked) | {reading:.2f} | {read.to_send:,} "
         f"({read.no_change:,} change nothing) |"),
        (f"| the apply that follows (reads each record again, then sends) | {applying:.2f} | "
         f"{summary['sent']:,} sent, {summary['skipped']['no-change']:,} skipped as no change |"),
        "",
        (f"Asking a person adds {reading / applying:.0%} to the apply's own time: the price of a count that "
         "agrees with `plan` and with the summary."),
        "",
        "Command: `.venv/bin/python bench/bench_preview.py`",
        "",
    ])
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
