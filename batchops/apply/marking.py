"""How a run's journal writes leave the event loop: in-flight marks ahead of sending, results by the turn.

The journal's promise: a request is sent only after its row's ``in_flight`` mark is committed, so that a row
whose answer never came is known and re-sent by the next run; and each result is committed as it comes.
Committing on the event loop would delay every request behind it; handing each write to the journal's
thread on its own costs a thread hand-over per write (measured: most of the journal's cost per row, more
than SQLite's). This keeps the promise with few hand-overs while the loop almost never waits:

- ``AheadMarks``: when the rows go out in a known order, the rows ahead of the last one started are marked
  ``window`` at a time, as one commit on the journal's own thread, once fewer than half a window are left
  marked ahead (after a result, where it delays no call, or before a row not yet marked is sent). Sending
  a row then only checks that the commit holding its mark is done, which it nearly always is; when it is
  not, the row's worker awaits it and the event loop serves the others meanwhile. A row marked and never
  sent is handed back by ``Journal.release_unsent``; one marked when the process dies is re-sent by the
  next run, as a row whose outcome is unknown (it is applied once all the same: it was never sent).
- ``OneByOneMarks``: when each row's before-values are known only just before it is sent (``read_before``),
  each row is marked alone, with its before-values, and its worker awaits the commit.
- ``TurnWrites``: the results that came in one turn of the event loop (answers tend to come together) go to
  the journal's thread as one job, at the end of the turn, in order; each is committed as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..journal import Journal, JournalWriter

Requests = Callable[[int], dict[str, Any]]
"""A row's masked request, as the journal keeps it."""


class AheadMarks:
    """Marks rows in flight ahead of sending, ``window`` at a time, in ``order``."""

    def __init__(self, journal: Journal, run_id: str, writer: JournalWriter, order: list[int], window: int,
                 request: Requests) -> None:
        self.journal, self.run_id, self.writer = journal, run_id, writer
        self.order = order
        self.window = window
        self.request = request
        self.marked: set[int] = set()
        """Rows marked in flight (the commit queued or done)."""
        self._position = {row: i for i, row in enumerate(order)}
        self._started_upto = 0  # positions below this were started
        self._marked_upto = 0  # positions below this are marked (queued or committed)
        self._commits: deque[tuple[int, Future[None]]] = deque()  # (first position, commit) not waited for

    def before_send(self, row: int) -> Future[None] | None:
        """The commit ``row``'s mark waits for (queuing it first if it is not yet), None when it is done
        already, as it nearly always is; raises if a commit failed."""
        position = self._position[row]
        self._started_upto = max(self._started_upto, position + 1)
        if position >= self._marked_upto:  # the first rows, or answers slower than the sending
            self.ahead()
        # Commits run in order on one thread: drop the ones done (raising if one failed), then the row's mark
        # is in the last pending commit that starts at or before it. A pending commit stays queued until it is
        # done, because every row it holds (not only the first to ask) must wait for it.
        while self._commits and self._commits[0][1].done():
            self._commits.popleft()[1].result()
        pending: Future[None] | None = None
        for first, commit in self._commits:
            if first > position:
                break
            pending = commit
        return pending

    def ahead(self) -> None:
        """Queue, as one commit, the marks of the rows up to ``window`` past the last one started, once fewer
        than half a window are marked ahead of it."""
        if self._marked_upto - self._started_upto > self.window // 2:
            return
        end = min(len(self.order), self._started_upto + self.window)
        if end <= self._marked_upto:
            return
        batch = self.order[self._marked_upto:end]
        self._commits.append((self._marked_upto, self.writer.submit(self._commit, batch)))
        self.marked.update(batch)
        self._marked_upto = end

    def _commit(self, rows: list[int]) -> None:
        """On the journal's thread: the masked requests of ``rows`` and their marks, one commit."""
        self.journal.mark_many_in_flight(self.run_id, [(r, self.request(r)) for r in rows])


class OneByOneMarks:
    """Marks each row in flight just before it is sent, with its before-values."""

    def __init__(self, journal: Journal, run_id: str, writer: JournalWriter, request: Requests,
                 before: Callable[[int], Any]) -> None:
        self.journal, self.run_id, self.writer = journal, run_id, writer
        self.request = request
        self.before = before
        self.marked: set[int] = set()

    def before_send(self, row: int) -> Future[None]:
        """Queue ``row``'s mark (and before-values): the commit the request waits for."""
        self.marked.add(row)
        return self.writer.submit(self.journal.mark_in_flight, self.run_id, row, request=self.request(row),
                                  before=self.before(row))

    def ahead(self) -> None:
        """Nothing to do ahead: each row's before-values are known only when it is about to go."""


class TurnWrites:
    """Journal writes asked for during one turn of the event loop, handed to the writer as one job at its end
    (in the order they were asked for, each its own commit as ``Journal`` makes it)."""

    def __init__(self, writer: JournalWriter, loop: asyncio.AbstractEventLoop) -> None:
        self.writer = writer
        self._loop = loop
        self._writes: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._handle: asyncio.Handle | None = None

    def add(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``write(*args, **kwargs)`` for the end of this turn."""
        self._writes.append((write, args, kwargs))
        if self._handle is None:
            self._handle = self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand the queued writes to the writer now (the end of the turn, or of the run)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        writes, self._writes = self._writes, []
        if writes:
            self.writer.submit(_write_all, writes)


def _write_all(writes: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> None:
    """On the journal's thread: every write, in order; the first failure is raised after the others are tried
    (the results of requests already out are worth recording)."""
    error: BaseException | None = None
    for write, args, kwargs in writes:
        try:
            write(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - kept, raised once the rest are written
            if error is None:
                error = exc
    if error is not None:
        raise error


__all__ = ["AheadMarks", "OneByOneMarks", "TurnWrites"]
