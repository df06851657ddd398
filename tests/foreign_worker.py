"""A warm worker for the foreign-workbook test: runs batchops' CLI in a forked child per job.

Started as ``python foreign_worker.py``; it imports batchops' CLI and the libraries a run loads (pandas,
pandera, openpyxl, python-calamine) once, then reads one JSON job a line from stdin and answers one
JSON line on stdout. Each job runs in a child forked from this warm, single-threaded process, so it
costs milliseconds to start instead of a second, and the child's own resource usage is its job's:
peak memory (max RSS, the interpreter and imports included, as a separate process would have) and CPU
seconds. A child still running after the job's ``timeout`` is killed and reported as hung.

Job: ``{"args": [...], "env": {...}, "out": path, "err": path, "timeout": s}``, or ``{"open": path, "out": ...,
"err": ...}`` to load a workbook with openpyxl. Answer: ``{"exit": n, "cpu": s, "wall": s, "rss_mib": n, "hung": bool}``.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
import warnings


def _warm() -> None:
    """Import what a run loads, here once: the commands load their modules on first use."""
    import importlib

    for name in ("openpyxl", "openpyxl.reader.excel", "pandas", "pandera", "python_calamine", "httpx",
                 "batchops.cli", "batchops.cli.validate_cmd", "batchops.cli.plan_cmd", "batchops.cli.apply_cmd",
                 "batchops.checking.validation", "batchops.workflow", "batchops.workflow.job",
                 "batchops.reports.error_report", "batchops.reports.results", "batchops.reports.plan",
                 "batchops.sheets.writeback", "batchops.sheets.verify", "batchops.sheets.writer",
                 "batchops.sheets.book_reader", "batchops.journal"):
        importlib.import_module(name)


def _child(job: dict, write_fd: int) -> None:
    """In the forked child: run the job, send the usage through ``write_fd``, never return."""
    code = 70
    try:
        out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        if "open" in job:
            import openpyxl

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                openpyxl.load_workbook(job["open"]).close()
            code = 0
        else:
            os.environ.update(job["env"])
            from batchops.cli import run

            code = run(job["args"])
            sys.stdout.flush()
            sys.stderr.flush()
    except BaseException as exc:  # noqa: BLE001 - reported as exit 99: the test names the file
        try:
            os.write(2, f"worker: {type(exc).__name__}: {exc}\n".encode())
        except OSError:
            pass
        code = 99
    usage = resource.getrusage(resource.RUSAGE_SELF)
    os.write(write_fd, json.dumps({"exit": code, "cpu": usage.ru_utime + usage.ru_stime,
                                   "rss_mib": usage.ru_maxrss / 1024}).encode())
    os._exit(0)


def _run(job: dict) -> dict:
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(job, write_fd)
    os.close(write_fd)
    deadline = started + float(job.get("timeout", 60))
    data = b""
    hung = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            hung = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    os.waitpid(pid, 0)
    os.close(read_fd)
    answer = json.loads(data) if data and not hung else {"exit": None, "cpu": None, "rss_mib": None}
    answer.update(wall=time.monotonic() - started, hung=hung)
    return answer


def main() -> None:
    _warm()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(_run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
