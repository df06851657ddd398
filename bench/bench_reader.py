"""Time ``read_table`` on a 100,000-row agent-settings workbook next to a plain ``pandas.read_excel``.

    .venv/bin/python bench/bench_reader.py [--rows 100000] [--repeat 3]

Each reader runs in its own child process, so that its peak memory (max RSS) is its own.
The workbook is written once to bench/out/ with xlsxwriter: IDs and phone numbers as text,
``callType`` as a number, list columns like ``"123,456"``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
HEADERS = ["id", "userId", "callType", "callerPresent", "callNumber", "callNumberDefault", "callerPresentDefault"]


def make_workbook(path: Path, rows: int) -> None:
    """Write the benchmark workbook (skipped when it already exists with that many rows)."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Agents")
    ws.write_row(0, 0, HEADERS)
    for i in range(1, rows + 1):
        phone = f"138{i:08d}"
        ws.write_row(
            i,
            0,
            [f"{100000 + i}", f"{2000000000 + i}", i % 3, f"{i % 1000},{(i * 7) % 1000}", phone,
             f"139{i:08d}", f"{i % 500}"],
        )
    wb.close()


def run_one(which: str, path: str) -> dict[str, float]:
    """In a child process: read the workbook once with ``which``; report seconds and max RSS."""
    start = time.perf_counter()
    if which == "read_table":
        from batchops.sheets import read_table

        n = len(read_table(path).rows)
    else:
        import pandas as pd

        n = len(pd.read_excel(path, engine="openpyxl"))
    seconds = time.perf_counter() - start
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": n, "max_rss_mib": rss_mib}


def measure(which: str, path: Path, repeat: int) -> dict[str, float]:
    """The best of ``repeat`` child-process runs (time), with the largest peak memory seen."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", which, str(path)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(proc.stdout))
    return {
        "seconds": min(r["seconds"] for r in runs),
        "rows": runs[0]["rows"],
        "max_rss_mib": max(r["max_rss_mib"] for r in runs),
    }


def main() -> None:
    """Build the workbook, time both readers, print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    path = OUT / f"agents_{args.rows}.xlsx"
    if not path.exists():
        make_workbook(path, args.rows)
    ours = measure("read_table", path, args.repeat)
    plain = measure("pandas", path, max(1, args.repeat - 1))
    assert ours["rows"] == plain["rows"] == args.rows
    from importlib.metadata import version

    print(f"{args.rows:,} rows x {len(HEADERS)} columns, {path.stat().st_size / 1e6:.1f} MB; "
          f"Python {platform.python_version()}, pandas {version('pandas')}, openpyxl {version('openpyxl')}, "
          f"python-calamine {version('python-calamine')}, {platform.machine()}")
    print(f"{'reader':<44}{'seconds':>9}{'peak RSS MiB':>14}")
    print(f"{'batchops read_table':<44}{ours['seconds']:>9.2f}{ours['max_rss_mib']:>14.0f}")
    print(f"{'pandas.read_excel(engine=openpyxl)':<44}{plain['seconds']:>9.2f}{plain['max_rss_mib']:>14.0f}")
    print(f"ratio read_table / read_excel: {ours['seconds'] / plain['seconds']:.3f} (target < 0.15)")


if __name__ == "__main__":
    main()
