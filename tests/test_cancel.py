"""Cancellation as a library concept and a run driven from a running event loop (issue 13).

A ``CancelToken`` cancelled from another thread, from a task of the caller's loop, or before the run starts
stops a run as Ctrl-C does: requests in flight finish and are recorded, the rest stay not-sent, and the same
command run again finishes the rest. ``Replay.arun`` runs on the caller's loop without blocking it.
"""

from __future__ import annotations

import asyncio
import threading

from reliability_helpers import settings_workbook, use_sandbox

from batchops.apply.replay import ApplyOptions, Replay, Status
from batchops.checking.validation import validate_file
from batchops.http.dispatch import CancelToken, StopReason
from batchops.journal import Journal
from batchops.settings import load_settings


def replay_of(path, journal, **options) -> Replay:
    return Replay(validate_file(path), load_settings(), journal=journal,
                  options=ApplyOptions(force=True, **options))


def assert_stopped_cleanly(outcome, sandbox, journal, total: int) -> None:
    counts = outcome.counts()
    assert counts["failed"] == 0 and counts["ok"] + counts["not-sent"] == total
    assert 0 < counts["ok"] < total and outcome.left_to_send == counts["not-sent"]
    assert sum(sandbox.applied_counts().values()) == counts["ok"]  # in flight finished, nothing else went
    run = journal.runs()[0]
    assert run.status.value == "interrupted"
    assert run.counts["ok"] == counts["ok"] and run.counts["not-sent"] == counts["not-sent"]
    assert run.counts["in_flight"] == 0


def test_cancel_from_another_thread_stops_like_ctrl_c(sandbox, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, sandbox)
    path, _ = settings_workbook(tmp_path / "agents.xlsx", sandbox, 60)
    sandbox.set_faults(latency_ms=30)
    with Journal(tmp_path / "j.sqlite3") as journal:
        replay = replay_of(path, journal, concurrency=2, read_before=False)
        seen = threading.Event()

        def on_row(result) -> None:
            if result.status is Status.OK and not seen.is_set():
                seen.set()
                threading.Thread(target=replay.cancel.cancel).start()  # as a web handler would, on its thread

        replay.on_row = on_row
        outcome = replay.run()
        assert outcome.stop_reason is StopReason.CANCELLED and outcome.exit_code() == 130
        assert_stopped_cleanly(outcome, sandbox, journal, 60)
        assert {r.message for r in outcome.results if r.status is Status.NOT_SENT} == \
            {"not sent: the run was cancelled"}
        # The same apply again sends exactly what is left.
        again = replay_of(path, journal, concurrency=4)
        again.options.force = False
        rest = again.run()
    assert rest.counts()["ok"] == outcome.counts()["not-sent"]
    assert set(sandbox.applied_counts().values()) == {1}


def test_arun_on_a_running_loop_does_not_block_it_and_a_task_can_cancel_it(sandbox, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, sandbox)
    path, _ = settings_workbook(tmp_path / "agents.xlsx", sandbox, 40)
    sandbox.set_faults(latency_ms=30)
    seen_mid_run: list[int] = []

    async def main(journal: Journal):
        replay = replay_of(path, journal, concurrency=2)
        running = asyncio.ensure_future(replay.arun())
        while not running.done():  # another task of the same loop keeps going while the run sends
            sent = replay.live().sent
            if 0 < sent < 40:
                seen_mid_run.append(sent)
            if sent >= 10:
                replay.cancel.cancel()
            await asyncio.sleep(0.005)
        return await running

    with Journal(tmp_path / "j.sqlite3") as journal:
        outcome = asyncio.run(main(journal))
        assert outcome.stop_reason is StopReason.CANCELLED
        assert len(set(seen_mid_run)) > 3  # the loop served other work all along the run
        assert_stopped_cleanly(outcome, sandbox, journal, 40)


def test_a_token_cancelled_before_the_run_sends_nothing(sandbox, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, sandbox)
    path, _ = settings_workbook(tmp_path / "agents.xlsx", sandbox, 10)
    token = CancelToken()
    token.cancel()
    with Journal(tmp_path / "j.sqlite3") as journal:
        replay = Replay(validate_file(path), load_settings(), journal=journal, cancel=token,
                        options=ApplyOptions(force=True))
        outcome = replay.run()
    assert outcome.stop_reason is StopReason.CANCELLED
    assert outcome.counts()["not-sent"] == 10 and sandbox.applied_counts() == {}
    assert repr(token) == "CancelToken(reason=cancelled)"


def test_a_token_tells_every_subscriber_once_and_any_thread_may_cancel():
    token = CancelToken()
    heard: list[StopReason] = []
    unsubscribe = token.subscribe(heard.append)
    threads = [threading.Thread(target=token.cancel, args=(StopReason.INTERRUPTED,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unsubscribe()
    late: list[StopReason] = []
    token.subscribe(late.append)  # cancelled already: told at once
    assert heard == [StopReason.INTERRUPTED] and late == [StopReason.INTERRUPTED]
    assert token.cancelled and token.reason is StopReason.INTERRUPTED
