"""The runs the server has started: their state, and the live events every open tab receives.

A run belongs to the server, not to the tab that started it: it goes on when the tab closes, and any
tab that opens it later gets the current state at once, then every change. Progress comes from the
library's ``RunProgress`` (read from any thread); a ticker on the event loop reads it and sends it every
``TICK`` (and whenever the state changes), so a 100,000-row run costs the browser four events a second,
not one per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..workflow.live import CancelToken, RunState

TICK = 0.25
"""Seconds between two progress events of a run (4 a second; the issue asks for at least 2)."""
KEEPALIVE = 15.0
"""Seconds of silence after which a comment line keeps an idle event stream open through proxies."""


Work = Callable[["RunHandle"], Awaitable[Mapping[str, Any]]]
"""A run's body: given its handle (progress, cancellation), it returns the library's summary."""


@dataclass
class WebRun:
    """One run as the page sees it: state, the latest progress, the final summary, who is listening."""

    id: str
    file_id: str | None
    total: int
    label: str = ""
    kind: str = "apply"
    """What the run does: ``apply`` (a file's rows sent) or ``export`` (live data read into a file)."""
    state: RunState = RunState.RUNNING
    progress: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    cancel: CancelToken = field(default_factory=CancelToken)
    """The library's cancel token: Cancel on the page and Ctrl-C take one path."""
    poll: Callable[[], Mapping[str, Any]] | None = field(default=None, repr=False)
    """Where the live counts are read (the library's ``RunProgress.snapshot``), by the ticker."""
    result: Any = field(default=None, repr=False)
    """What the run's body made (a job's ``Applied``, an ``Exported``…), for the pages that show it."""
    version: int = 0
    seq: int = 0
    """Counts snapshots, so a page can drop one that arrives after a newer one (a fetch and the stream race)."""
    _listeners: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state is not RunState.RUNNING

    @property
    def cancel_requested(self) -> bool:
        return self.cancel.cancelled

    def snapshot(self) -> dict[str, Any]:
        """The run as JSON: ``{"run_id", "state", "total", "counts", …}`` plus the latest progress."""
        self.seq += 1
        out: dict[str, Any] = {"seq": self.seq, "run_id": self.id, "file_id": self.file_id, "label": self.label,
                               "kind": self.kind, "state": self.state.value, "total": self.total, "counts": {},
                               "cancel_requested": self.cancel_requested}
        out.update(self.progress)
        out["run_id"], out["state"], out["seq"] = self.id, self.state.value, self.seq
        out["total"] = out.get("total") or self.total
        out["elapsed_seconds"] = round(time.time() - self.started, 1)
        if self.summary is not None:
            out["summary"] = self.summary
        if self.error is not None:
            out["error"] = self.error
        return out


class RunHandle:
    """What a run's body holds: report progress (from any thread), learn about cancellation."""

    def __init__(self, run: WebRun, registry: RunRegistry) -> None:
        self._run = run
        self._registry = registry
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return self._run.id

    def set_run_id(self, run_id: str) -> None:
        """Adopt the journal's run id once the library has one, so the page and ``batchops runs`` agree."""
        self._registry.rename(self._run, run_id)

    def progress(self, snapshot: Mapping[str, Any]) -> None:
        """Record the latest progress (thread-safe, cheap: the ticker sends it)."""
        with self._lock:
            self._run.progress = dict(snapshot)
            self._run.version += 1

    def keep(self, result: Any) -> None:
        """Keep what the run made (a job's ``Applied``, an ``Exported``) for the pages that show it."""
        self._run.result = result

    def poll(self, source: Callable[[], Mapping[str, Any]]) -> None:
        """Read the live counts from ``source`` at every tick (the library's state, not a copy kept here)."""
        self._run.poll = source

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the user presses Cancel (at once if already pressed)."""
        self._run.cancel.subscribe(lambda _reason: hook())

    @property
    def cancel(self) -> CancelToken:
        """The library's cancel token, to pass to ``Job.apply``."""
        return self._run.cancel

    @property
    def cancelled(self) -> bool:
        return self._run.cancel_requested


class RunRegistry:
    """Every run of this server, by id; starts them as tasks on the server's loop and fans out events."""

    def __init__(self) -> None:
        self.runs: dict[str, WebRun] = {}

    def get(self, run_id: str) -> WebRun | None:
        """The run with this id, or None."""
        return self.runs.get(run_id)

    def unique(self) -> list[WebRun]:
        """Every run once (a renamed run is under two ids), newest first."""
        return sorted({id(r): r for r in self.runs.values()}.values(), key=lambda r: r.started, reverse=True)

    def active_for(self, file_id: str) -> WebRun | None:
        """The run under way for this file, if any (one at a time per file)."""
        return next((r for r in self.runs.values() if r.file_id == file_id and not r.finished), None)

    def rename(self, run: WebRun, run_id: str) -> None:
        """Give ``run`` the id the journal gave it; the old id keeps pointing at it."""
        if run_id and run_id != run.id:
            self.runs[run_id] = run
            run.id = run_id

    def start(self, work: Work, *, file_id: str | None, total: int, label: str = "", kind: str = "apply") -> WebRun:
        """Start ``work`` as a task of the running loop and return its run at once."""
        run = WebRun(id=f"web-{secrets.token_hex(6)}", file_id=file_id, total=total, label=label, kind=kind)
        self.runs[run.id] = run
        run._task = asyncio.get_running_loop().create_task(self._drive(run, work))
        return run

    async def _drive(self, run: WebRun, work: Work) -> None:
        handle = RunHandle(run, self)
        ticker = asyncio.get_running_loop().create_task(self._tick(run))
        self._emit(run, "state")
        try:
            summary = await work(handle)
        except asyncio.CancelledError:
            run.state = RunState.CANCELLED
            raise
        except Exception as exc:  # noqa: BLE001  (a run's failure is the run's state, shown on the page)
            run.error = str(exc) or type(exc).__name__
            run.state = RunState.STOPPED
        else:
            run.summary = dict(summary)
            run.state = RunState(summary["state"]) if "state" in summary else (
                RunState.CANCELLED if run.cancel_requested else RunState.DONE)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self._read(run)
            self._emit(run, "progress")
            self._emit(run, "end")

    async def _tick(self, run: WebRun) -> None:
        # Every tick, changed or not: a page keeps its elapsed time and ETA moving through a quiet spell
        # (records being read, a gateway holding back), and a dead stream is noticed within a second.
        while True:
            await asyncio.sleep(TICK)
            self._read(run)
            self._emit(run, "progress")

    @staticmethod
    def _read(run: WebRun) -> None:
        """Take the latest counts from the run's source, when it has one and they changed."""
        if run.poll is None:
            return
        latest = dict(run.poll())
        if latest != run.progress:
            run.progress = latest
            run.version += 1

    def _emit(self, run: WebRun, kind: str) -> None:
        event = {"event": kind, "data": run.snapshot()}
        for queue in list(run._listeners):
            queue.put_nowait(event)

    def cancel(self, run: WebRun) -> None:
        """Ask the run to stop as Ctrl-C does: calls in flight finish, results and journal are written."""
        if run.finished or run.cancel_requested:
            return
        run.cancel.cancel()
        self._emit(run, "state")

    async def events(self, run: WebRun) -> AsyncIterator[dict[str, Any]]:
        """The run's current state, then every event until it ends; a keep-alive ``None`` when idle."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        run._listeners.add(queue)
        try:
            yield {"event": "state", "data": run.snapshot()}
            if run.finished:
                yield {"event": "end", "data": run.snapshot()}
                return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield {"event": "keepalive", "data": None}
                    continue
                yield event
                if event["event"] == "end":
                    return
        finally:
            run._listeners.discard(queue)

    async def wait(self, run: WebRun) -> None:
        """Until the run has finished."""
        if run._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(run._task)

    async def close(self, grace: float = 30.0) -> None:
        """At server stop: cancel what runs (as Ctrl-C), give it ``grace`` seconds to write its results."""
        active = [r for r in self.unique() if not r.finished]
        for run in active:
            self.cancel(run)
        tasks = [r._task for r in active if r._task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()


def sse_lines(event: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event: ``event:`` and one ``data:`` line of JSON; a comment line for keep-alive."""
    if event["event"] == "keepalive":
        return b": keep-alive\n\n"
    data = json.dumps(event["data"], ensure_ascii=False, default=str)
    return f"event: {event['event']}\ndata: {data}\n\n".encode()
