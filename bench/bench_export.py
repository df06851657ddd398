"""Time ``batchops export agents`` of 60,000 agents next to ``DataFrame.to_excel(engine="openpyxl")``, and
the walk that exports every agent's agent settings.

    .venv/bin/python bench/bench_export.py [--agents 60000] [--repeat 3] [--walk-agents 5000]

The sandbox runs in this process (``start_sandbox(SandboxOptions(agents=N))``, loopback). Each measured
step runs in its own child process, so that its peak memory (max RSS) is its own:

* ``export``: :func:`batchops.reports.export.export` of ``agents`` to xlsx, timed end to end: the queryAgentInfo
  call over HTTP, conversion, and the streaming xlsx write (every cell Text, formulas neutralised,
  the package generated directly by ``batchops/sheets/xlsx_book.py``).
* ``to_excel``: the same rows (workNo, sipAccount, accountCode, sipPwd masked) as a pandas DataFrame,
  built before the clock starts; only ``to_excel(engine="openpyxl")`` is timed.

* ``walk``: ``export agent-settings`` with no user list, end to end, against a sandbox of ``--walk-agents``
  agents: one querySysInfo read, then one agentsettings/query per agent (a few in flight at once), the
  agentName check, the xlsx write with the Context and Unmatched sheets. No other tool does this walk, so
  there is no comparison: the figure says how long a user waits per thousand agents.

Target (issue 5): export at most 0.4x of to_excel, export peak memory under 200 MB.
Results go to stdout and bench/RESULTS.export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.export.md"
TARGET_RATIO = 0.4
TARGET_MB = 200.0


def _max_rss_mb() -> float:
    """Peak RSS of this process. Linux: VmHWM, because ru_maxrss carries the parent's peak over fork+exec
    (here the parent holds the 60,000-agent sandbox)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _child(which: str, out: str) -> dict[str, float]:
    """In a child process: one step, once; seconds, rows and peak RSS (the env holds the sandbox's settings)."""
    from batchops.http.client import Client
    from batchops.settings import load_settings

    if which == "export":
        # export(client, "agents", out) is exactly read_agent_info + export_agents; timed in two parts.
        from batchops.remote.agentinfo import read_agent_info
        from batchops.reports.export import export_agents

        baseline = _max_rss_mb()
        with Client(load_settings()) as client:
            client.require("c1")
            start, cpu = time.perf_counter(), time.process_time()
            info = read_agent_info(client)
            read_s, read_cpu = time.perf_counter() - start, time.process_time() - cpu
            result = export_agents(info, out, source=client.settings.base_url or "")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "write_seconds": seconds - read_s, "write_cpu": cpu - read_cpu,
                "rows": result.rows, "rss_mb": _max_rss_mb(), "rss_at_start_mb": baseline}
    if which == "walk":
        from batchops.reports.export import export

        with Client(load_settings()) as client:
            client.require("c1")
            start, cpu = time.perf_counter(), time.process_time()
            result = export(client, "agent-settings", out)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "rows": result.rows, "unmatched": len(result.unmatched),
                "rss_mb": _max_rss_mb()}
    if which == "to_excel":
        import pandas as pd

        from batchops.remote.agentinfo import read_agent_info
        from batchops.secrets import MASK

        with Client(load_settings()) as client:
            info = read_agent_info(client)
        frame = pd.DataFrame(
            [[a.work_no, a.sip_account, a.account_code, MASK if a.sip_pwd else None] for a in info.agents],
            columns=["workNo", "sipAccount", "accountCode", "sipPwd"],
        )
        start, cpu = time.perf_counter(), time.process_time()
        frame.to_excel(out, index=False, engine="openpyxl")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "rows": len(frame), "rss_mb": _max_rss_mb()}
    raise SystemExit(f"unknown step {which}")


