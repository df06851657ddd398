"""Run every benchmark and rewrite bench/RESULTS.md from their fragments.

    make bench                      # or: .venv/bin/python bench/run_all.py [--only NAME ...] [--quick]

Each script measures one claim next to its comparison in the same run and writes its own fragment
(``bench/RESULTS.<name>.md``); this runs them one after another (never two at once: they share the two
CPUs) and joins the fragments, with the machine and the versions, into ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).parent

# name, script arguments (full run), arguments for --quick, the fragment it writes
BENCHES: list[tuple[str, list[str], list[str]]] = [
    ("reader", [], ["--rows", "20000", "--repeat", "1"]),
    ("validate", [], ["--rows", "20000", "--repeat", "1"]),
    ("writeback", [], ["--rows", "20000", "--export-rows", "10000", "--repeat", "1", "--check-repeat", "3"]),
    ("foreign", [], ["--files", "20"]),
    ("sandbox", [], ["--requests", "2000", "--repeat", "1"]),
    ("dispatch", ["--write", str(HERE / "RESULTS.dispatch.md")],
     ["--calls", "1000", "--repeat", "1", "--quick", "--write", str(HERE / "RESULTS.dispatch.md")]),
    ("apply", [], ["--rows", "1000", "--memory-rows", "10000", "--sequential-calls", "50", "--repeat", "1"]),
    ("before", ["--write", str(HERE / "RESULTS.before.md")],
     ["--rows", "500", "--repeat", "1", "--write", str(HERE / "RESULTS.before.md")]),
    ("export", [], ["--agents", "10000", "--repeat", "1"]),
    ("journal", [], ["--rows", "1000", "--repeat", "1", "--plan-rows", "10000"]),
    ("serve", [], ["--rows", "20000", "--apply-rows", "1000", "--repeat", "1"]),
    ("limiter", [], ["--scale", "0.2"]),
    ("startup", [], ["--repeat", "3"]),
    ("ranges", [], ["--cells", "10000", "--repeat", "1"]),
    ("preview", [], ["--rows", "300"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these (e.g. apply export)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the scripts run")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b[0] in args.only]
    timings: dict[str, str] = _earlier_timings(HERE / "RESULTS.md")
    for name, full, quick in chosen:
        script = HERE / f"bench_{name}.py"
        started = time.monotonic()
        print(f"== {script.name} {' '.join(quick if args.quick else full)}", flush=True)
        fragment = HERE / f"RESULTS.{name}.md"
        before = fragment.stat().st_mtime if fragment.exists() else None
        proc = subprocess.run([sys.executable, str(script), *(quick if args.quick else full)], cwd=HERE.parent,
                              stdout=subprocess.PIPE, text=True, check=False)
        print(proc.stdout, end="", flush=True)
        took = time.monotonic() - started
        written = fragment.exists() and fragment.stat().st_mtime != before
        if proc.returncode == 0 and not written:  # a script that only prints: its output is its fragment
            fragment.write_text(f"## {name}\n\nCommand: `.venv/bin/python bench/{script.name}`\n\n```\n"
                                f"{proc.stdout.strip()}\n```\n", encoding="utf-8")
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        timings[name] = f"| {name} | {status} on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC | {took:.0f} s |"
    sections = []
    for name, _, _ in BENCHES:
        fragment = HERE / f"RESULTS.{name}.md"
        if fragment.exists():
            text = fragment.read_text(encoding="utf-8").strip()
            if not text.startswith("#"):
                text = f"## {name}\n\n{text}"
            sections.append(text.replace("\n# ", "\n## ").replace("# ", "## ", 1) if text.startswith("# ") else text)
    versions = ", ".join(f"{p} {version(p)}" for p in ("pandas", "pandera", "python-calamine", "openpyxl",
                                                      "xlsxwriter", "httpx", "aiohttp",
                                                      "uvicorn"))
    header = [
        "# Benchmark results",
        "",
        (f"Written by `bench/run_all.py`{' --quick' if args.quick else ''} on "
         f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
         f"{platform.system()} {platform.release()}, Python {platform.python_version()}. Versions: {versions}."),
        "",
        "Each section below is one script's latest fragment (`bench/RESULTS.<name>.md`); the figures in a",
        "section were measured in the same run as their comparison. Command: `make bench`.",
        "",
        "| script | last run | time |",
        "|---|---|---|",
        *(timings[name] for name, _, _ in BENCHES if name in timings),
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(header) + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}")


def _earlier_timings(results: Path) -> dict[str, str]:
    """The timing rows of the previous RESULTS.md, so that ``--only`` keeps the others' rows."""
    if not results.exists():
        return {}
    rows = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (\w+) \| (ok|exit)", line)
        if match and match.group(1) in {name for name, _, _ in BENCHES}:
            rows[match.group(1)] = line
    return rows


if __name__ == "__main__":
    main()
