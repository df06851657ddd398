"""A row's ``in_flight`` mark is committed before its request goes out, without the event loop waiting for it.

The journal's promise: a request is sent only after its row's ``in_flight`` mark is committed, so that a row
whose answer never came is known and re-sent by the next run. Committing one mark per row on the event loop
would delay every request behind it; this keeps the promise while the loop almost never waits:

- ``AheadMarks``: when the rows go out in a known order, the next ``concurrency`` rows are marked as one
  commit on the journal's own thread, after each result (where it delays no call) and before a row not yet
  marked is sent. Sending a row then only checks that the commit holding its mark is done, which it nearly
  always is; when it is not, the row's worker awaits it and the event loop serves the others meanwhile. A row marked and never sent is handed back by ``Journal.release_unsent``; one marked when the
  process dies is re-sent by the next run, as a row whose outcome is unknown.
- ``OneByOneMarks``: when each row's before-values are known only just before it is sent (``read_before``),
  each row is marked alone, with its before-values, and its worker awaits the commit.
"""

from __future__ import annotations

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
        """Queue, as one commit, the marks of the rows up to ``window`` past the last one started."""
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


__all__ = ["AheadMarks", "OneByOneMarks"]
