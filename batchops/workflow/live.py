"""A run while it goes: its live counts for any front end, and the one way to cancel it.

A terminal's Ctrl-C and a web page's Cancel button end a run the same way: no new calls are sent, calls in
flight finish, every result and the journal are written, and running the same file again sends the rest.
``CancelToken`` (the dispatcher's, re-exported here) is that request, made from any thread; ``RunProgress``
is what a page polls or streams while the run goes (its ``snapshot()`` is the JSON shape ``{"state",
"total", "counts", ...}``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from ..apply.replay import LiveState, RowResult, Status
from ..http.dispatch import CancelToken

__all__ = ["CancelToken", "RunProgress", "RunState", "rows_per_second"]

MIN_ROWS_FOR_A_RATE = 10
"""Fewer rows sent than this say nothing about speed: no rate is shown (a run of 3 rows is not "0 rows/s")."""


def rows_per_second(sent: int, seconds: float) -> float | None:
    """The one rate batchops shows: rows sent per second while sending; None when too few rows were sent."""
    if sent < MIN_ROWS_FOR_A_RATE or seconds <= 0:
        return None
    return sent / seconds


class RunState(str, Enum):
    """Where a run is, as a page shows it."""

    READY = "ready"  # not started
    RUNNING = "running"
    DONE = "done"  # every row has a result (some may have failed)
    STOPPED = "stopped"  # the run stopped by itself: an outage, a journal or auth failure
    CANCELLED = "cancelled"  # Ctrl-C or Cancel: the rest is sent by running the file again


class RunProgress:
    """Live counts of one run, updated as each row finishes and read from any thread.

    ``total`` is every data row of the file; ``counts`` has every status (zeros included). The rate is the
    one the summary gives: rows sent per second, here from the first answer to the latest.
    """

    def __init__(self, total: int = 0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.total = total
        self.state = RunState.READY
        self.run_id: str | None = None
        self._counts = {s.value: 0 for s in Status}
        self._sent = 0
        self._first_answer: float | None = None
        self._last_answer: float | None = None
        self._pace: Callable[[], LiveState] | None = None

    def watch(self, pace: Callable[[], LiveState]) -> None:
        """Read the run's pace from ``pace`` (``Replay.live``): whether the server's throttling holds it back."""
        self._pace = pace

    def start(self, total: int) -> None:
        """A run begins: ``total`` rows will each get a result (the counts of an earlier run are dropped)."""
        with self._lock:
            self.total = total
            self.state = RunState.RUNNING
            self.run_id = None
            self._counts = {s.value: 0 for s in Status}
            self._sent = 0
            self._first_answer = self._last_answer = None
            self._pace = None

    def row_done(self, result: RowResult) -> None:
        """Count one row's result (called in the run's thread)."""
        now = self._clock()
        with self._lock:
            self._counts[result.status.value] += 1
            if result.attempts > 0:
                self._sent += 1
                if self._first_answer is None:
                    self._first_answer = now
                self._last_answer = now

    def finish(self, state: RunState, run_id: str | None) -> None:
        """The run ended in ``state``."""
        with self._lock:
            self.state = state
            self.run_id = run_id

    def snapshot(self) -> dict[str, Any]:
        """``{"state", "run_id", "total", "done", "counts", "sent", "rows_per_second", "eta_seconds",
        "held_back", "throttled_answers"}``: ``held_back`` while the server's throttling sets the pace."""
        pace = self._pace() if self._pace is not None else None
        with self._lock:
            counts = dict(self._counts)
            done = sum(counts.values())
            rate = None
            if self._first_answer is not None and self._last_answer is not None:
                rate = rows_per_second(self._sent - 1, self._last_answer - self._first_answer)
            running = self.state is RunState.RUNNING
            eta = (self.total - done) / rate if rate and running else None
            return {"state": self.state.value, "run_id": self.run_id, "total": self.total, "done": done,
                    "counts": counts, "sent": self._sent,
                    "rows_per_second": round(rate, 1) if rate is not None else None,
                    "eta_seconds": round(eta, 1) if eta is not None else None,
                    "held_back": bool(pace and pace.held_back and running),
                    "throttled_answers": pace.throttled if pace is not None else 0}
