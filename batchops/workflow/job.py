"""A job: one input file taken through validate → plan → apply → report, the same for every front end.

The CLI's commands and a web page drive a :class:`Job`; neither wires the steps itself. A job reads and
checks the file, loads the settings and opens the journal when a step needs them, and returns what each
step found (``steps.py``), whose ``summary()`` is the JSON a front end shows. It never prints and never
asks: confirming is the front end's (``preview()`` says what an apply would do), and so are exit codes
(each step result carries the one the library assigns).

Cancelling (``dispatch.CancelToken``) is Ctrl-C by another name: no new calls, calls in flight finish,
everything written; a plan's reads stop the same way (``Interrupted``: no half plan). ``aapply()`` runs an
apply on an event loop that must not block (a web server's), through ``Replay.arun``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..apply.replay import ApplyOptions, ApplyOutcome, Replay, RowResult, require_settings, target_of
from ..checking.report import ValidationReport
from ..checking.validation import validate_file
from ..errors import JournalError, ValidationFailed
from ..http.dispatch import CancelToken
from ..journal import Action, Journal, default_journal_path
from ..reports.plan import applied_rows, make_plan, write_plan
from ..reports.results import write_results
from ..settings import Settings, load_settings
from ..sheets.table import RawTable
from .live import RunProgress, RunState
from .steps import Applied, ApplyPreview, Planned, Validation, Written, rows_to_send
from .tasks import configured_secrets

__all__ = ["DEFAULT_READ_CONCURRENCY", "Job"]

DEFAULT_READ_CONCURRENCY = 8
"""Reads in flight at once when reading current values (plan, and the preview of an apply)."""

ReadProgress = Callable[[int, int], None]
"""``on_read(done, total)``: records read so far, of how many."""


class Job:
    """One input file and the steps taken on it; each step's result is kept for ``write_report``."""

    def __init__(self, path: str | Path, *, operation: str | None = None, sheet: str | None = None,
                 timezone: str | None = None, settings: Settings | None = None, profile: str | None = None,
                 config_path: str | None = None, journal_path: str | Path | None = None,
                 accept_lost_zeros: bool = False, keep_table: bool = False, encoding: str | None = None) -> None:
        self.path = Path(path)
        self.accept_lost_zeros = accept_lost_zeros
        """Numbers Excel may have stripped of their leading zeros are right as they are: validation, plan and
        apply's before-read let them through (``--accept-lost-zeros``); otherwise their rows are held back."""
        self.operation = operation
        self.sheet = sheet
        self.timezone = timezone
        self.encoding = encoding
        """A CSV file's encoding when its bytes do not say it (``--encoding``); None: found from the file."""
        self.profile = profile
        self.config_path = config_path
        self.journal_path = Path(journal_path) if journal_path is not None else None
        self._settings = settings
        self.keep_table = keep_table
        self.table: RawTable | None = None
        """The sheet as read (raw cells), kept by ``validate`` when ``keep_table``: a page's data grid."""
        self.validation: Validation | None = None
        self.planned: Planned | None = None
        self.applied: Applied | None = None
        self._last: Validation | Planned | Applied | None = None
        self.progress = RunProgress()
        self.replay: Replay | None = None
        """The apply under way or last run (its live pace: ``Replay.live``; ``Replay.cancel``)."""

    # --- what the steps share -------------------------------------------------------------------------

    @property
    def report(self) -> ValidationReport:
        """The validation report, validating the file first if no step has yet."""
        return (self.validation or self.validate()).report

    @property
    def settings(self) -> Settings:
        """The connection settings (profile, config file, ``BATCHOPS_*``), loaded on first use."""
        if self._settings is None:
            self._settings = load_settings(profile=self.profile, config_path=self.config_path)
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        """Use these settings from now on (a front end whose user switched to another profile)."""
        self._settings = value

    @property
    def target(self) -> str:
        """The base URL this file's calls go to; raises ConfigError when a setting they need is missing."""
        require_settings(self.report.operation, self.settings)
        return target_of(self.report.operation, self.settings)

    def _require_valid(self, *, allow_invalid: bool = False) -> ValidationReport:
        report = self.report
        if not report.ok and not allow_invalid:
            raise ValidationFailed(f"{report.summary()}: nothing was done.", report=report,
                                   fix="Fix the errors (see the Errors report), then run again.")
        return report

    # --- validate ---------------------------------------------------------------------------------------

    def validate(self) -> Validation:
        """Read and check the file (again, if it changed): every issue, by sheet, row and column."""
        self.table = None
        report = validate_file(self.path, operation=self.operation, sheet=self.sheet, timezone=self.timezone,
                               encoding=self.encoding, accept_lost_zeros=self.accept_lost_zeros,
                               on_table=self._keep_table if self.keep_table else None)
        self.validation = Validation(report)
        self.planned = self.applied = None
        self._last = self.validation
        return self.validation

    def _keep_table(self, table: RawTable) -> None:
        self.table = table

    # --- plan -------------------------------------------------------------------------------------------

    def plan(self, *, concurrency: int = DEFAULT_READ_CONCURRENCY, force: bool = False,
             on_read: ReadProgress | None = None, cancel: CancelToken | None = None) -> Planned:
        """Read every record the file names and decide each row's action; nothing is changed anywhere.

        Raises ValidationFailed when rows are invalid (nothing is read). A journal that cannot be read is a
        warning in the result: the plan is still worth having, and apply will stop on the same problem.
        ``cancel`` (a front end's Cancel, from any thread) stops the reads, those under way finishing, and
        raises ``Interrupted``; the job keeps its earlier plan, if any.
        """
        from ..http.client import Client

        report = self._require_valid()
        target = self.target
        warnings: list[str] = []
        applied: dict[int, str] = {}
        if not force:
            try:
                applied = self._applied_rows(target)
            except JournalError as exc:
                warnings.append(f"{exc} The plan does not show which rows are applied already.")
        with Client(self.settings) as client:
            plan = make_plan(report, client, concurrency=concurrency, on_read=on_read, applied=applied,
                             accept_lost_zeros=self.accept_lost_zeros, cancel=cancel)
        self.planned = Planned(plan, target, force=force, warnings=warnings)
        self._last = self.planned
        return self.planned

    def _applied_rows(self, target: str) -> dict[int, str]:
        """Rows the journal records as applied; none when there is no journal yet (plan creates none)."""
        journal_file = self.journal_path or default_journal_path()
        if not journal_file.exists():
            return {}
        with Journal(journal_file) as journal:
            return applied_rows(journal, self.report, target)

    # --- apply ------------------------------------------------------------------------------------------

    def preview(self, options: ApplyOptions, *, read: bool = False, concurrency: int = DEFAULT_READ_CONCURRENCY,
                on_read: ReadProgress | None = None, cancel: CancelToken | None = None) -> ApplyPreview:
        """What ``apply(options)`` would do, for a front end to confirm; nothing is sent, nothing locked.

        ``read``: read every record's current values first (as ``plan`` does), so that rows that change
        nothing are counted out of ``to_send``; without it, only the journal's decisions are counted.
        ``cancel`` stops those reads as it stops ``plan``'s.
        """
        report = self._require_valid(allow_invalid=options.skip_invalid)
        target = self.target
        with self._journal() as journal:
            decisions = Replay(report, self.settings, journal=journal, options=options).decisions()
        applied = {d.row_number: d.message for d in decisions if d.action is Action.SKIP}
        to_send = len(decisions) - len(applied)
        plan = None
        if read:
            from ..http.client import Client

            with Client(self.settings) as client:
                plan = make_plan(report, client, concurrency=concurrency, on_read=on_read, applied=applied,
                                 accept_lost_zeros=self.accept_lost_zeros, cancel=cancel)
            to_send = rows_to_send(plan, force=options.force, read_before=options.read_before)
        return ApplyPreview(report.operation, target, report, options.dry_run, rows=len(report.records),
                            invalid=report.invalid_rows, already_applied=len(applied), to_send=to_send,
                            skips_no_change=options.read_before and not options.force, plan=plan,
                            read_before=options.read_before, force=options.force)

    def apply(self, options: ApplyOptions, *, on_progress: Callable[[RowResult], None] | None = None,
              cancel: CancelToken | None = None) -> Applied:
        """Send every valid row that needs it, journal first; return every row's result.

        Raises ValidationFailed when rows are invalid and ``options.skip_invalid`` is not set (nothing is
        sent). ``on_progress(row_result)`` is called as each row ends, in the run's thread; ``progress``
        holds the live counts for other threads. ``cancel`` stops the run as Ctrl-C does (which, here in
        the main thread, cancels the same way: ``interrupted``).
        """
        report, options, row_done = self._start_run(options, on_progress)
        try:
            with self._journal() as journal:  # a dry run reads it to show what would be skipped
                outcome = self._replay(report, journal, options, row_done, cancel).run()
        except BaseException:
            self.progress.finish(RunState.STOPPED, None)
            raise
        return self._finish_run(outcome, report, options)

    async def aapply(self, options: ApplyOptions, *, on_progress: Callable[[RowResult], None] | None = None,
                     cancel: CancelToken | None = None) -> Applied:
        """``apply`` on the running event loop (a web server's): the requests go out on this loop and the
        journal's work runs on threads, so the loop is never blocked for the run and no loop is nested.

        ``on_progress`` is called on this loop. If the awaiting task is cancelled, the run is cancelled as by
        ``cancel`` and finishes its bookkeeping (results, journal) before the cancellation goes on.
        """
        report, options, row_done = self._start_run(options, on_progress)
        cancel = cancel if cancel is not None else CancelToken()
        try:
            journal = await asyncio.to_thread(self._journal)
            try:
                run = asyncio.ensure_future(self._replay(report, journal, options, row_done, cancel).arun())
                try:
                    outcome = await asyncio.shield(run)
                except asyncio.CancelledError:
                    cancel.cancel()
                    self._finish_run(await run, report, options)
                    raise
            finally:
                await asyncio.to_thread(journal.close)
        except BaseException:
            if self.progress.state is RunState.RUNNING:
                self.progress.finish(RunState.STOPPED, None)
            raise
        return self._finish_run(outcome, report, options)

    def _start_run(self, options: ApplyOptions, on_progress: Callable[[RowResult], None] | None
                   ) -> tuple[ValidationReport, ApplyOptions, Callable[[RowResult], None]]:
        """Check the file and the settings, start the live counts; the options the run takes (the job's
        ``accept_lost_zeros``, as the file was validated) and the callback each row's result goes to."""
        report = self._require_valid(allow_invalid=options.skip_invalid)
        require_settings(report.operation, self.settings)
        options = dataclasses.replace(options, accept_lost_zeros=self.accept_lost_zeros)  # as it was validated
        progress = self.progress
        progress.start(len(report.records))

        def row_done(result: RowResult) -> None:
            progress.row_done(result)
            if on_progress is not None:
                on_progress(result)

        return report, options, row_done

    def _replay(self, report: ValidationReport, journal: Journal, options: ApplyOptions,
                row_done: Callable[[RowResult], None], cancel: CancelToken | None) -> Replay:
        self.replay = Replay(report, self.settings, journal=journal, options=options, on_row=row_done,
                             cancel=cancel)
        self.progress.watch(self.replay.live)
        return self.replay

    def _finish_run(self, outcome: ApplyOutcome, report: ValidationReport, options: ApplyOptions) -> Applied:
        self.applied = Applied(outcome, report, options)
        self._last = self.applied
        self.progress.finish(self.applied.state, outcome.run_id)
        return self.applied

    def _journal(self) -> Journal:
        return Journal(self.journal_path, secret_values=configured_secrets(self.settings))

    # --- reports ----------------------------------------------------------------------------------------

    def write_report(self) -> Written:
        """Write the last step's report into the workbook (or beside a CSV): Errors, Plan or Results.

        Every write into a workbook is checked before it replaces the file (``sheets.writeback``). A
        workbook that cannot take the report (open in Excel, read-only, an .xls, a failed check) is not an
        error: the report goes to a file beside it and ``Written.warning`` says why. A file without issues
        gets no Errors report; ``Written.note`` says what stale one of an earlier run was taken away.
        """
        from ..reports.error_report import write_error_report

        last = self._last or self.validate()
        if isinstance(last, Validation):
            found = write_error_report(last.report)
        elif isinstance(last, Planned):
            found = write_plan(last.plan)
        else:
            found = write_results(last.report, last.outcome)
        last.written = Written(found.path, found.warning(self.path), sheet=found.sheet, note=found.note(self.path))
        return last.written

