"""How fast the command line starts, next to the import of its two user-interface libraries (issue 12).

    .venv/bin/python bench/bench_startup.py [--repeat 15]

Each figure is the median wall time of ``--repeat`` fresh processes, the commands interleaved so that the
machine's load falls on all of them alike. Target: ``batchops --help``, ``batchops version`` and
``batchops sandbox --help`` each <= 3 x ``python -c "import click, rich.progress"``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import click, rich.progress"]
COMMANDS = {
    "batchops --help": [sys.executable, "-m", "batchops", "--help"],
    "batchops version": [sys.executable, "-m", "batchops", "version"],
    "batchops sandbox --help": [sys.executable, "-m", "batchops", "sandbox", "--help"],
    "batchops validate --help (reads sheets: loads pandas)": [sys.executable, "-m", "batchops", "validate", "--help"],
}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {"baseline": [], **{name: [] for name in COMMANDS}}
    for cmd in [BASELINE, *COMMANDS.values()]:
        wall(cmd)  # warm the file cache
    for _ in range(args.repeat):
        times["baseline"].append(wall(BASELINE))
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    base = statistics.median(times["baseline"])
    rows = [f"| `python -c \"import click, rich.progress\"` | {base * 1000:,.0f} | 1.0 x | |"]
    for name in COMMANDS:
        median = statistics.median(times[name])
        target = "<= 3 x" if "validate" not in name else "(no target)"
        rows.append(f"| `{name}` | {median * 1000:,.0f} | {median / base:.1f} x | {target} |")
    text = "\n".join([
        "## Command-line start-up (issue 12)",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
         f"Load average before: {load_before:.2f}. Median of {args.repeat} fresh processes each, interleaved."),
        "",
        "| command | ms | x the import of click and rich.progress | target |",
        "|---|---:|---:|---|",
        *rows,
        "",
        "Only the commands that read sheets import pandas and pandera (tests/test_cli_startup.py keeps it so).",
        "",
        f"Command: `.venv/bin/python bench/bench_startup.py --repeat {args.repeat}`",
        "",
    ])
    (Path(__file__).parent / "RESULTS.startup.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
