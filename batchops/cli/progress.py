"""Progress bars on stderr, on a terminal only: rows applied (rate, ETA, ok/failed) and records read."""

from __future__ import annotations

from collections import Counter
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

from ..replay import RowResult, Status
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
    """Counts rows as they finish: a bar with rate, ETA and ok/failed counts."""

    def __init__(self, total: int, *, enabled: bool, label: str = "applying") -> None:
        self.counts: Counter[str] = Counter()
        columns: list[ProgressColumn] = [
            TextColumn("[cyan]{task.fields[rate]}[/cyan]"), TimeRemainingColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/green] [red]{task.fields[failed]} failed[/red]")]
        super().__init__(total, enabled, label, columns, transient=False, ok=0, failed=0, rate="")

    def __call__(self, result: RowResult) -> None:
        self.counts[result.status.value] += 1
        if self._progress is None or result.status is Status.INVALID:
            return
        speed = self._progress.tasks[0].speed
        self._progress.update(self._task, advance=1, ok=self.counts["ok"], failed=self.counts["failed"],
                              rate=f"{speed:,.0f} rows/s" if speed else "")


class ReadProgress(_Bar):
    """A bar for reading current values (plan), gone when the reading is done."""

    def __init__(self, total: int, *, enabled: bool, label: str = "reading") -> None:
        super().__init__(total, enabled, label, [TimeRemainingColumn()], transient=True)

    def __call__(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)
