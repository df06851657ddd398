"""Progress bars on stderr, on a terminal only: rows applied (rate, ETA, ok/failed/skipped) and records read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from ..apply.replay import RowResult, Status
from .output import err

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11


class _Bar:
    """A rich bar that exists only when stderr is a terminal and the caller wants one."""

    def __init__(self, total: int, enabled: bool, label: str, columns: list[ProgressColumn], *,
                 transient: bool, **fields: Any) -> None:
        self._progress: Progress | None = None
        if enabled and err.is_terminal and total > 0:
            self._progress = Progress(TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(),
                                      *columns, console=err, transient=transient, refresh_per_second=8)
            self._task = self._progress.add_task(label, total=total, **fields)

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()


class RowProgress(_Bar):
    """Counts rows as they finish: a bar with rate, ETA and ok/failed/skipped counts.

    Rows that end ``not-sent`` (a stop, Ctrl-C) do not move the bar: it stops where the sending stopped
    instead of jumping to the end as if done. ``rate`` gives the one rate the summary gives too
    (``workflow.live.rows_per_second``); ``held_back`` says whether the server's throttling sets the pace,
    which the bar then says ("throttled by the server: 9.8 rows/s").
    """

    def __init__(self, total: int, *, enabled: bool, label: str = "applying",
                 rate: Callable[[], float | None] | None = None,
                 held_back: Callable[[], bool] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self._rate_of = rate
        self._held_back = held_back
        columns: list[ProgressColumn] = [
            TextColumn("[cyan]{task.fields[rate]}[/cyan]"), TimeRemainingColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/green] [red]{task.fields[failed]} failed[/red] "
                       "[dim]{task.fields[skipped]} skipped[/dim]")]
        super().__init__(total, enabled, label, columns, transient=False, ok=0, failed=0, skipped=0, rate="")

    def __call__(self, result: RowResult) -> None:
        self.counts[result.status.value] += 1
        if self._progress is None or result.status in (Status.INVALID, Status.NOT_SENT):
            return
        self._progress.update(self._task, advance=1, ok=self.counts["ok"], failed=self.counts["failed"],
                              skipped=self.counts["skipped"], rate=self._rate())

    def _rate(self) -> str:
        rate = self._rate_of() if self._rate_of is not None else None
        held = self._held_back is not None and self._held_back()
        text = "" if rate is None else f"{rate:,.1f} rows/s" if rate < 100 else f"{rate:,.0f} rows/s"
        if held:
            return f"throttled by the server: {text}" if text else "throttled by the server"
        return text


class ReadProgress(_Bar):
    """A bar for reading current values (plan), gone when the reading is done."""

    def __init__(self, total: int, *, enabled: bool, label: str = "reading") -> None:
        super().__init__(total, enabled, label, [TimeRemainingColumn()], transient=True)

    def __call__(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)
