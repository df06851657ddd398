"""A progress bar with rate, ETA and ok/failed counts, on a terminal only."""

from __future__ import annotations

from collections import Counter
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..replay import RowResult, Status
from .output import err


class RowProgress:
    """Counts rows as they finish; draws a bar on stderr when it is a terminal and ``enabled``."""

    def __init__(self, total: int, *, enabled: bool, label: str = "applying") -> None:
        self.counts: Counter[str] = Counter()
        self.enabled = enabled and err.is_terminal and total > 0
        self._progress: Progress | None = None
        self._task = None
        if self.enabled:
            self._progress = Progress(
                TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[cyan]{task.fields[rate]}[/cyan]"),
                TimeRemainingColumn(), TextColumn("[green]{task.fields[ok]} ok[/green] "
                                                  "[red]{task.fields[failed]} failed[/red]"),
                console=err, transient=False, refresh_per_second=8)
            self._task = self._progress.add_task(label, total=total, ok=0, failed=0, rate="")

    def __enter__(self) -> RowProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, result: RowResult) -> None:
        self.counts[result.status.value] += 1
        if self._progress is None or result.status is Status.INVALID:
            return
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(self._task, advance=1, ok=self.counts["ok"], failed=self.counts["failed"],
                              rate=f"{speed:,.0f} rows/s" if speed else "")