def _run_step(which: str, env: dict[str, str], folder: Path, n: int) -> dict[str, float]:
    out = folder / f"{which}-{n}.xlsx"
    proc = subprocess.run([sys.executable, __file__, "--child", which, "--out", str(out)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed:\n{proc.stderr}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["bytes"] = out.stat().st_size
    return figures


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("batchops", "openpyxl", "pandas", "httpx")
    return {name: version(name) for name in names}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--walk-agents", type=int, default=5000)
    parser.add_argument("--child", choices=("export", "to_excel", "walk"))
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.out)))
        return

    from batchops.sandbox import SandboxOptions, start_sandbox

    runs: dict[str, list[dict[str, float]]] = {"export": [], "to_excel": [], "walk": []}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATCHOPS_")}
    with start_sandbox(SandboxOptions(agents=args.agents)) as sb, tempfile.TemporaryDirectory() as tmp:
        env = {**clean, **sb.env()}
        for n in range(args.repeat):
            for which in ("export", "to_excel"):  # interleaved, so both see the same machine load
                runs[which].append(_run_step(which, env, Path(tmp), n))
                print(which, n, runs[which][-1], flush=True)
    with start_sandbox(SandboxOptions(agents=args.walk_agents)) as sb, tempfile.TemporaryDirectory() as tmp:
        env = {**clean, **sb.env()}
        for n in range(args.repeat):
            runs["walk"].append(_run_step("walk", env, Path(tmp), n))
            print("walk", n, runs["walk"][-1], flush=True)
    walk_s = statistics.median(r["seconds"] for r in runs["walk"])
    walk_rows = int(runs["walk"][0]["rows"])
    walk_unmatched = int(runs["walk"][0]["unmatched"])

    def median(which: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[which])

    export_s, excel_s = median("export", "seconds"), median("to_excel", "seconds")
    ratio = export_s / excel_s
    cpu_ratio = median("export", "cpu") / median("to_excel", "cpu")
    write_ratio = median("export", "write_seconds") / excel_s
    write_cpu_ratio = median("export", "write_cpu") / median("to_excel", "cpu")
    load = os.getloadavg()[0]
    peak = max(r["rss_mb"] for r in runs["export"])
    rows = int(runs["export"][0]["rows"])
    verdict_time = "met" if ratio <= TARGET_RATIO else "MISSED"
    verdict_mem = "met" if peak < TARGET_MB else "MISSED"
    versions = ", ".join(f"{k} {v}" for k, v in _versions().items())
    text = f"""# Export bench: {rows:,} agents to xlsx

Command: `.venv/bin/python bench/bench_export.py --agents {args.agents} --repeat {args.repeat} --walk-agents {args.walk_agents}`

Machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}.
Versions: {versions}.

The sandbox (``--agents {args.agents}``, {rows:,} agents with a softphone) runs in the bench process on loopback;
each step runs in its own child process, medians of {args.repeat} interleaved runs.

| step | median wall s | runs (wall s) | median CPU s | peak RSS (MB) | file (KB) |
|---|---:|---|---:|---:|---:|
| `batchops export agents` (HTTP read + convert + streaming xlsx write) | {export_s:.2f} | {", ".join(f"{r['seconds']:.2f}" for r in runs["export"])} | {median("export", "cpu"):.2f} | {peak:.0f} | {runs["export"][0]["bytes"] / 1024:.0f} |
| of which the xlsx write (`export_agents`) | {median("export", "write_seconds"):.2f} | {", ".join(f"{r['write_seconds']:.2f}" for r in runs["export"])} | {median("export", "write_cpu"):.2f} | | |
| `DataFrame.to_excel(engine="openpyxl")` of the same rows (write only) | {excel_s:.2f} | {", ".join(f"{r['seconds']:.2f}" for r in runs["to_excel"])} | {median("to_excel", "cpu"):.2f} | {max(r["rss_mb"] for r in runs["to_excel"]):.0f} | {runs["to_excel"][0]["bytes"] / 1024:.0f} |

- Ratio export / to_excel, wall clock: **{ratio:.2f}x** (target at most {TARGET_RATIO}x: {verdict_time});
  CPU time of the child process: **{cpu_ratio:.2f}x** (the export's CPU excludes the sandbox serving it).
- Write only, like for like (a frame already built vs agents already read): **{write_ratio:.2f}x** wall,
  **{write_cpu_ratio:.2f}x** CPU.
- Load average at the end of the run: {load:.1f} on {os.cpu_count()} CPUs (other work shared the machine).
- Export peak memory (max RSS of its whole process, Python and imports included; {runs["export"][0]["rss_at_start_mb"]:.0f} MB
  after imports): **{peak:.0f} MB** (target under {TARGET_MB:.0f} MB: {verdict_mem}).
- The export is timed end to end, the HTTP call included; to_excel only writes a frame built before its
  clock started, so the comparison favours pandas.

## The walk: every agent's agent settings

Command as above (`--walk-agents {args.walk_agents}`): `export agent-settings` with no user list against a sandbox of
{args.walk_agents:,} agents, in a child process, median of {args.repeat} runs ({", ".join(f"{r['seconds']:.2f}" for r in runs["walk"])} s).

| step | median wall s | median CPU s | agents per second | records | unmatched | peak RSS (MB) |
|---|---:|---:|---:|---:|---:|---:|
| `batchops export agent-settings` (querySysInfo + one agentsettings/query per agent + xlsx) | {walk_s:.2f} | {statistics.median(r["cpu"] for r in runs["walk"]):.2f} | {args.walk_agents / walk_s:,.0f} | {walk_rows:,} | {walk_unmatched:,} | {max(r["rss_mb"] for r in runs["walk"]):.0f} |

One call per agent is what the API allows (agentsettings/query has no list form): against a real gateway
the time is about agents × round trip ÷ 8 (eight reads in flight), so 5,000 agents at 100 ms take about a
minute. The sandbox answers in microseconds, so these figures are batchops' own cost per agent.

Reading the figures: the machine is shared (see the load average), so wall-clock times swing by 2x from
run to run and pandas suffers more from it; CPU time is the steadier measure. The write generates the
xlsx package directly (`batchops/sheets/xlsx_book.py`: inline-string cells from `sheet_xml.py`, the
generator report sheets use too, deflated at level 1 as they stream); with xlsxwriter in constant-memory
mode the same write took 1.46 s CPU (0.41x end to end). The file is about a quarter larger than
xlsxwriter's (inline strings and fast deflate) until Excel saves it again; level 6 would make it 20%
smaller for 0.12 s more.
"""
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
