"""Time ``batchops validate`` of a 100,000-row agent-settings workbook next to a plain ``pandas.read_excel``.

    .venv/bin/python bench/bench_validate.py [--rows 100000] [--repeat 3]

Two cases, each measured in its own child process (so peak memory is its own), median of ``--repeat``:

* all rows valid: ``validate_file`` (read, coerce, pandera schema, records), no write-back;
* 1% of rows invalid: the same, plus the Errors sheet and the cell marks written back into a copy;

each next to ``pandas.read_excel(path, engine="openpyxl")`` of the same file in the same run. Targets
(issue 2): all valid at most 0.25x the plain read; 1% invalid with write-back at most 1.0x; peak memory
under 400 MB. The CLI's wall time (interpreter and imports included) is reported as well.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
ROOT = Path(__file__).resolve().parents[1]
HEADERS = ["id", "userId", "callType", "callerPresent", "callNumber", "callNumberDefault", "callerPresentDefault"]


def make_workbook(path: Path, rows: int, bad_every: int | None) -> None:
    """A filled-in template as Excel would save it: IDs as text; every ``bad_every``-th row broken."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("agent-settings")
    ws.write_row(0, 0, HEADERS)
    for i in range(1, rows + 1):
        row = [f"{1307145259662215169 + i}", f"{1660270845627002401 + i}", str(i % 3),
               f"0755{i % 10000:04d},0755{(i * 7) % 10000:04d}", f"138{i:08d}", f"139{i:08d}", f"0755{i % 5000}"]
        if bad_every and i % bad_every == 0:
            row[2] = "7"  # callType out of its set
            row[4] = "1,2,3,4,5,6"  # six numbers
        ws.write_row(i, 0, row)
    wb.close()


def child(which: str, path: str) -> dict[str, float]:
    """In a child process: run ``which`` once on ``path``; seconds (after imports) and max RSS."""
    import resource

    if which == "pandas":
        import pandas as pd

        start = time.perf_counter()
        n = len(pd.read_excel(path, engine="openpyxl"))
    else:
        from batchops.checking.validation import validate_file
        from batchops.reports.error_report import write_error_report

        start = time.perf_counter()
        report = validate_file(path, timezone="UTC")
        n = len(report.records)
        if which == "validate+write":
            write_error_report(report)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": n, "rss_mb": rss_mb}


def measure(which: str, path: Path, repeat: int, fresh_copy: bool = False) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        target = path
        if fresh_copy:  # write-back changes the file: measure on an untouched copy each time
            target = path.with_name(path.stem + ".copy.xlsx")
            shutil.copyfile(path, target)
        proc = subprocess.run([sys.executable, __file__, "--child", which, str(target)], capture_output=True,
                              text=True, check=True, cwd=ROOT)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs), "rss_mb": max(r["rss_mb"] for r in runs),
            "rows": runs[0]["rows"]}


def cli_wall(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "batchops", "validate", str(path), "--no-write", "--timezone", "UTC"],
                   capture_output=True, check=False, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    valid = OUT / f"validate-valid-{args.rows}.xlsx"
    flawed = OUT / f"validate-flawed-{args.rows}.xlsx"
    if not valid.exists():
        make_workbook(valid, args.rows, None)
    if not flawed.exists():
        make_workbook(flawed, args.rows, 100)
    plain = measure("pandas", valid, args.repeat)
    ours = measure("validate", valid, args.repeat)
    plain_flawed = measure("pandas", flawed, args.repeat)
    ours_flawed = measure("validate+write", flawed, args.repeat, fresh_copy=True)
    wall = cli_wall(valid)
    from importlib.metadata import version

    ratio_valid = ours["seconds"] / plain["seconds"]
    ratio_flawed = ours_flawed["seconds"] / plain_flawed["seconds"]
    lines = [
        "## validate: 100,000-row agent-settings workbook (issue 2)",
        "",
        (f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}, "
         f"pandas {version('pandas')}, pandera {version('pandera')}, python-calamine {version('python-calamine')}. "
         f"Median of {args.repeat} runs, each in its own process, seconds after imports."),
        "",
        "| case | batchops | pandas.read_excel(openpyxl) | ratio | target | peak RSS |",
        "|---|---|---|---|---|---|",
        (f"| {args.rows:,} rows, all valid | {ours['seconds']:.2f} s | {plain['seconds']:.2f} s | {ratio_valid:.3f} | "
         f"<= 0.25 | {ours['rss_mb']:.0f} MB (pandas {plain['rss_mb']:.0f} MB) |"),
        (f"| {args.rows:,} rows, 1% invalid, Errors sheet + marks written back | {ours_flawed['seconds']:.2f} s | "
         f"{plain_flawed['seconds']:.2f} s | {ratio_flawed:.3f} | <= 1.0 | {ours_flawed['rss_mb']:.0f} MB |"),
        "",
        f"`batchops validate --no-write` wall time from the shell, interpreter and imports included: {wall:.2f} s.",
        "",
        "Command: `.venv/bin/python bench/bench_validate.py`",
        "",
    ]
    text = "\n".join(lines)
    (Path(__file__).parent / "RESULTS.validate.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
