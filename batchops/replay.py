"""The replay: each valid row becomes one update call; every row ends with a result, in the journal first.

A row's life: the journal records it (``pending``, or ``skipped`` when that content is already applied),
commits ``in_flight`` before its request is sent, and commits ``ok``/``failed`` as the answer comes. A
row that never got an answer stays ``in_flight`` in the journal: outcome unknown, re-sent by the next
run. The Results sheet is written from the same results, in row order, after the run.

While the requests are out the journal is written on its own thread (``journal.JournalWriter``), in order:
rows are marked ``in_flight`` ahead, a window of ``concurrency`` rows at a time after each result, and a row
is sent only once its mark is committed; results are queued as they come and committed moments later, so
the event loop never waits for SQLite between an answer and the next request.

Before-values (``ApplyOptions.read_before``): each row's record is read (``current.aread_one``, the read
calls of ``readers.py``) by the same worker just before its update, within the same ``--concurrency``
limit. A row's before-values are committed with its ``in_flight`` mark and its after-values (the row's
texts) with its result, for audit and undo. A row whose values equal the record's current ones is not
sent: ``skipped``, "no change".
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .calls import CallResult, PreparedCall
from .catalogue import Operation
from .coerce import typed_values
from .dispatch import DEFAULT_CONCURRENCY, Dispatcher, DispatchReport, StopReason
from .errors import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS_FAILED, AuthError, BatchopsError
from .journal import Action, Decision, Journal, JournalWriter, Reason, RowStatus, content_hash
from .report import InputRow, ValidationReport
from .secrets import redact
from .settings import Settings


class Status(str, Enum):
    """How a row ended, as the Results sheet says it."""

    OK = "ok"
    FAILED = "failed"
    INVALID = "invalid"
    SKIPPED = "skipped"
    NOT_SENT = "not-sent"


@dataclass
class RowResult:
    """One data row's result: the Results sheet has one per data row, in the file's order."""

    row: int
    key: str
    status: Status
    message: str = ""
    http_status: int | None = None
    code: str = ""
    attempts: int = 0
    finished_at: str = ""
    reason: str = ""
    request: dict[str, Any] | None = None  # masked; shown on a dry run
    label: str = ""  # the name the read side knows the record by (readers.label_of), when it was read


@dataclass
class ApplyOptions:
    """How to run: all from the command line."""

    dry_run: bool = False
    force: bool = False
    skip_invalid: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None
    operator: str | None = None
    read_before: bool = False
    """Read each record before sending it: before-values into the journal; unchanged rows skipped."""


@dataclass
class ApplyOutcome:
    """How a run ended: every row's result and why it stopped early, if it did."""

    operation: Operation
    target: str
    results: list[RowResult]
    run_id: str | None = None
    dry_run: bool = False
    elapsed: float = 0.0  # the whole run: journal, planning, reads, sending
    send_seconds: float = 0.0  # from the first request to the last answer
    stop_reason: StopReason | None = None
    error: BaseException | None = None
    notices: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows per status, every status present (zeros included), in a fixed order."""
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    @property
    def sent(self) -> int:
        return sum(1 for r in self.results if r.attempts > 0)

    @property
    def rate(self) -> float:
        """Rows sent per second over the whole run."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def send_rate(self) -> float:
        """Rows sent per second while sending (what concurrency and latency bound)."""
        return self.sent / self.send_seconds if self.send_seconds > 0 else 0.0

    def exit_code(self) -> int:
        """0 all rows ok or already applied; 1 some rows failed; 3 nothing got through a config, connection
        or auth failure; 130 interrupted."""
        if self.stop_reason is StopReason.INTERRUPTED:
            return EXIT_INTERRUPTED
        counts = self.counts()
        if self.stop_reason in (StopReason.BUDGET, StopReason.ERROR) and counts["ok"] == 0:
            return self.error.exit_code if isinstance(self.error, BatchopsError) else EXIT_CONFIG
        if self.dry_run:
            return EXIT_OK if counts["invalid"] == 0 else EXIT_ROWS_FAILED
        bad = counts["failed"] + counts["invalid"] + counts["not-sent"]
        return EXIT_ROWS_FAILED if bad else EXIT_OK


