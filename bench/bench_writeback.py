"""Time writing reports back into a 100,000-row workbook next to openpyxl's load-and-save of it.

    .venv/bin/python bench/bench_writeback.py [--rows 100000] [--repeat 3] [--check-repeat 9] [--export-rows 60000]

Steps, each in its own child process so that its peak memory (max RSS) is its own:

* ``openpyxl``: ``load_workbook`` + ``save`` of the workbook (the baseline of issue 4).
* ``read_excel``: ``pandas.read_excel(path, engine="openpyxl")`` (the baseline of issue 2's validate).
* ``results``: a Results sheet of one row per data row written into the workbook and checked before it
  replaces the file (what ``writeback.add_sheet`` does); ``results_unchecked``: the same save without
  the check, run in alternation with it, so that the check's cost is their ratio (issue 11: <= +15%).
* ``errors`` / ``errors_unchecked``: an Errors sheet of 1% of the rows with links, plus highlight and
  comment on each of those cells, in one save (``writeback.write_report``), with and without the check
  (which here reads the marked data sheet back cell for cell from both files).
* ``import``: importing what the check uses (openpyxl, python-calamine), paid once per process.
* ``export`` / ``to_excel``: 60,000 agents written by ``write_xlsx`` next to
  ``DataFrame.to_excel(engine="openpyxl")`` (issue 5).

Targets: results <= 0.2x openpyxl, the check <= +15% of it; errors well inside validate's 1.0x of
read_excel; export <= 0.4x to_excel with peak memory < 200 MB. Results go to stdout and
bench/RESULTS.writeback.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
RESULTS = Path(__file__).parent / "RESULTS.writeback.md"
HEADERS = [
    "id",
    "userId",
    "callType",
    "callerPresent",
    "callNumber",
    "callNumberDefault",
    "callerPresentDefault",
]
RESULT_HEADERS = ["row", "key", "status", "http_status", "code", "message", "attempts", "finished_at"]


def make_workbook(path: Path, rows: int) -> None:
    """The data workbook: text IDs and phone numbers, one number column, written by xlsxwriter."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, HEADERS)
    for i in range(1, rows + 1):
        ws.write_row(
            i,
            0,
            [
                f"{100000 + i}",
                f"1307145259{i:09d}",
                i % 3,
                f"{i % 1000},{(i * 7) % 1000}",
                f"138{i:08d}",
                f"0139{i:08d}",
                f"{i % 500}",
            ],
        )
    wb.add_worksheet("Lists").write_row(0, 0, ["0", "1", "2"])
    wb.close()


