"""The current values of the records a file would change: read many at once, compared field by field.

``plan`` shows the comparison; ``apply`` stores it in the journal as before-values and skips rows that
would change nothing. Both read through one :class:`~batchops.remote.readers.RecordReader` (which caches list
calls such as queryCalledRoute) from a few threads over ``Client.send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalogue import Kind, Operation
from ..checking.report import InputRow
from ..errors import AuthError, BatchopsError, ConfigError, Interrupted
from .readers import LiveRecord, RecordReader, blockers, label_of

if TYPE_CHECKING:
    from ..http.dispatch import CancelToken

__all__ = ["Current", "FieldChange", "LostZero", "aread_one", "before_values", "field_changes", "is_no_change",
           "lost_zeros", "read_current", "read_one"]

ReadProgress = Callable[[int, int], None]
"""``on_read(done, total)``: records read so far, of how many."""


@dataclass(frozen=True)
class FieldChange:
    """One field of a row: its current value and the value the row sets (canonical texts)."""

    field: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Current:
    """What reading one row's record found: the record (None: no such record), or why it could not be read."""

    record: LiveRecord | None
    error: str | None = None

    @property
    def known(self) -> bool:
        """True when the record was read and exists."""
        return self.record is not None and self.error is None

    def blockers(self, op: Operation) -> list[str]:
        """Why an update of this record cannot succeed (empty when it can, or when it was not read)."""
        return blockers(op, self.record) if self.record is not None else []

    def label(self, op: Operation) -> str:
        """The name the read side knows the record by (``agentName …, workNo …``); ``""`` when unknown."""
        return label_of(op, self.record)


def read_current(client: Any, op: Operation, records: Sequence[InputRow], *, concurrency: int = 8,
                 on_read: ReadProgress | None = None, reader: RecordReader | None = None,
                 cancel: CancelToken | None = None) -> dict[int, Current]:
    """Read the current record of each row (keyed by Excel row number), ``concurrency`` reads at a time.

    A read that fails (no answer, an HTTP error) is reported in ``Current.error``; an ``AuthError`` or a
    ``ConfigError`` stops everything and propagates, as every other read would fail the same way.
    Ctrl-C, and ``cancel`` (a front end's Cancel, from any thread), drop the reads not yet started and let
    those under way finish; then Ctrl-C propagates and ``cancel`` raises ``Interrupted``.
    """
    reader = reader or RecordReader(client)
    found: dict[int, Current] = {}
    total = len(records)
    if not records:
        return found

    def read(record: InputRow) -> Current:
        return read_one(reader, op, record)

    def stopped(read: int) -> Interrupted:
        return Interrupted(f"cancelled after reading {read} of {total} record(s): nothing was planned.")

    if cancel is not None and cancel.cancelled:
        raise stopped(0)
    # The first read alone: it fills the reader's caches (one listing of every route) for the others.
    found[records[0].row] = read(records[0])
    if on_read is not None:
        on_read(1, total)
    rest = records[1:]
    if not rest:
        return found
    if cancel is not None and cancel.cancelled:  # cancelled while the first read was out: start no others
        raise stopped(1)
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(rest))), thread_name_prefix="batchops-read")
    futures: list[tuple[int, Future[Current]]] = []
    unsubscribe = None
    try:
        futures = [(r.row, pool.submit(read, r)) for r in rest]

        def drop_pending(_reason: object) -> None:
            for _, future in futures:
                future.cancel()  # a read already under way is not stopped: it finishes

        if cancel is not None:  # from another thread: reads not yet started are dropped at once
            unsubscribe = cancel.subscribe(drop_pending)
        for done, (row, future) in enumerate(futures, start=2):
            if future.cancelled() or (cancel is not None and cancel.cancelled):
                break  # those under way finish in shutdown() below; their answers are not used
            found[row] = future.result()
            if on_read is not None:
                on_read(done, total)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if unsubscribe is not None:
            unsubscribe()
    pool.shutdown(wait=True)
    if cancel is not None and cancel.cancelled and len(found) < total:
        raise stopped(1 + sum(1 for _, f in futures if f.done() and not f.cancelled()))
    return found


def read_one(reader: RecordReader, op: Operation, record: InputRow) -> Current:
    """Read one row's record. A failed read is reported in ``Current.error``; an ``AuthError`` or a
    ``ConfigError`` propagates, as every other read would fail the same way."""
    try:
        return Current(reader.read(op, record.texts))
    except (AuthError, ConfigError):
        raise
    except (BatchopsError, ValueError) as exc:  # one unreadable record must not stop the others
        return Current(None, str(exc) or type(exc).__name__)


async def aread_one(reader: RecordReader, op: Operation, record: InputRow) -> Current:
    """``read_one`` from asyncio (``apply`` reads each record just before its update)."""
    try:
        return Current(await reader.aread(op, record.texts))
    except (AuthError, ConfigError):
        raise
    except (BatchopsError, ValueError) as exc:
        return Current(None, str(exc) or type(exc).__name__)


def field_changes(op: Operation, texts: Mapping[str, str], current: Mapping[str, str]) -> list[FieldChange]:
    """Before → after for every field the row sets (keys left out), in template column order."""
    return [FieldChange(name, current.get(name, ""), texts[name]) for name in op.columns
            if name in texts and name not in op.key]


def is_no_change(changes: Sequence[FieldChange]) -> bool:
    """True when the row would set every field to the value it already has."""
    return all(not c.changed for c in changes)


def before_values(op: Operation, texts: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """The before-values the journal keeps: the record's current text of each field the row sets, keys
    included, so that undo can put exactly those fields back; and the facts the read side names the record
    by (``agentName``, ``workNo``), so that the audit can say whose record it was (undo takes columns only)."""
    values = {name: current.get(name, "") for name in op.columns if name in texts}
    if op.read is not None:
        facts = {**current, **(getattr(current, "context", None) or {})}
        values.update({name: str(facts[name]) for name in op.read.label
                       if name not in values and facts.get(name) not in (None, "")})
    return values


@dataclass(frozen=True)
class LostZero:
    """A new number that is the current one without its leading zeros: Excel probably dropped them."""

    field: str
    new: str
    current: str

    def message(self) -> str:
        """What happened and the two ways out, in one sentence."""
        return (f"{self.field} {self.new} is the current {self.current} without its leading zero: Excel probably "
                f"dropped it. Type {self.current} (format the column as Text first), or pass --accept-lost-zeros "
                f"to send {self.new} as it is.")


_NUMBER_KINDS = (Kind.NUMBER, Kind.NUMBER_LIST)


def lost_zeros(op: Operation, changes: Sequence[FieldChange]) -> list[LostZero]:
    """The numbers a row would set that equal a current number without its leading zeros.

    Pure: plan (``plan.row_plan``) and apply's before-read step both ask it, so they agree on which rows
    to hold back. A list compares item by item in any order (``7773217,12`` against ``12,07773217``).
    """
    found: list[LostZero] = []
    for change in changes:
        if op.field(change.field).kind not in _NUMBER_KINDS or not change.changed:
            continue
        current = [item for item in change.before.split(",") if item]
        for item in change.after.split(","):
            if item in current:
                continue
            stripped = next((c for c in current if c != item and c.startswith("0") and c.lstrip("0") == item), None)
            if stripped is not None:
                found.append(LostZero(change.field, item, stripped))
    return found
