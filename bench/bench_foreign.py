"""Time and memory of batchops on the 144 foreign workbooks, each run as its own `batchops` process.

    .venv/bin/python bench/bench_foreign.py [--parallel 2] [--files N]

For every file of ../shared/foreign-workbooks, on a copy, as the test suite's folder test does and as a
user or a scheduler would run them: ``batchops validate FILE`` (writing its report back),
``batchops validate FILE --operation agent-settings`` and ``batchops apply FILE --dry-run --yes
--operation agent-settings`` against a server nobody listens on. Each run is a fresh process, so its
seconds include the interpreter and the imports, and its peak memory (max RSS, from ``os.wait4``) is
its own. ``--parallel`` processes run at a time (the machine has two cores).

Claims (issue 11): each run under 10 s and 500 MB; the folder test's own cost (warm workers, one child
forked per run) is given by `make test`'s durations, not here. Results go to stdout and
bench/RESULTS.foreign.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "RESULTS.foreign.md"
FOREIGN = HERE.resolve().parent.parent / "shared" / "foreign-workbooks"
BATCHOPS = Path(sys.executable).parent / "batchops"
RUNS = {
    "validate": ["validate", "{file}"],
    "validate --operation": ["validate", "{file}", "--operation", "agent-settings"],
    "apply --dry-run": ["apply", "{file}", "--dry-run", "--yes", "--operation", "agent-settings"],
}


def run_one(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """One `batchops` process: exit code, wall seconds, CPU seconds and max RSS (MiB) of that process."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(BATCHOPS), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"exit": proc.returncode, "wall": time.perf_counter() - started,
            "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--files", type=int, default=0, help="only the first N files (0: all)")
    args = parser.parse_args()
    if not FOREIGN.is_dir():
        sys.exit(f"{FOREIGN} is absent: nothing to measure")
    names = sorted(p.name for p in FOREIGN.iterdir() if p.name not in ("README.md", "SOURCES.tsv"))
    names = names[: args.files] if args.files else names
    work = Path(tempfile.mkdtemp(prefix="bench-foreign-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHOPS_")}
    env.update(XDG_DATA_HOME=str(work / "data"), XDG_CONFIG_HOME=str(work / "config"),
               BATCHOPS_JOURNAL=str(work / "journal.sqlite3"), BATCHOPS_BASE_URL="http://127.0.0.1:9",
               BATCHOPS_APP_KEY="key", BATCHOPS_APP_SECRET="secret", BATCHOPS_ISALES_URL="http://127.0.0.1:9",
               BATCHOPS_ISALES_AK="ak", BATCHOPS_ISALES_SK="sk", BATCHOPS_USER_ID="1", BATCHOPS_TIMEOUT="2")
    for name in names:
        shutil.copyfile(FOREIGN / name, work / name)
        os.chmod(work / name, 0o644)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    results: list[tuple[str, str, dict[str, float]]] = []
    lock = threading.Lock()
    queue = list(names)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                name = queue.pop(0)
            for label, template in RUNS.items():  # one file's runs in order: they share its copy
                found = run_one([a.format(file=work / name) for a in template], env)
                with lock:
                    results.append((name, label, found))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - started
    shutil.rmtree(work)

    walls = [r["wall"] for _, _, r in results]
    rss = [r["rss_mib"] for _, _, r in results]
    cpu = [r["cpu"] for _, _, r in results]
    exits = sorted({int(r["exit"]) for _, _, r in results})
    slowest = sorted(results, key=lambda x: -x[2]["wall"])[:5]
    p95 = statistics.quantiles(walls, n=20)[-1] if len(walls) >= 20 else max(walls)
    lines = [
        "# Foreign workbooks bench",
        "",
        f"`.venv/bin/python bench/bench_foreign.py --parallel {args.parallel}"
        + (f" --files {args.files}`" if args.files else "`"),
        "",
        (f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
         f"load average before the runs: {load}. {len(names)} files x {len(RUNS)} runs = {len(results)} "
         f"`batchops` processes, {args.parallel} at a time, each timed and measured on its own (interpreter "
         "and imports included)."),
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| whole folder, wall | {total:.1f} s | |",
        (f"| one run, wall: median / 95th percentile / max | {statistics.median(walls):.2f} / {p95:.2f} / "
        f"{max(walls):.2f} s | < 10 s each |"),
        f"| one run, CPU: median / max | {statistics.median(cpu):.2f} / {max(cpu):.2f} s | |",
        f"| one run, peak RSS: median / max | {statistics.median(rss):.0f} / {max(rss):.0f} MiB | < 500 MB each |",
        f"| exit codes seen | {', '.join(map(str, exits))} | 0 or 2 (3: a dry run that connected) |",
        "",
        "Slowest runs: " + "; ".join(f"{n} {label} {r['wall']:.2f} s, {r['rss_mib']:.0f} MiB"
                                     for n, label, r in slowest) + ".",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
