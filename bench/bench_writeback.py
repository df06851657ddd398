"""Time writing reports back into a 100,000-row workbook next to openpyxl's load-and-save of it.

    .venv/bin/python bench/bench_writeback.py [--rows 100000] [--repeat 3] [--export-rows 60000]

Steps, each in its own child process so that its peak memory (max RSS) is its own:

* ``openpyxl``: ``load_workbook`` + ``save`` of the workbook (the baseline of issue 4).
* ``read_excel``: ``pandas.read_excel(path, engine="openpyxl")`` (the baseline of issue 2's validate).
* ``results``: a Results sheet of one row per data row written into the workbook (``add_sheet``).
* ``errors``: an Errors sheet of 1% of the rows with links, plus highlight and comment on each of
  those cells (``write_report``: one save).
* ``export`` / ``to_excel``: 60,000 agents written by ``write_xlsx`` next to
  ``DataFrame.to_excel(engine="openpyxl")`` (issue 5).

Targets: results <= 0.2x openpyxl; errors well inside validate's 1.0x of read_excel; export <= 0.4x
to_excel with peak memory < 200 MB. Results go to stdout and bench/RESULTS.writeback.md.
"""

from __future__ import annotations

import argparse
import json
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
    elif which == "results":
        from batchops.sheets.writeback import add_sheet

        results = (
            [i + 2, f"{100001 + i}", "ok", 200, "0", "Success", 1, "2025-01-01 10:00:00"] for i in range(rows)
        )
        start = time.perf_counter()
        add_sheet(work, "Results", RESULT_HEADERS, results)
    elif which == "errors":
        from batchops.sheets.marks import CellMark
        from batchops.sheets.writeback import write_report
        from batchops.sheets.xlsx_package import Link

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
        write_report(
            work,
            sheet_name="Errors",
            headers=["row", "column", "cell", "value", "code", "message"],
            rows=errors,
            marks_on="Data",
            marks=marks,
        )
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
    if which in ("results", "errors"):
        import openpyxl  # the result must still open

        wb = openpyxl.load_workbook(work, read_only=True)
        assert wb.sheetnames[:2] == ["Data", "Lists"], wb.sheetnames
        wb.close()
    shutil.rmtree(tmp)
    return {"seconds": seconds, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(which: str, path: Path, repeat: int, rows: int, export_rows: int) -> dict[str, float]:
    """Median seconds and highest max RSS over ``repeat`` child processes."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                which,
                str(path),
                "--rows",
                str(rows),
                "--export-rows",
                str(export_rows),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "max_rss_mib": max(r["max_rss_mib"] for r in runs),
        "runs": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--export-rows", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_step(args.child[0], args.child[1], args.rows, args.export_rows)))
        return

    path = OUT / f"writeback_{args.rows}.xlsx"
    if not path.exists():
        make_workbook(path, args.rows)
    r = {
        name: measure(
            name,
            path,
            1 if name in ("openpyxl", "read_excel", "to_excel") else args.repeat,
            args.rows,
            args.export_rows,
        )
        for name in ("openpyxl", "read_excel", "results", "errors", "to_excel", "export")
    }
    base, read, export = r["openpyxl"]["seconds"], r["read_excel"]["seconds"], r["to_excel"]["seconds"]
    lines = [
        "# Write-back bench",
        "",
        (f"`.venv/bin/python bench/bench_writeback.py --rows {args.rows} --repeat {args.repeat} "
         f"--export-rows {args.export_rows}`"),
        "",
        (f"Machine: {platform.machine()}, Python {platform.python_version()}, "
         f"{path.stat().st_size / 1e6:.1f} MB workbook of {args.rows:,} rows x 7 columns (+ a Lists sheet). "
         "Seconds are the median of the runs; memory is the child process's max RSS (interpreter and "
         "imports included)."),
        "",
        "| step | runs | seconds | ratio | target | peak RSS MiB |",
        "|---|---|---|---|---|---|",
        f"| openpyxl load + save (baseline) | 1 | {base:.2f} | 1.00x openpyxl | | {r['openpyxl']['max_rss_mib']:.0f} |",
        (f"| pandas.read_excel openpyxl (baseline) | 1 | {read:.2f} | {read / base:.2f}x openpyxl | | "
         f"{r['read_excel']['max_rss_mib']:.0f} |"),
        (f"| Results sheet, {args.rows:,} rows, written back | {args.repeat} | {r['results']['seconds']:.2f} | "
         f"{r['results']['seconds'] / base:.3f}x openpyxl | <= 0.2x | {r['results']['max_rss_mib']:.0f} |"),
        (f"| Errors sheet + {len(range(0, args.rows, 100)):,} marks, one save | {args.repeat} | "
         f"{r['errors']['seconds']:.2f} | {r['errors']['seconds'] / read:.3f}x read_excel | "
         f"part of validate's <= 1.0x | {r['errors']['max_rss_mib']:.0f} |"),
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
