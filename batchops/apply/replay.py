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

Pace: every request goes through the run's ``Limiter`` (``limiter.py``), which starts at the rate the
journal remembers for the target and adapts to the server's throttling; a row whose every answer was 429
(the server did not process it) ends ``not-sent``, never ``failed``, and the settled rate is kept for the
next run. Stopping: ``stop()`` or the ``cancel`` token (any thread) as Ctrl-C. ``run()`` serves synchronous
callers on a loop of its own; ``arun()`` runs on the caller's loop, the journal's work on threads. Where the
in-flight marks are committed is ``marking.py``; the speed measures around a run are ``tuning.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from ..catalogue import Operation
from ..checking.coerce import typed_values
from ..checking.report import InputRow, ValidationReport
from ..errors import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS_FAILED, AuthError, BatchopsError
from ..http.calls import CallResult, PreparedCall
from ..http.dispatch import DEFAULT_CONCURRENCY, CancelToken, Dispatcher, DispatchReport, StopReason
from ..http.limiter import Limiter
from ..http.retrying import THROTTLED
from ..http.tuning import frozen_heap, run_on_new_loop, warm_up
from ..journal import Action, Decision, Journal, JournalWriter, Reason, RowStatus, content_hash
from ..secrets import redact
from ..settings import Settings
from .marking import AheadMarks, OneByOneMarks, TurnWrites


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
    read_before: bool = True
    """Read each record before sending it: before-values into the journal (audit, undo); rows that change
    nothing skipped. The CLI's default too; ``--no-before`` (False) sends without reading, the fastest replay."""
    accept_lost_zeros: bool = False
    """Send a number equal to the current one without its leading zeros (else the row is held back, not-sent)."""


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
    throttled: int = 0
    """429 answers the server gave during the run (every one was retried; none made a row fail)."""
    settled_rate: float | None = None
    """Requests per second the server let through while it throttled the run (the next run to this target
    starts there); None when it never held the run back."""
    throttle_timeout: float = 0.0
    """The ``throttle_timeout`` setting in force: seconds of nothing but 429 before the run stops."""

    def counts(self) -> dict[str, int]:
        """Rows per status, every status present (zeros included), in a fixed order."""
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    @property
    def sent(self) -> int:
        """Rows whose request got an answer (ok or failed)."""
        return sum(1 for r in self.results if r.attempts > 0)

    @property
    def rate(self) -> float:
        """Rows sent per second over the whole run."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def send_rate(self) -> float:
        """Rows sent per second while sending (what concurrency and latency bound)."""
        return self.sent / self.send_seconds if self.send_seconds > 0 else 0.0

    @property
    def stopped_early(self) -> bool:
        """True when the run stopped before every row was tried (Ctrl-C, Cancel, an outage, throttling...)."""
        return self.stop_reason is not None

    @property
    def left_to_send(self) -> int:
        """Rows the same command, run again, would send: not sent, plus sent with no answer (outcome unknown)."""
        return sum(1 for r in self.results if r.status is Status.NOT_SENT or (r.status is Status.FAILED
                                                                              and r.attempts > 0
                                                                              and r.http_status is None))

    def exit_code(self) -> int:
        """0 all rows ok or already applied; 1 some rows failed; 3 nothing got through a config, connection
        or auth failure; 130 interrupted."""
        if self.stop_reason in (StopReason.INTERRUPTED, StopReason.CANCELLED):
            return EXIT_INTERRUPTED
        counts = self.counts()
        if self.stop_reason in (StopReason.BUDGET, StopReason.ERROR) and counts["ok"] == 0:
            return self.error.exit_code if isinstance(self.error, BatchopsError) else EXIT_CONFIG
        if self.dry_run:
            return EXIT_OK if counts["invalid"] == 0 else EXIT_ROWS_FAILED
        bad = counts["failed"] + counts["invalid"] + counts["not-sent"]
        return EXIT_ROWS_FAILED if bad else EXIT_OK


ProgressCallback = Callable[[RowResult], None]


@dataclass(frozen=True)
class LiveState:
    """How the sending is going, for a progress display (the counts and the rate are ``workflow.live``'s)."""

    sent: int
    """Rows whose request got an answer so far."""
    seconds: float
    held_back: bool
    """The server's throttling, not ``--rate``, sets the pace right now."""
    throttled: int
    """429 answers so far."""

NO_CHANGE_MESSAGE = "no change"
NO_CHANGE_REASON = "no-change"
LOST_ZEROS_REASON = "lost-zeros"
NOT_SENT_THROTTLED = "not sent: the server throttled it (HTTP 429) until the run stopped"


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
    """One apply of a validated file: plans against the journal, sends, records, returns the outcome.

    Drive it from synchronous code with ``run()`` (a new event loop; Ctrl-C cancels) or from a running event
    loop with ``await arun()`` (the journal's work on threads, the loop never blocked for the run). ``stop()``,
    or ``cancel.cancel()`` from any thread, stops it as Ctrl-C does: requests in flight finish and are
    recorded, the rest stay ``not-sent``.
    """

    def __init__(self, report: ValidationReport, settings: Settings, *, journal: Journal | None,
                 client: Any = None, options: ApplyOptions | None = None,
                 on_row: ProgressCallback | None = None, cancel: CancelToken | None = None) -> None:
        self.report = report
        self.op = report.operation
        self.settings = settings
        self.journal = journal
        self.client = client
        self.options = options or ApplyOptions()
        self.on_row = on_row
        self.cancel = cancel if cancel is not None else CancelToken()
        """Cancelling it stops the run (``stop()``); safe from any thread, before or during the run."""
        self.target = target_of(self.op, settings)
        self.run_id: str | None = None
        self.limiter: Limiter | None = None
        """The run's limiter while it sends (its pace, throttling and settled rate)."""
        self._results: dict[int, RowResult] = {}
        self._texts: dict[int, dict[str, str]] = {r.row: r.texts for r in report.valid_records}
        self._calls: dict[int, PreparedCall] = {}
        self._reasons: dict[int, Decision] = {}
        self._before: dict[int, dict[str, str]] = {}
        self._labels: dict[int, str] = {}  # row → the record's label, from the read before its update
        self._marks: AheadMarks | OneByOneMarks | None = None
        self._writer: JournalWriter | None = None  # the journal's writes while the requests are out
        self._writes: TurnWrites | None = None  # ... results by the turn of the event loop
        self._started: float | None = None
        self._answered = 0

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
        return self.op.build_call(typed_values(self.op, record.texts))

    # --- running ----------------------------------------------------------------------------------------

    def stop(self, reason: StopReason = StopReason.INTERRUPTED) -> None:
        """Send no more, as Ctrl-C does: requests in flight finish and are recorded, the rest stay
        ``not-sent``. Any thread, before or during the run. (``cancel.cancel()`` says ``cancelled``.)"""
        self.cancel.cancel(reason)

    def live(self) -> LiveState:
        """How the run is going: rows answered so far, seconds since it started, whether it is held back."""
        seconds = time.monotonic() - self._started if self._started is not None else 0.0
        limiter = self.limiter
        return LiveState(self._answered, seconds, limiter is not None and limiter.held_back,
                         limiter.throttles if limiter is not None else 0)

    def run(self) -> ApplyOutcome:
        """Apply every valid row (or, on a dry run, show what would be sent) and return the outcome.

        For synchronous callers: the sending runs on a new event loop; the first Ctrl-C stops the run as
        ``stop()`` does (``interrupted``), a second one aborts."""
        own_client = self.client is None
        try:
            return run_on_new_loop(self._arun(close_async=True),
                                   on_sigint=lambda: self.cancel.cancel(StopReason.INTERRUPTED))
        finally:
            if own_client and self.client is not None:
                self.client.close()  # the connections this run opened; a client passed in is the caller's

    async def arun(self) -> ApplyOutcome:
        """``run()`` on the running event loop: the journal's work happens on threads, the requests on this
        loop. The caller handles signals (cancel ``self.cancel`` to stop). A client this replay made is
        closed at the end; a client passed in stays open."""
        own_client = self.client is None
        try:
            return await self._arun(close_async=own_client)
        finally:
            if own_client and self.client is not None:
                self.client.close()

    async def _arun(self, *, close_async: bool) -> ApplyOutcome:
        self._started = time.monotonic()
        outcome = ApplyOutcome(self.op, self.target, [], dry_run=self.options.dry_run,
                               throttle_timeout=self.settings.throttle_timeout)
        for record in self.report.records:
            if not record.valid:
                self._results[record.row] = RowResult(record.row, record.key, Status.INVALID,
                                                      self._invalid_message(record.row))
        try:
            if self.options.dry_run:
                await asyncio.to_thread(lambda: self._dry_run(self.decisions()))
            else:
                await self._send(outcome)
        finally:
            if close_async and self.client is not None:
                aclose = getattr(self.client, "aclose", None)
                if aclose is not None:
                    await aclose()  # async connections belong to this loop
        outcome.results = [self._results[r.row] for r in self.report.records]
        outcome.run_id = self.run_id
        outcome.elapsed = time.monotonic() - self._started
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

    async def _send(self, outcome: ApplyOutcome) -> None:
        journal = self.journal
        assert journal is not None, "a real run needs a journal"
        to_send, start_rate = await asyncio.to_thread(self._open_run, outcome)
        run_id = self.run_id
        assert run_id is not None
        run_status = "finished"
        report: DispatchReport[int] | None = None
        try:
            self.limiter = Limiter(max_concurrency=self.options.concurrency, max_rate=self.options.rate,
                                   start_rate=start_rate, stall_seconds=self.settings.throttle_timeout)
            report = await self._dispatch(to_send)
            outcome.stop_reason = report.stop_reason
            outcome.send_seconds = report.elapsed
            outcome.error = report.error
            if report.stop_reason in (StopReason.INTERRUPTED, StopReason.CANCELLED):
                run_status = "interrupted"
            elif report.stop_reason is not None:
                run_status = "failed"
        except BaseException:
            run_status = "failed"
            raise
        finally:
            limiter = self.limiter
            if limiter is not None:
                outcome.throttled = limiter.throttles
                outcome.settled_rate = limiter.settled_rate
            await asyncio.to_thread(self._close_run, run_id, report, run_status, outcome)

    def _open_run(self, outcome: ApplyOutcome) -> tuple[list[tuple[int, PreparedCall]], float | None]:
        """On a thread: lock the file, plan, record the decisions; the calls to send and the rate to start at."""
        journal = self.journal
        assert journal is not None
        # Lock the file first, then plan: a plan made before the lock could be stale by the time we send.
        run = journal.start_run(self.report.path, operation=self.op.name, target=self.target,
                                sheet=self.report.sheet, operator=self.options.operator,
                                options={"force": self.options.force, "skip_invalid": self.options.skip_invalid,
                                         "concurrency": self.options.concurrency, "rate": self.options.rate,
                                         "read_before": self.options.read_before})
        self.run_id = run.id
        outcome.notices.extend(run.notices)
        try:
            decisions = self.decisions()
            journal.add_rows(run.id, decisions)
            invalid = [(r.row, r.key, content_hash(r.texts)) for r in self.report.records if not r.valid]
            if invalid:
                journal.add_rows(run.id, invalid)
                for row, _, _ in invalid:
                    journal.record_result(run.id, row, RowStatus.INVALID, message=self._results[row].message)
            by_row = {r.row: r for r in self.report.valid_records}
            for d in decisions:
                self._reasons[d.row_number] = d
                if d.action is Action.SKIP:
                    self._finish(RowResult(d.row_number, d.key, Status.SKIPPED, d.message, reason=d.reason.value,
                                           finished_at=_now()))
            to_send = [(d.row_number, self.call_for(by_row[d.row_number])) for d in decisions
                       if d.action is Action.SEND]
            self._calls = dict(to_send)
            return to_send, journal.settled_rate(self.target)
        except BaseException:
            journal.finish_run(run.id, "failed")
            raise

    def _close_run(self, run_id: str, report: DispatchReport[int] | None, status: str,
                   outcome: ApplyOutcome) -> None:
        """On a thread: hand back rows marked and never sent, record the rest, keep the pace, end the run."""
        journal = self.journal
        assert journal is not None
        try:
            if report is not None:
                marked = self._marks.marked if self._marks is not None else set()
                journal.release_unsent(run_id, [row for row in report.unsent if row in marked])
                for row in report.errored:
                    self._unknown(row, report.error)
                for row in report.unsent:
                    self._not_sent(row, self._why_not_sent(report.stop_reason, report.error))
            if outcome.throttled or outcome.settled_rate is not None:
                journal.record_pace(run_id, self.target, throttled=outcome.throttled,
                                    settled_rate=outcome.settled_rate)
        finally:
            journal.finish_run(run_id, status)

    def _client(self) -> Any:
        if self.client is None:
            from ..http.client import Client

            self.client = Client(self.settings)
        return self.client

    def _reading_prepare(self) -> Callable[[int], Awaitable[bool]]:
        """Each record read just before its update, in the same workers and concurrency limit.

        The read gives the journal its before-values and skips a row that would change nothing; reads and
        updates of different rows overlap instead of running in separate passes.
        """
        from ..remote.current import aread_one
        from ..remote.readers import RecordReader

        reader = RecordReader(self._client())
        by_row = {r.row: r for r in self.report.valid_records}

        async def prepare(row: int) -> bool:
            return not self._unchanged(row, await aread_one(reader, self.op, by_row[row]))

        return prepare

    def _unchanged(self, row: int, current: Any) -> bool:
        """Keep the row's before-values; True (and the row recorded ``skipped``) when it changes nothing."""
        from ..remote.current import before_values, field_changes, is_no_change, lost_zeros

        if current.record is None:
            return False  # unknown record or unreadable: send it, the server has the last word
        self._labels[row] = current.label(self.op)
        texts = self._texts[row]
        before = before_values(self.op, texts, current.record)
        changes = field_changes(self.op, texts, current.record)
        lost = [] if self.options.accept_lost_zeros else lost_zeros(self.op, changes)
        if not lost and (self.options.force or not is_no_change(changes)):
            self._before[row] = before  # --force sends even a row that changes nothing
            return False
        assert self.journal is not None and self.run_id is not None and self._writer is not None
        assert self._writes is not None
        if lost:  # held back, as plan shows it: the user fixes the cell or passes --accept-lost-zeros
            status, result, message = RowStatus.NOT_SENT, Status.NOT_SENT, " ".join(z.message() for z in lost)
            reason = LOST_ZEROS_REASON
        else:
            status, result, message, reason = RowStatus.SKIPPED, Status.SKIPPED, NO_CHANGE_MESSAGE, NO_CHANGE_REASON
        self._writes.add(self.journal.record_result, self.run_id, row, status, message=message, before=before,
                         after=texts)
        self._finish(RowResult(row, self._reasons[row].key, result, message, finished_at=_now(), reason=reason))
        self._writer.raise_error()
        return True

    async def _dispatch(self, calls: list[tuple[int, PreparedCall]]) -> DispatchReport[int]:
        journal, run_id = self.journal, self.run_id
        assert journal is not None and run_id is not None
        client = self._client()
        warm_up(client)
        reading = self.options.read_before and bool(calls)
        dispatcher: Dispatcher[int] = Dispatcher(client, concurrency=self.options.concurrency,
                                                 on_start=self._on_start, on_result=self._on_result,
                                                 prepare=self._reading_prepare() if reading else None,
                                                 limiter=self.limiter, cancel=self.cancel)
        # While the requests are out, the journal is written on its own thread (journal/writer.py); the results
        # of each turn of the event loop go to it as one job (marking.TurnWrites).
        self._writer = writer = JournalWriter()
        self._writes = writes = TurnWrites(writer, asyncio.get_running_loop())

        def request(row: int) -> dict[str, Any]:
            return masked_request(self._calls[row])

        if reading:
            self._marks = OneByOneMarks(journal, run_id, writer, request, self._before.get)
        else:  # rows go out in this order, so the next few can be marked in flight in one commit
            self._marks = AheadMarks(journal, run_id, writer, [row for row, _ in calls], self.options.concurrency,
                                     request)
        try:
            with frozen_heap():
                return await dispatcher.arun(calls)
        finally:
            writes.flush()
            self._writer = self._writes = None
            # Every queued write committed (or its error raised) before anything else, off the loop.
            await asyncio.to_thread(writer.close)

    def _on_start(self, row: int) -> Awaitable[None] | None:
        """Called just before ``row``'s request goes out: None when its ``in_flight`` is committed, else what
        to await first (the request goes only after the commit; the event loop is free meanwhile)."""
        assert self._marks is not None and self._writer is not None
        pending = self._marks.before_send(row)
        self._writer.raise_error()  # any other write that failed: stop before sending more
        return None if pending is None else self._committed(pending)

    async def _committed(self, commit: Future[None]) -> None:
        await asyncio.wrap_future(commit)
        assert self._writer is not None
        self._writer.raise_error()

    def _on_result(self, row: int, result: CallResult) -> None:
        """Queue the row's result for the journal (committed within moments, in order) and keep it for the
        Results sheet; an earlier journal write's failure is raised here and stops the run."""
        assert self.journal is not None and self.run_id is not None and self._writer is not None
        assert self._writes is not None
        assert self._marks is not None
        decision = self._reasons[row]
        if result.attempts == 0 or result.http_status == THROTTLED:
            # Never sent (the run stopped while it waited for its turn), or every answer was 429: the server
            # did not process it. Handed back, it is sent by the next run.
            why = (NOT_SENT_THROTTLED if result.attempts else self._why_not_sent(self.cancel.reason, None))
            self._writes.add(self.journal.release_unsent, self.run_id, [row])
            self._writes.add(self.journal.record_result, self.run_id, row, RowStatus.NOT_SENT, message=why)
            self._finish(RowResult(row, decision.key, Status.NOT_SENT, why, result.http_status, "",
                                   0, _now(), decision.reason.value))
        else:
            verdict = self.op.outcome(result)
            status = Status.OK if verdict.ok else Status.FAILED
            self._answered += 1
            self._finish(RowResult(row, decision.key, status, verdict.message, result.http_status, verdict.code,
                                   result.attempts, _now(), decision.reason.value))
            self._writes.add(self.journal.record_result, self.run_id, row, RowStatus(status.value),
                             http_status=result.http_status, code=verdict.code, message=verdict.message,
                             attempts=result.attempts, after=self._texts[row])
        self._marks.ahead()
        self._writer.raise_error()

    def _unknown(self, row: int, error: BaseException | None) -> None:
        # Sent, but no result came back to us: the journal keeps it in flight, so the next run re-sends it.
        decision = self._reasons[row]
        detail = str(error) if error else "no answer"
        self._finish(RowResult(row, decision.key, Status.FAILED,
                               f"outcome unknown ({detail}); run apply again to re-send it", None, "", 1, _now(),
                               decision.reason.value))

    @staticmethod
    def _why_not_sent(reason: StopReason | None, error: BaseException | None) -> str:
        if isinstance(error, AuthError):
            return f"not sent: authentication failed ({error})"
        if reason is None:
            return "not sent"
        return {
            StopReason.INTERRUPTED: "not sent: the run was interrupted",
            StopReason.CANCELLED: "not sent: the run was cancelled",
            StopReason.BUDGET: "not sent: the server kept failing and the run's retry budget ran out",
            StopReason.THROTTLED: "not sent: the server answered nothing but 429 (too many requests)",
            StopReason.STOPPED: "not sent: the run was stopped",
            StopReason.ERROR: f"not sent: the run stopped ({error})" if error else "not sent: the run stopped",
        }[reason]

    def _not_sent(self, row: int, why: str) -> None:
        assert self.journal is not None and self.run_id is not None
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
