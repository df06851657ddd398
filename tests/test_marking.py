"""In-flight marks: every row waits for the commit that holds its mark, not only the first row of it."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from batchops.apply.marking import AheadMarks


class HeldWriter:
    """A journal writer whose commits finish only when the test says so."""

    def __init__(self) -> None:
        self.commits: list[tuple[Future[None], list[int]]] = []

    def submit(self, write: Any, rows: list[int]) -> Future[None]:
        future: Future[None] = Future()
        self.commits.append((future, rows))
        return future


def marks(rows: int, window: int) -> tuple[AheadMarks, HeldWriter]:
    writer = HeldWriter()
    ahead = AheadMarks(None, "run", writer, list(range(2, 2 + rows)), window, lambda row: {})  # type: ignore[arg-type]
    return ahead, writer


def test_every_row_of_a_pending_commit_waits_for_it():
    ahead, writer = marks(10, 4)
    first = ahead.before_send(2)
    assert first is writer.commits[0][0] and writer.commits[0][1] == [2, 3, 4, 5, 6]  # the row and 4 ahead
    # The next rows of the same commit, asked for while it is still pending, wait for the same commit.
    assert ahead.before_send(3) is first
    assert ahead.before_send(4) is first
    first.set_result(None)
    assert ahead.before_send(5) is None


def test_a_row_waits_for_its_own_commit_and_not_for_a_later_one():
    ahead, writer = marks(10, 2)
    assert ahead.before_send(2) is writer.commits[0][0] and writer.commits[0][1] == [2, 3, 4]
    assert ahead.before_send(3) is writer.commits[0][0]
    ahead.ahead()  # a result came: the rows up to 2 past the last one started are marked ahead
    assert writer.commits[1][1] == [5]
    writer.commits[0][0].set_result(None)
    assert ahead.before_send(4) is None  # its commit is done; the later one pending does not hold it
    assert ahead.before_send(5) is writer.commits[1][0]


def test_a_failed_commit_raises_before_its_rows_are_sent():
    ahead, writer = marks(6, 3)
    ahead.before_send(2)
    writer.commits[0][0].set_exception(OSError("disk full"))
    with pytest.raises(OSError, match="disk full"):
        ahead.before_send(3)


def test_the_writes_of_one_turn_go_to_the_journal_thread_as_one_job_in_order():
    import asyncio

    from batchops.apply.marking import TurnWrites
    from batchops.journal import JournalWriter

    done: list[str] = []
    jobs: list[int] = []

    async def main() -> None:
        with JournalWriter() as writer:
            submit = writer.submit

            def counting(write: Any, *args: Any, **kwargs: Any) -> Future[Any]:
                jobs.append(len(args[0]) if args else 0)
                return submit(write, *args, **kwargs)

            writer.submit = counting  # type: ignore[method-assign]
            writes = TurnWrites(writer, asyncio.get_running_loop())
            for name in ("row 2", "row 3", "row 4"):
                writes.add(done.append, name)
            assert jobs == []  # nothing handed over before the turn ends
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            writes.add(done.append, "row 5")
            writes.flush()  # the run ends: handed over at once
            writer.close()
            assert writer.written == 2

    asyncio.run(main())
    assert jobs == [3, 1]
    assert done == ["row 2", "row 3", "row 4", "row 5"]


def test_a_failed_write_of_a_turn_does_not_stop_the_others_and_is_raised():
    import asyncio

    from batchops.apply.marking import TurnWrites
    from batchops.journal import JournalWriter

    done: list[str] = []

    def full(_: str) -> None:
        raise OSError("disk full")

    async def main() -> None:
        writer = JournalWriter()
        writes = TurnWrites(writer, asyncio.get_running_loop())
        writes.add(done.append, "row 2")
        writes.add(full, "row 3")
        writes.add(done.append, "row 4")
        await asyncio.sleep(0)
        with pytest.raises(OSError, match="disk full"):
            writer.close()

    asyncio.run(main())
    assert done == ["row 2", "row 4"]