def _step(which: str, path: str, rows: int, export_rows: int) -> dict[str, float]:
    """In a child process: run one step once on a fresh copy; seconds and max RSS."""
    tmp = Path(tempfile.mkdtemp())
    work = tmp / "book.xlsx"
    shutil.copy(path, work)
    start = time.perf_counter()
    if which == "openpyxl":
        import openpyxl

        openpyxl.load_workbook(work).save(tmp / "saved.xlsx")
    elif which == "read_excel":
        import pandas as pd

        pd.read_excel(work, engine="openpyxl")
    elif which in ("results", "results_unchecked"):
        _warm_check_imports()
        from batchops.sheets.xlsx_package import Package, put_report_sheet

        results = (
            [i + 2, f"{100001 + i}", "ok", 200, "0", "Success", 1, "2025-01-01 10:00:00"] for i in range(rows)
        )
        start = time.perf_counter()
        with Package(work) as package:  # what writeback.add_sheet does, with the check on or off
            put_report_sheet(package, "Results", RESULT_HEADERS, results, row_count=rows)
            package.save(verify=which == "results")
    elif which in ("errors", "errors_unchecked"):
        _warm_check_imports()
        from batchops.sheets.marks import CellMark, apply_marks
        from batchops.sheets.xlsx_package import Link, Package, put_report_sheet

        bad = range(2, rows + 2, 100)
        errors = [
            [
                r,
                "B",
                Link(f"B{r}", "Data", f"B{r}"),
                f"1307145259{r:09d}",
                "id_too_long",
                "userId must be at most 15 digits",
            ]
            for r in bad
        ]
        marks = [CellMark(r, 1, "userId must be at most 15 digits") for r in bad]
        start = time.perf_counter()
        with Package(work) as package:  # what writeback.write_report does, with the check on or off
            apply_marks(package, "Data", marks)
            put_report_sheet(package, "Errors", ["row", "column", "cell", "value", "code", "message"], errors)
            package.save(verify=which == "errors")
    elif which == "import":
        start = time.perf_counter()
        _warm_check_imports()
    elif which in ("export", "to_excel"):
        agents = [[f"{10000 + i}", f"sip{i:09d}", f"0{i:010d}", "*****"] for i in range(export_rows)]
        names = ["workNo", "sipAccount", "accountCode", "sipPwd"]
        if which == "export":
            from batchops.sheets.writer import SheetSpec, info_sheet, write_xlsx

            start = time.perf_counter()
            write_xlsx(
                tmp / "agents.xlsx",
                [SheetSpec("Agents", names, agents), info_sheet({"sipServer": "10.0.0.1:5060"})],
            )
        else:
            import pandas as pd

            frame = pd.DataFrame(agents, columns=names)
            start = time.perf_counter()
            frame.to_excel(tmp / "agents.xlsx", engine="openpyxl", index=False)
    seconds = time.perf_counter() - start
    if which.startswith(("results", "errors")):
        import openpyxl  # the result must still open

        wb = openpyxl.load_workbook(work, read_only=True)
        assert wb.sheetnames[:2] == ["Data", "Lists"], wb.sheetnames
        wb.close()
    shutil.rmtree(tmp)
    return {"seconds": seconds, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _warm_check_imports() -> None:
    """The libraries the check before replacing uses, imported before the clock starts: a run pays for
    them once per process (the ``import`` step measures that), not once per write."""
    import openpyxl.reader.excel  # noqa: F401
    import python_calamine  # noqa: F401


def _child(which: str, path: Path, rows: int, export_rows: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path), "--rows", str(rows), "--export-rows",
         str(export_rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def measure(which: str, path: Path, repeat: int, rows: int, export_rows: int) -> dict[str, float]:
    """Median seconds and highest max RSS over ``repeat`` child processes."""
    runs = [_child(which, path, rows, export_rows) for _ in range(repeat)]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "max_rss_mib": max(r["max_rss_mib"] for r in runs),
        "runs": repeat,
    }


def measure_pair(checked: str, unchecked: str, path: Path, repeat: int, rows: int) -> dict[str, dict[str, float]]:
    """A step with and without the check before replacing, run in alternation (so that a busy moment on a
    shared machine falls on both alike): median seconds, and the median of the per-pair ratios."""
    pairs = [(_child(checked, path, rows, 0), _child(unchecked, path, rows, 0)) for _ in range(repeat)]
    return {
        checked: {"seconds": statistics.median(a["seconds"] for a, _ in pairs),
                  "max_rss_mib": max(a["max_rss_mib"] for a, _ in pairs)},
        unchecked: {"seconds": statistics.median(b["seconds"] for _, b in pairs),
                    "max_rss_mib": max(b["max_rss_mib"] for _, b in pairs)},
        "ratio": {"seconds": statistics.median(a["seconds"] / b["seconds"] for a, b in pairs)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--export-rows", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check-repeat", type=int, default=9,
                        help="pairs of runs with and without the check (its cost is a few per cent: noise needs many)")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_step(args.child[0], args.child[1], args.rows, args.export_rows)))
        return

    path = OUT / f"writeback_{args.rows}.xlsx"
    if not path.exists():
        make_workbook(path, args.rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    r = {
        name: measure(
            name,
            path,
            1 if name in ("openpyxl", "read_excel", "to_excel") else args.repeat,
            args.rows,
            args.export_rows,
        )
        for name in ("openpyxl", "read_excel", "import", "to_excel", "export")
    }
    results = measure_pair("results", "results_unchecked", path, args.check_repeat, args.rows)
    errors = measure_pair("errors", "errors_unchecked", path, args.check_repeat, args.rows)
    r.update(results)
    r.update(errors)
    base, read, export = r["openpyxl"]["seconds"], r["read_excel"]["seconds"], r["to_excel"]["seconds"]
    results_ratio, errors_ratio = results["ratio"]["seconds"], errors["ratio"]["seconds"]
    lines = [
        "# Write-back bench",
        "",
        (f"`.venv/bin/python bench/bench_writeback.py --rows {args.rows} --repeat {args.repeat} "
         f"--check-repeat {args.check_repeat} --export-rows {args.export_rows}`"),
        "",
        (f"Machine: {platform.machine()}, Python {platform.python_version()}, "
         f"{path.stat().st_size / 1e6:.1f} MB workbook of {args.rows:,} rows x 7 columns (+ a Lists sheet). "
         "Seconds are the median of the runs; memory is the child process's max RSS (interpreter and "
         f"imports included). Load average before the runs: {load}."),
        "",
        "| step | runs | seconds | ratio | target | peak RSS MiB |",
        "|---|---|---|---|---|---|",
        f"| openpyxl load + save (baseline) | 1 | {base:.2f} | 1.00x openpyxl | | {r['openpyxl']['max_rss_mib']:.0f} |",
        (f"| pandas.read_excel openpyxl (baseline) | 1 | {read:.2f} | {read / base:.2f}x openpyxl | | "
         f"{r['read_excel']['max_rss_mib']:.0f} |"),
        (f"| Results sheet, {args.rows:,} rows, written back and checked | {args.check_repeat} | "
         f"{r['results']['seconds']:.2f} | {r['results']['seconds'] / base:.3f}x openpyxl | <= 0.2x | "
         f"{r['results']['max_rss_mib']:.0f} |"),
        (f"| the same without the check before replacing | {args.check_repeat} | "
         f"{r['results_unchecked']['seconds']:.2f} | check adds {results_ratio - 1:+.1%} | <= +15% | "
         f"{r['results_unchecked']['max_rss_mib']:.0f} |"),
        (f"| Errors sheet + {len(range(0, args.rows, 100)):,} marks, one save, checked (the data sheet read back "
         f"cell for cell) | {args.check_repeat} | {r['errors']['seconds']:.2f} | "
         f"{r['errors']['seconds'] / read:.3f}x read_excel | part of validate's <= 1.0x | "
         f"{r['errors']['max_rss_mib']:.0f} |"),
        (f"| the same without the check | {args.check_repeat} | {r['errors_unchecked']['seconds']:.2f} | "
         f"check adds {errors_ratio - 1:+.1%} | | {r['errors_unchecked']['max_rss_mib']:.0f} |"),
        (f"| importing openpyxl and python-calamine for the check, once per process | {args.repeat} | "
         f"{r['import']['seconds']:.2f} | | | |"),
        (f"| DataFrame.to_excel openpyxl, {args.export_rows:,} agents (baseline) | 1 | {export:.2f} | 1.00x | | "
         f"{r['to_excel']['max_rss_mib']:.0f} |"),
        (f"| write_xlsx, {args.export_rows:,} agents | {args.repeat} | {r['export']['seconds']:.2f} | "
         f"{r['export']['seconds'] / export:.3f}x to_excel | <= 0.4x, < 200 MB | {r['export']['max_rss_mib']:.0f} |"),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
