"""How fast the journal records rows, and how fast it plans a resume.

Each row costs two committed transactions, as ``apply`` does them: ``mark_in_flight`` (with a masked
request of realistic size) before the call, ``record_result`` (with before/after values) after it.
Target: 2,000 rows/s. Run: ``.venv/bin/python bench/bench_journal.py [--rows N] [--plan-rows N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchops.journal import Journal, RowStatus, content_hash

TARGET_ROWS_PER_SECOND = 2_000


def record_rows(folder: Path, rows: int, *, durable: bool) -> float:
    """Rows per second through add_rows + (mark_in_flight, record_result) per row + finish_run."""
    sheet = folder / f"sheet-{durable}.xlsx"
    sheet.write_bytes(str(time.time()).encode())
    with Journal(folder / f"journal-{durable}-{time.monotonic_ns()}.sqlite3", durable=durable) as journal:
        run = journal.start_run(sheet, operation="agentsettings", target="https://service.example.com")
        values = [
            {"workNo": str(1000 + i), "skill": "s1,s2", "callerPresent": ["95588", "95599"]}
            for i in range(rows)
        ]
        started = time.perf_counter()
        journal.add_rows(run.id, [(i + 2, v["workNo"], content_hash(v)) for i, v in enumerate(values)])
        for i, v in enumerate(values):
            journal.mark_in_flight(
                run.id,
                i + 2,
                request={
                    "method": "POST",
                    "path": "/CCSQM/rest/ccisqm/v1/agentsettings/update",
                    "headers": {"Authorization": "Bearer abc", "X-APP-Key": "k"},
                    "body": v,
                },
                before={"skill": "s0"},
            )
            journal.record_result(
                run.id,
                i + 2,
                RowStatus.OK,
                http_status=200,
                code="0",
                message="success",
                attempts=1,
                after={"skill": v["skill"]},
            )
        journal.finish_run(run.id)
        return rows / (time.perf_counter() - started)


def plan(folder: Path, rows: int) -> float:
    """Seconds for plan_resume over ``rows`` rows, half of them already applied."""
    sheet = folder / "plan.xlsx"
    sheet.write_bytes(b"plan")
    with Journal(folder / "plan.sqlite3") as journal:
        run = journal.start_run(sheet, operation="agentsettings", target="https://t")
        keyed = [(i + 2, f"K{i}", content_hash({"v": i})) for i in range(rows)]
        journal.add_rows(run.id, keyed)
        # Straight SQL for the setup only: half the rows applied.
        journal._conn.execute("UPDATE rows SET status = 'ok', started_at = '2026' WHERE row_number % 2 = 0")
        journal.finish_run(run.id)
        started = time.perf_counter()
        result = journal.plan_resume(sheet, "agentsettings", "https://t", keyed)
        elapsed = time.perf_counter() - started
        assert len(result.to_skip) == rows // 2
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plan-rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        normal = [record_rows(folder, args.rows, durable=False) for _ in range(args.repeat)]
        full = [record_rows(folder, args.rows, durable=True) for _ in range(args.repeat)]
        planned = plan(folder, args.plan_rows)
    report = {
        "rows": args.rows,
        "rows_per_second_wal_normal": round(statistics.median(normal)),
        "rows_per_second_wal_full": round(statistics.median(full)),
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "plan_resume_rows": args.plan_rows,
        "plan_resume_seconds": round(planned, 3),
        "folder": tempfile.gettempdir(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
