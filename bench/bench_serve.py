"""Measure ``batchops serve``: a 100,000-row workbook checked through the page, and live progress of an apply.

    .venv/bin/python bench/bench_serve.py [--rows 100000] [--apply-rows 5000] [--repeat 3]

Claims (issue 14), each measured next to its comparison in the same run:

* a 100,000-row workbook (1% of rows invalid) uploaded and checked, the first page of errors answered
  (``POST /api/files`` then ``GET /api/files/{id}/errors``) within 1.5x the wall time of
  ``batchops validate`` on the same file (which also writes the Errors sheet back, as the page does);
  the Check page itself (errors and the first page of the data grid) timed too;
* the server's peak memory (VmHWM of the ``batchops serve`` process) at most 600 MB;
* at least 2 progress events a second on the run's event stream while 5,000 rows are applied against the
  sandbox on 127.0.0.1.

Each server is a fresh ``batchops serve`` process (its first upload pays its imports, as the CLI's run does).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_validate import make_workbook  # the same workbook as the validate benchmark

OUT = Path(__file__).parent / "out" / "serve"
LINK = re.compile(r"batchops serve: (http://127\.0\.0\.1:\d+)/\?token=(\S+)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Server:
    """A ``batchops serve`` process on a free port; its base URL, token and peak memory."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        full = {**os.environ, **(env or {}), "TMPDIR": str(OUT)}
        self.process = subprocess.Popen([sys.executable, "-m", "batchops", "serve", "--port", "0", "--no-browser",
                                         "--journal", str(OUT / "journal.sqlite3")],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=full)
        assert self.process.stdout is not None
        match = LINK.search(self.process.stdout.readline())
        assert match, "batchops serve printed no link"
        self.url, token = match.groups()
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=600)

    def peak_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def close(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)


def cli_validate(path: Path) -> float:
    """Wall time of ``batchops validate`` (interpreter, imports, read, check, Errors sheet written)."""
    copy = path.with_name("cli-copy.xlsx")
    shutil.copyfile(path, copy)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "batchops", "validate", str(copy)], capture_output=True, check=False)
    return time.perf_counter() - start


def page_check(path: Path, rows: int) -> dict[str, float]:
    """Upload and check through a fresh server: time to the first page of errors, to the Check page; memory."""
    server = Server()
    try:
        start = time.perf_counter()
        with path.open("rb") as fh:
            answer = server.client.post("/api/files", files={"file": (path.name, fh, XLSX)})
        assert answer.status_code == 201, answer.text
        file_id = answer.json()["id"]
        errors = server.client.get(f"/api/files/{file_id}/errors", params={"limit": 50}).json()
        first_page = time.perf_counter() - start
        assert errors["total"] > 0 and len(errors["errors"]) == 50
        page = server.client.get(f"/files/{file_id}")
        assert page.status_code == 200
        check_page = time.perf_counter() - start
        grid = server.client.get(f"/api/files/{file_id}/rows", params={"offset": rows - 50, "limit": 50}).json()
        assert len(grid["rows"]) == 50
        return {"first_page": first_page, "check_page": check_page, "peak_mb": server.peak_mb(),
                "errors": errors["total"]}
    finally:
        server.close()


def apply_events(rows: int) -> dict[str, Any]:
    """Apply ``rows`` rows against the sandbox through a server; progress events per second on the stream."""
    from batchops.sandbox import SandboxOptions, start_sandbox
    from batchops.sheets.writer import SheetSpec, write_xlsx

    with start_sandbox(SandboxOptions(agents=rows)) as sandbox:
        records = sorted(sandbox.agent_settings(), key=lambda s: s["id"])[:rows]
        path = OUT / "apply.xlsx"
        write_xlsx(path, [SheetSpec("agent-settings", ["id", "userId", "callType", "callNumber"],
                                    [[str(r["id"]), str(r["userId"]), "1", f"0755{i % 10000:04d}"]
                                     for i, r in enumerate(records)])])
        server = Server(sandbox.env())
        try:
            with path.open("rb") as fh:
                file_id = server.client.post("/api/files", files={"file": (path.name, fh, XLSX)}).json()["id"]
            started = time.perf_counter()
            run_id = server.client.post(f"/api/files/{file_id}/apply", json={"confirm": True}).json()["run_id"]
            stamps: list[float] = []
            end: dict[str, Any] = {}
            kind = None
            with server.client.stream("GET", f"/api/runs/{run_id}/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        if kind == "progress":
                            stamps.append(time.perf_counter())
                        if kind == "end":
                            end = json.loads(line[6:])
                            break
            seconds = time.perf_counter() - started
        finally:
            server.close()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {"seconds": seconds, "events": len(stamps), "per_second": len(stamps) / seconds,
            "longest_gap": max(gaps) if gaps else None, "ok": end.get("counts", {}).get("ok"),
            "rows_per_second": end.get("summary", {}).get("rows_per_second")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--apply-rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    load_start = os.getloadavg()[0]
    workbook = OUT / "agents.xlsx"
    make_workbook(workbook, args.rows, bad_every=100)
    cli, web = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine
        cli.append(cli_validate(workbook))
        web.append(page_check(workbook, args.rows))
    applied = apply_events(args.apply_rows)
    load_end = os.getloadavg()[0]

    cli_s = statistics.median(cli)
    first = statistics.median(w["first_page"] for w in web)
    check = statistics.median(w["check_page"] for w in web)
    peak = max(w["peak_mb"] for w in web)
    ratio = first / cli_s
    text = f"""## serve: the page's check of a {args.rows:,}-row workbook, and live progress (issue 14)

Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()};
load average {load_start:.2f} at the start, {load_end:.2f} at the end (2 cores shared). Median of {args.repeat}
runs; each server a fresh `batchops serve` process, each CLI run a fresh `batchops validate`.

| case | page | `batchops validate` | ratio | target |
|---|---|---|---|---|
| {args.rows:,} rows, 1% invalid: upload, check, Errors sheet written, first 50 errors answered | {first:.2f} s | {cli_s:.2f} s | {ratio:.2f} | <= 1.5 |
| the same, then the Check page (errors and the first page of the data grid) rendered | {check:.2f} s | | {check / cli_s:.2f} | |

Server peak memory (VmHWM of the `batchops serve` process) after the upload, the check, the Check page and a
grid page at the last rows: **{peak:.0f} MB** (target <= 600 MB). Runs: page {", ".join(f"{w['first_page']:.2f}" for w in web)} s;
CLI {", ".join(f"{c:.2f}" for c in cli)} s.

Apply of {args.apply_rows:,} rows against the sandbox on 127.0.0.1, followed on `/api/runs/{{id}}/events`:
**{applied['per_second']:.1f} progress events a second** ({applied['events']} in {applied['seconds']:.2f} s,
longest gap {applied['longest_gap'] or 0:.2f} s; target >= 2), {applied['ok']} rows ok,
{applied['rows_per_second']} rows/s while sending.

Command: `.venv/bin/python bench/bench_serve.py`
"""
    (Path(__file__).parent / "RESULTS.serve.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
