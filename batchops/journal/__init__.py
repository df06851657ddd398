"""The journal: a SQLite record of every run and every row, so that a row is never lost or sent twice.

One file (``default_journal_path()``, or ``--journal PATH``) holds three tables:

``runs``   one per ``apply``: file name, absolute path and SHA-256, sheet, operation, target (base URL),
           operator, host, pid, batchops version, options (JSON), start, heartbeat, end, status
           (``running`` → ``finished`` | ``interrupted`` | ``failed``).
``rows``   one per data row of a run: Excel row number, record key, content hash, the decision that was
           taken for it, the request (secrets masked), status (``pending`` → ``in_flight`` → ``ok`` |
           ``failed``; or ``pending`` → ``invalid`` | ``skipped`` | ``not-sent`` | ``failed``), HTTP status,
           return code, message, attempts, times, and the before/after values (JSON) for audit and undo.
``locks``  which run holds which input file (by absolute path and by SHA-256).

How a run uses it::

    journal = Journal(path)
    run = journal.start_run(file, operation=..., target=...)        # lock, crash recovery, notices
    plan = journal.plan_resume(file, operation, target, rows)        # skip what is already applied
    journal.add_rows(run.id, plan.decisions)                         # pending / skipped, one transaction
    journal.mark_in_flight(run.id, row, request=...)                 # committed BEFORE the request is sent
    journal.record_result(run.id, row, RowStatus.OK, http_status=200, ...)   # committed as it finishes
    journal.finish_run(run.id)                                       # rows never reached → not-sent

**Durability.** Each transition is its own committed transaction. WAL with ``synchronous=NORMAL`` keeps a
commit through a killed process (the WAL is in the OS's hands once ``commit`` returns) but not through a
power cut or kernel crash; ``Journal(durable=True)`` uses ``synchronous=FULL`` for that, at some cost
(see ``bench/bench_journal.py``).

**Resume.** See :mod:`.resume`: the unit is the row's *content*, matched by operation + target + record
key + content hash, never by row number, so a file edited between runs (rows inserted, moved, changed) is
handled row by row.

**Two runs on one file.** A lock row per input file (by path and by SHA-256, so a copy of the file is the
same file) plus an OS lock (``fcntl.flock``) on a small file in ``<journal>.locks/``. The OS lock dies
with its process, which tells a crashed run from a live one on this machine even when its pid has been
reused; for a holder on another host the heartbeat decides (stale after ``stale_after``).

The modules, one concern each:

``journal``      the :class:`Journal` facade: runs, rows, resume plans, queries
``records``      the statuses and the frozen records handed out
``schema``       where the file lives, opening it privately, the migrations
``db``           one transaction per step; sqlite3/OS errors as JournalError with a fix
``locks``        lock rows, liveness of their holders, take-over of dead runs
``oslocks``      the ``flock`` per input file that dies with its process
``transitions``  which row status may follow which, and why a refused one was refused
``resume``       which rows to send or skip, by content
``queries``      the read side: runs with counts, rows, the audit stream
``hashing``      content hashes and file SHA-256
``masking``      secrets scrubbed from everything written
``stamps``       time stamps and since/until bounds
``writer``       the journal's writes on one background thread while a run's requests are out
"""

from __future__ import annotations

from .db import journal_error
from .hashing import content_hash, file_sha256
from .journal import HEARTBEAT_EVERY, Journal
from .locks import DEFAULT_STALE_AFTER
from .records import Action, AuditRow, Decision, Reason, ResumePlan, RowRecord, RowStatus, RunInfo, RunStatus
from .schema import DEFAULT_BUSY_TIMEOUT, SCHEMA_VERSION, default_journal_path
from .writer import JournalWriter

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_STALE_AFTER",
    "HEARTBEAT_EVERY",
    "SCHEMA_VERSION",
    "Action",
    "AuditRow",
    "Decision",
    "Journal",
    "JournalWriter",
    "Reason",
    "ResumePlan",
    "RowRecord",
    "RowStatus",
    "RunInfo",
    "RunStatus",
    "content_hash",
    "default_journal_path",
    "file_sha256",
]

_error = journal_error  # the name the journal's tests have always used