ProgressCallback = Callable[[RowResult], None]

NO_CHANGE_MESSAGE = "no change"
NO_CHANGE_REASON = "no-change"


def target_of(op: Operation, settings: Settings) -> str:
    """The base URL an operation's calls go to."""
    url = settings.isales_url if op.family == "isales" else settings.base_url
    return (url or "").rstrip("/")


def require_settings(op: Operation, settings: Settings) -> None:
    """Raise ConfigError naming the first setting the operation's calls need and lack."""
    if op.family == "isales":
        settings.require_isales()
    else:
        settings.require_c1()


def masked_request(call: PreparedCall) -> dict[str, Any]:
    """The request as the journal, the Results sheet and the dry run show it: secrets masked."""
    shown: dict[str, Any] = {"method": call.method, "path": call.path, "body": call.body}
    if call.headers:
        shown["headers"] = dict(call.headers)
    return redact(shown)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Replay:
    """One apply of a validated file: plans against the journal, sends, records, returns the outcome."""

    def __init__(self, report: ValidationReport, settings: Settings, *, journal: Journal | None,
                 client: Any = None, options: ApplyOptions | None = None,
                 on_row: ProgressCallback | None = None) -> None:
        self.report = report
        self.op = report.operation
        self.settings = settings
        self.journal = journal
        self.client = client
        self.options = options or ApplyOptions()
        self.on_row = on_row
        self.target = target_of(self.op, settings)
        self._results: dict[int, RowResult] = {}
        self._calls: dict[int, PreparedCall] = {}
        self._before: dict[int, dict[str, str]] = {}
        self._labels: dict[int, str] = {}  # row → the record's label, from the read before its update
        self._marked: set[int] = set()  # rows marked in flight (queued for the journal or committed)
        self._order: list[int] = []  # rows to send, in sending order (when they can be marked ahead)
        self._position: dict[int, int] = {}
        self._started_upto = 0  # positions in _order below this were started
        self._marked_upto = 0  # positions in _order below this are marked in flight (queued or committed)
        self._marks: deque[tuple[int, Future[None]]] = deque()  # (first position, commit) not waited for yet
        self._writer: JournalWriter | None = None  # the journal's writes while the requests are out
        self._texts: dict[int, dict[str, str]] = {r.row: r.texts for r in report.valid_records}
        self._dispatcher: Dispatcher[int] | None = None
        self._stop_asked: StopReason | None = None
        self.run_id: str | None = None

    def stop(self, reason: StopReason = StopReason.INTERRUPTED) -> None:
        """Send no new calls, as Ctrl-C does: calls in flight finish and are recorded. From any thread."""
        self._stop_asked = reason
        dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.stop(reason)

    # --- planning ---------------------------------------------------------------------------------------

    def decisions(self) -> list[Decision]:
        """For each valid row: send or skip, from the journal (read-only; nothing is locked)."""
        rows = [(r.row, r.key, content_hash(r.texts)) for r in self.report.valid_records]
        if self.journal is None:
            return [Decision(n, k, h, Action.SEND, Reason.FORCED if self.options.force else Reason.NEW)
                    for n, k, h in rows]
        plan = self.journal.plan_resume(self.report.path, self.op.name, self.target, rows,
                                        force=self.options.force)
        return plan.decisions

    def call_for(self, record: InputRow) -> PreparedCall:
        """The request a valid row sends."""
        return self.op.build_call(typed_values(self.op, record.texts), user_id=self.settings.user_id)

    # --- running ----------------------------------------------------------------------------------------

    def run(self) -> ApplyOutcome:
        """Apply every valid row (or, on a dry run, show what would be sent) and return the outcome."""
        started = time.monotonic()
        outcome = ApplyOutcome(self.op, self.target, [], dry_run=self.options.dry_run)
        for record in self.report.records:
            if not record.valid:
                self._results[record.row] = RowResult(record.row, record.key, Status.INVALID,
                                                      self._invalid_message(record.row))
        own_client = self.client is None
        try:
            if self.options.dry_run:
                self._dry_run(self.decisions())
            else:
                self._send(outcome)
        finally:
            if own_client and self.client is not None:
                self.client.close()  # the connections this run opened; a client passed in is the caller's
        outcome.results = [self._results[r.row] for r in self.report.records]
        outcome.run_id = self.run_id
        outcome.elapsed = time.monotonic() - started
        return outcome

    def _invalid_message(self, row: int) -> str:
        errors = [i for i in self.report.errors if i.row == row]
        return "; ".join(f"{i.cell} {i.code}: {i.message}" for i in errors[:3]) + \
            (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")

    def _dry_run(self, decisions: list[Decision]) -> None:
        by_row = {r.row: r for r in self.report.valid_records}
        for d in decisions:
            record = by_row[d.row_number]
            call = self.call_for(record)
            if d.action is Action.SKIP:
                result = RowResult(d.row_number, d.key, Status.SKIPPED, d.message, reason=d.reason.value)
            else:
                result = RowResult(d.row_number, d.key, Status.NOT_SENT, f"dry run: would send ({d.message})",
                                   reason=d.reason.value, request=masked_request(call))
            self._finish(result)

    def _send(self, outcome: ApplyOutcome) -> None:
        journal = self.journal
        assert journal is not None, "a real run needs a journal"
        # Lock the file first, then plan: a plan made before the lock could be stale by the time we send.
        run = journal.start_run(self.report.path, operation=self.op.name, target=self.target,
                                sheet=self.report.sheet, operator=self.options.operator,
                                options={"force": self.options.force, "skip_invalid": self.options.skip_invalid,
                                         "concurrency": self.options.concurrency, "rate": self.options.rate,
                                         "read_before": self.options.read_before})
        self.run_id = run.id
        outcome.notices.extend(run.notices)
        run_status = "finished"
        try:
            decisions = self.decisions()
            journal.add_rows(run.id, decisions)
            invalid = [(r.row, r.key, content_hash(r.texts)) for r in self.report.records if not r.valid]
            if invalid:
                journal.add_rows(run.id, invalid)
                for row, _, _ in invalid:
                    journal.record_result(run.id, row, RowStatus.INVALID, message=self._results[row].message)
            by_row = {r.row: r for r in self.report.valid_records}
            reasons: dict[int, Decision] = {}
            for d in decisions:
                reasons[d.row_number] = d
                if d.action is Action.SKIP:
                    self._finish(RowResult(d.row_number, d.key, Status.SKIPPED, d.message, reason=d.reason.value,
                                           finished_at=_now()))
            to_send = [(d.row_number, self.call_for(by_row[d.row_number])) for d in decisions
                       if d.action is Action.SEND]
            self._calls = dict(to_send)
            self._reasons = reasons
            if self.options.read_before and to_send:
                report = self._send_reading(to_send)
            else:
                # Rows go out in this order, so the next few can be marked in flight in one commit.
                self._order = [row for row, _ in to_send]
                self._position = {row: i for i, row in enumerate(self._order)}
                report = self._dispatch(to_send)
            journal.release_unsent(run.id, [row for row in report.unsent if row in self._marked])
            outcome.stop_reason = report.stop_reason
            outcome.send_seconds = report.elapsed
            outcome.error = report.error
            for row in report.errored:
                self._unknown(row, report.error)
            for row in report.unsent:
                self._not_sent(row, outcome.stop_reason, report.error)
            if report.stop_reason is StopReason.INTERRUPTED:
                run_status = "interrupted"
            elif report.stop_reason is not None:
                run_status = "failed"
        except BaseException:
            run_status = "failed"
            raise
        finally:
            journal.finish_run(run.id, run_status)

    def _client(self) -> Any:
        if self.client is None:
            from .client import Client

            self.client = Client(self.settings)
        return self.client

    def _send_reading(self, calls: list[tuple[int, PreparedCall]]) -> DispatchReport[int]:
        """Send with each record read just before its update, in the same workers and concurrency limit.

        The read gives the journal its before-values and skips a row that would change nothing; reads and
        updates of different rows overlap instead of running in separate passes.
        """
        from .current import aread_one
        from .readers import RecordReader

        reader = RecordReader(self._client())
        by_row = {r.row: r for r in self.report.valid_records}

        async def prepare(row: int) -> bool:
            return not self._unchanged(row, await aread_one(reader, self.op, by_row[row]))

        return self._dispatch(calls, prepare=prepare)

    def _unchanged(self, row: int, current: Any) -> bool:
        """Keep the row's before-values; True (and the row recorded ``skipped``) when it changes nothing."""
        from .current import before_values, field_changes, is_no_change

        if current.record is None:
            return False  # unknown record or unreadable: send it, the server has the last word
        self._labels[row] = current.label(self.op)
        texts = self._texts[row]
        before = before_values(self.op, texts, current.record)
        if self.options.force or not is_no_change(field_changes(self.op, texts, current.record)):
            self._before[row] = before  # --force sends even a row that changes nothing
            return False
        assert self.journal is not None and self.run_id is not None and self._writer is not None
        self._writer.submit(self.journal.record_result, self.run_id, row, RowStatus.SKIPPED,
                            message=NO_CHANGE_MESSAGE, before=before, after=texts)
        self._finish(RowResult(row, self._reasons[row].key, Status.SKIPPED, NO_CHANGE_MESSAGE, finished_at=_now(),
                               reason=NO_CHANGE_REASON))
        self._writer.raise_error()
        return True

    def _dispatch(self, calls: list[tuple[int, PreparedCall]],
                  prepare: Callable[[int], Awaitable[bool]] | None = None) -> Any:
        prepare_async = getattr(self._client(), "prepare_async", None)  # a client passed in may lack it
        if prepare_async is not None:
            prepare_async()
        dispatcher: Dispatcher[int] = Dispatcher(self.client, concurrency=self.options.concurrency,
                                                 rate=self.options.rate, on_start=self._on_start,
                                                 on_result=self._on_result, prepare=prepare)
        self._dispatcher = dispatcher
        if self._stop_asked is not None:  # asked before the sending began: send nothing
            dispatcher.stop(self._stop_asked)
        # The validated file is a large graph of long-lived objects; a full garbage collection that walks
        # it stalls the event loop mid-run (measured: ~6% fewer rows per second at concurrency 16).
        gc.collect()
        gc.freeze()
        # While the requests are out, the journal is written on its own thread (journal/writer.py).
        self._writer = JournalWriter()
        try:
            report = dispatcher.run(calls)
        finally:
            writer, self._writer = self._writer, None
            try:
                writer.close()  # every queued write committed (or its error raised) before anything else
            finally:
                gc.unfreeze()
        return report

    def _on_start(self, row: int) -> None:
        """Called just before ``row``'s request goes out: return only once its ``in_flight`` is committed."""
        assert self.journal is not None and self.run_id is not None and self._writer is not None
        if not self._order:  # reading before-values: each row's before is known only now
            self._marked.add(row)
            self._writer.submit(self.journal.mark_in_flight, self.run_id, row,
                                request=masked_request(self._calls[row]), before=self._before.get(row)).result()
            return
        # Rows go out in this order: most were marked ahead, after earlier results, and are committed by now.
        position = self._position[row]
        self._started_upto = max(self._started_upto, position + 1)
        if position >= self._marked_upto:  # the first rows, or answers slower than the sending
            self._mark_ahead()
        while self._marks and self._marks[0][0] <= position:
            self._marks.popleft()[1].result()  # at once when committed; raises if the commit failed
        self._writer.raise_error()  # any other write that failed: stop before sending more

    def _mark_ahead(self) -> None:
        """Queue, as one commit, the ``in_flight`` marks of the rows up to ``concurrency`` past the last one
        started.

        Called before a row not yet marked is sent, and after each result, where it delays no call: answers
        tend to arrive together, and a commit between an answer and the next call would delay every call
        behind it. A row marked and never sent is handed back by ``release_unsent``; one marked when the
        process dies is re-sent by the next run, as a row whose outcome is unknown.
        """
        assert self._writer is not None
        end = min(len(self._order), self._started_upto + self.options.concurrency)
        if end <= self._marked_upto:
            return
        batch = self._order[self._marked_upto:end]
        self._marks.append((self._marked_upto, self._writer.submit(self._commit_marks, batch)))
        self._marked.update(batch)
        self._marked_upto = end

    def _commit_marks(self, rows: list[int]) -> None:
        """On the journal's thread: the masked requests of ``rows`` and their ``in_flight`` marks, one commit."""
        assert self.journal is not None and self.run_id is not None
        self.journal.mark_many_in_flight(self.run_id, [(r, masked_request(self._calls[r])) for r in rows])

    def _on_result(self, row: int, result: CallResult) -> None:
        """Queue the row's result for the journal (committed within moments, in order) and keep it for the
        Results sheet; an earlier journal write's failure is raised here and stops the run."""
        assert self.journal is not None and self.run_id is not None and self._writer is not None
        verdict = self.op.outcome(result)
        status = Status.OK if verdict.ok else Status.FAILED
        decision = self._reasons[row]
        self._finish(RowResult(row, decision.key, status, verdict.message, result.http_status, verdict.code,
                               result.attempts, _now(), decision.reason.value))
        self._writer.submit(self.journal.record_result, self.run_id, row, RowStatus(status.value),
                            http_status=result.http_status, code=verdict.code, message=verdict.message,
                            attempts=result.attempts, after=self._texts[row])
        if self._order:
            self._mark_ahead()
        self._writer.raise_error()

    def _unknown(self, row: int, error: BaseException | None) -> None:
        # Sent, but no result came back to us: the journal keeps it in flight, so the next run re-sends it.
        decision = self._reasons[row]
        detail = str(error) if error else "no answer"
        self._finish(RowResult(row, decision.key, Status.FAILED,
                               f"outcome unknown ({detail}); run apply again to re-send it", None, "", 1, _now(),
                               decision.reason.value))

    def _not_sent(self, row: int, reason: StopReason | None, error: BaseException | None) -> None:
        assert self.journal is not None and self.run_id is not None
        why = {
            StopReason.INTERRUPTED: "not sent: the run was interrupted",
            StopReason.BUDGET: "not sent: the server kept failing and the run's retry budget ran out",
            StopReason.STOPPED: "not sent: the run was stopped",
            StopReason.ERROR: f"not sent: the run stopped ({error})" if error else "not sent: the run stopped",
        }.get(reason, "not sent") if reason else "not sent"
        if isinstance(error, AuthError):
            why = f"not sent: authentication failed ({error})"
        self.journal.record_result(self.run_id, row, RowStatus.NOT_SENT, message=why)
        decision = self._reasons[row]
        self._finish(RowResult(row, decision.key, Status.NOT_SENT, why, finished_at=_now(),
                               reason=decision.reason.value))

    def _finish(self, result: RowResult) -> None:
        if not result.label and result.row in self._labels:
            result.label = self._labels[result.row]
        self._results[result.row] = result
        if self.on_row is not None:
            self.on_row(result)

