"""A made-up operation declared here, in one catalogue entry, gets the whole walk from the library unchanged:
template, validation, export, plan, apply and undo, against a small server of this module's own on 127.0.0.1.

Nothing in ``batchops`` knows this operation: it is added to the catalogue for the test only. Its API is
invented to differ from the real ones where a read side can differ: paging by page number from 0 with
``pageNo``/``pageSize``, records under ``queues`` with a ``count``, its own success code, a fact that
blocks an update, and a by-key query whose answer wraps the record in ``data``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openpyxl
import pytest

from batchops.apply.replay import ApplyOptions, Replay, Status
from batchops.catalogue import OPERATIONS, Field, Kind, Operation, Success
from batchops.checking.validation import validate_file
from batchops.http.client import Client
from batchops.journal import Journal
from batchops.readspec import Blocker, Fact, KeyQuery, Listing, Paging, ReadSide
from batchops.reports.export import export
from batchops.reports.plan import PlanAction, make_plan
from batchops.reports.templates import write_template
from batchops.reports.undo import plan_undo, write_undo
from batchops.settings import load_settings

BASE = "/apiaccess/queue-admin/v1"

QUEUE_LIMIT = Operation(
    name="queue-limit",
    title="Skill queue waiting limits (a made-up operation)",
    api="queue/update",
    family="c1",
    path=f"{BASE}/queue/update",
    key=("queueId",),
    success=Success(("code",), ("OK",), ("message",)),
    doc="Sets how many callers may wait in a skill queue.",
    fields=(
        Field("queueId", Kind.ID, "ID of the skill queue.", required=True, example="7001"),
        Field("maxWaiting", Kind.INTEGER, "Callers that may wait.", as_int=True, minimum=1, maximum=500,
              example="20"),
        Field("overflowNumber", Kind.NUMBER, "Where callers go when the queue is full.", max_length=15,
              example="075512345678"),
    ),
    read=ReadSide(
        export_name="queue-limits",
        by_key=KeyQuery(f"{BASE}/queue/get", params=("queueId",), markers=("queueId",)),
        listing=Listing(f"{BASE}/queue/list", items=(("queues",),), total=(("count",),),
                        paging=Paging(size_param="pageSize", offset_param=None, page_param="pageNo", first_page=0,
                                      max_size=2)),
        facts=(Fact("queueName"), Fact("locked", labels={"0": "open", "1": "locked"})),
        blockers=(Blocker("locked", frozenset({"1"}), "the queue {queueId} is locked"),),
        label=("queueName",),
    ),
)


class QueueServer(BaseHTTPRequestHandler):
    """The made-up API: a token, one update, a by-key query and a paged list; state in ``server.queues``."""

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        queues: dict[str, dict[str, Any]] = self.server.queues  # type: ignore[attr-defined]
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.endswith("tokenByAkSk"):
            return self._send({"AccessToken": "made-up-token", "Expires": "600"})
        if self.headers.get("authorization") != "Bearer made-up-token":
            return self._send({"code": "AUTH", "message": "no token"}, 401)
        if self.path == f"{BASE}/queue/get":
            queue = queues.get(body.get("queueId"))
            return self._send({"code": "OK", "data": queue} if queue else {"code": "NOT_FOUND"})
        if self.path == f"{BASE}/queue/list":
            size, page = body["pageSize"], body["pageNo"]
            rows = list(queues.values())
            return self._send({"code": "OK", "count": len(rows), "queues": rows[page * size:(page + 1) * size]})
        if self.path == f"{BASE}/queue/update":
            queue = queues.get(body.get("queueId"))
            if queue is None:
                return self._send({"code": "NOT_FOUND", "message": "no such queue"})
            if queue["locked"]:
                return self._send({"code": "LOCKED", "message": "the queue is locked"})
            queues[queue["queueId"]] = {**queue, **{k: v for k, v in body.items() if k != "queueId"}}
            return self._send({"code": "OK", "message": "updated"})
        return self._send({"code": "NO_PATH"}, 404)

    def _send(self, answer: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


QUEUES = {
    "7001": {"queueId": "7001", "queueName": "Billing", "maxWaiting": 10, "overflowNumber": "075512345678",
             "locked": 0},
    "7002": {"queueId": "7002", "queueName": "Sales", "maxWaiting": 25, "overflowNumber": "", "locked": 0},
    "7003": {"queueId": "7003", "queueName": "VIP", "maxWaiting": 5, "overflowNumber": "4008", "locked": 1},
    "7004": {"queueId": "7004", "queueName": "Night", "maxWaiting": 3, "overflowNumber": "0101", "locked": 0},
    "7005": {"queueId": "7005", "queueName": "Spare", "maxWaiting": 1, "overflowNumber": "", "locked": 0},
}


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    """The made-up API on a free loopback port, with five queues (one locked)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), QueueServer)
    httpd.queues = {k: dict(v) for k, v in QUEUES.items()}  # type: ignore[attr-defined]
    httpd.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def settings(server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings for the made-up server, and the operation in the catalogue for this test only."""
    monkeypatch.setitem(OPERATIONS, QUEUE_LIMIT.name, QUEUE_LIMIT)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return load_settings(env={"BATCHOPS_BASE_URL": url, "BATCHOPS_APP_KEY": "k", "BATCHOPS_APP_SECRET": "s"})


def test_a_new_operation_is_one_catalogue_entry(server, settings, tmp_path):
    queues = server.queues
    # Template: derived from the entry, stamped with it.
    template = write_template(QUEUE_LIMIT, tmp_path / "template.xlsx")
    assert openpyxl.load_workbook(template).sheetnames[0] == QUEUE_LIMIT.name
    assert validate_file(template).operation is QUEUE_LIMIT

    # Export: the listing, paged two at a time by page number, in the template layout.
    exported = tmp_path / "queues.xlsx"
    with Client(settings) as client:
        result = export(client, "queue-limits", exported)
    assert (result.rows, result.operation, result.blocked) == (5, QUEUE_LIMIT.name, 1)
    assert server.paths.count(f"{BASE}/queue/list") == 3
    book = openpyxl.load_workbook(exported)
    rows = [list(r) for r in book[QUEUE_LIMIT.name].iter_rows(values_only=True)]
    assert rows[:3] == [["queueId", "maxWaiting", "overflowNumber"], ["7001", "10", "075512345678"],
                        ["7002", "25", None]]
    context = [list(r) for r in book["Context"].iter_rows(values_only=True)]
    assert context[0] == ["queueId", "queueName", "locked", "cannot be updated because"]
    assert context[3] == ["7003", "VIP", "1: locked", "the queue 7003 is locked"]

    # Edit: one queue changes, the locked one is edited too, a bad value is refused by validation.
    ws = book[QUEUE_LIMIT.name]
    ws["B2"], ws["B4"] = "40", "6"
    book.save(exported)
    report = validate_file(exported)
    assert report.ok and report.operation is QUEUE_LIMIT and len(report.records) == 5
    ws["B3"] = "501"
    book.save(tmp_path / "bad.xlsx")
    bad = validate_file(tmp_path / "bad.xlsx")
    assert [(i.cell, i.code) for i in bad.errors] == [("B3", "out_of_range")]
    assert "from 1 to 500" in bad.errors[0].message

    # Plan: read by key (the record under data), field by field; the locked queue cannot change.
    with Client(settings) as client:
        plan = make_plan(report, client)
    actions = {r.key: r.action for r in plan.rows}
    assert actions == {"7001": PlanAction.CHANGE, "7002": PlanAction.NO_CHANGE, "7003": PlanAction.CANNOT,
                       "7004": PlanAction.NO_CHANGE, "7005": PlanAction.NO_CHANGE}
    change = next(r for r in plan.rows if r.key == "7001")
    assert [(c.field, c.before, c.after) for c in change.changed] == [("maxWaiting", "10", "40")]
    assert change.label == "queueName Billing"
    assert next(r for r in plan.rows if r.key == "7003").message == "the queue 7003 is locked"

    # Apply: before-values read first, unchanged rows skipped, the locked queue refused by the server.
    journal_path = tmp_path / "journal.sqlite3"
    with Journal(journal_path) as journal:
        outcome = Replay(report, settings, journal=journal, options=ApplyOptions(read_before=True)).run()
    run_id = outcome.run_id
    statuses = {r.key: r.status for r in outcome.results}
    assert statuses == {"7001": Status.OK, "7002": Status.SKIPPED, "7003": Status.FAILED,
                        "7004": Status.SKIPPED, "7005": Status.SKIPPED}
    assert queues["7001"]["maxWaiting"] == 40 and queues["7003"]["maxWaiting"] == 5

    # Undo: the before-values the journal kept, as a file of this operation, applied back.
    with Journal(journal_path) as journal:
        undo = plan_undo(journal, run_id)
    assert undo.rows == [{"queueId": "7001", "maxWaiting": "10", "overflowNumber": "075512345678"}]
    undo_file = write_undo(undo, tmp_path / "undo.xlsx")
    undo_report = validate_file(undo_file)
    assert undo_report.ok and undo_report.operation is QUEUE_LIMIT
    with Journal(journal_path) as journal:
        again = Replay(undo_report, settings, journal=journal, options=ApplyOptions(read_before=True)).run()
    assert [r.status for r in again.results] == [Status.OK]
    assert queues["7001"] == QUEUES["7001"]
