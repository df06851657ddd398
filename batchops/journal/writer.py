"""Journal writes on one background thread while a run's requests are out, in the order they were asked for.

The event loop that sends the requests must not wait for SQLite: answers arrive together, and every
millisecond the loop spends committing one row delays the answers behind it and so the next requests
(measured in bench/RESULTS.apply.md). The writer runs each write exactly as :class:`~.journal.Journal`
does it (each its own committed transaction) on a single thread, first in first out; SQLite releases the
interpreter lock while it writes, so the loop goes on meanwhile. The loop waits for a write only when it
must: a row's ``in_flight`` mark is committed before its request goes out (``Future.result()``).

While the writer is open, nothing else may use the journal: its connection is shared with this thread
(opened with ``check_same_thread=False`` for that) and SQLite connections are not for concurrent use.

A write that fails is kept; ``raise_error`` (called by each callback of the run) and ``close`` raise it, so
the run stops. Later writes are still tried: the results of requests already out are worth recording.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

T = TypeVar("T")

__all__ = ["JournalWriter"]


class JournalWriter:
    """``submit(journal.record_result, run_id, row, ...)``: run journal writes in order on one thread."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchops-journal")
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self.written = 0

    def submit(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``write(*args, **kwargs)`` after every write queued before it. Never raises for an earlier
        write's failure (``raise_error`` does): after one, later writes are still tried, so that the results of
        requests already out are recorded if the journal can, and fewer rows are left with an unknown outcome."""
        future = self._executor.submit(write, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        exc = future.exception()
        with self._lock:
            if exc is None:
                self.written += 1
            elif self._error is None:
                self._error = exc

    def raise_error(self) -> None:
        """Raise the first error a write met, if one did."""
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for every queued write, stop the thread, and raise the first error a write met."""
        self._executor.shutdown(wait=True)
        self.raise_error()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True)
