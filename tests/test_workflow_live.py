"""A run's live counts and the one rate, driven by a fake clock; the cancel request; a request as HTTP."""

from __future__ import annotations

from batchops.apply.replay import LiveState, RowResult, Status
from batchops.workflow import RunProgress, RunState, page, request_text, rows_per_second


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_too_few_rows_have_no_rate_and_enough_rows_have_one():
    assert rows_per_second(3, 15.2) is None  # not "0 rows/s"
    assert rows_per_second(9, 1.0) is None
    assert rows_per_second(10, 2.0) == 5.0
    assert rows_per_second(500, 0.0) is None


def test_live_counts_rate_and_eta_from_the_answers():
    clock = Clock()
    progress = RunProgress(clock=clock)
    assert progress.snapshot()["state"] == "ready"
    progress.start(40)
    progress.row_done(RowResult(2, "k", Status.SKIPPED, "already applied"))
    for i in range(21):  # one answer every 0.1 s
        progress.row_done(RowResult(3 + i, "k", Status.OK if i % 7 else Status.FAILED, attempts=1))
        clock.now += 0.1
    snapshot = progress.snapshot()
    assert snapshot == {"state": "running", "run_id": None, "total": 40, "done": 22,
                        "counts": {"ok": 18, "failed": 3, "invalid": 0, "skipped": 1, "not-sent": 0},
                        "sent": 21, "rows_per_second": 10.0, "eta_seconds": 1.8, "held_back": False,
                        "throttled_answers": 0}
    progress.watch(lambda: LiveState(sent=21, seconds=2.1, held_back=True, throttled=4))
    assert (progress.snapshot()["held_back"], progress.snapshot()["throttled_answers"]) == (True, 4)
    progress.finish(RunState.CANCELLED, "20261203-1")
    assert progress.snapshot()["state"] == "cancelled" and progress.snapshot()["eta_seconds"] is None
    assert progress.snapshot()["run_id"] == "20261203-1"
    progress.start(5)  # the next run on the same job counts afresh
    assert progress.snapshot() == {"state": "running", "run_id": None, "total": 5, "done": 0,
                                   "counts": {"ok": 0, "failed": 0, "invalid": 0, "skipped": 0, "not-sent": 0},
                                   "sent": 0, "rows_per_second": None, "eta_seconds": None, "held_back": False,
                                   "throttled_answers": 0}


def test_a_request_reads_as_http():
    request = {"method": "POST", "path": "/apiaccess/x/update", "body": {"id": "1", "name": "规则"},
               "headers": {"x-UserId": "****"}}
    assert request_text(request, "https://aicc.example/") == (
        "POST https://aicc.example/apiaccess/x/update\nx-UserId: ****\n" '{"id": "1", "name": "规则"}')


def test_a_page_is_capped_and_never_negative():
    items = list(range(2500))
    first = page(items, lambda n: {"n": n}, key="items", offset=-5, limit=5000)
    assert (first["total"], first["offset"], first["limit"], len(first["items"])) == (2500, 0, 1000, 1000)
    last = page(items, lambda n: {"n": n}, key="items", offset=2400, limit=200)
    assert [i["n"] for i in last["items"]] == list(range(2400, 2500))


def test_every_workflow_name_loads():
    from batchops import workflow

    assert set(workflow.__all__) == set(workflow._HOMES)
    assert all(getattr(workflow, name) is not None for name in workflow.__all__)
