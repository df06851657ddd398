"""Live runs: a registry on the server, events pushed to every tab, Cancel as Ctrl-C, a run outliving its tab."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from web_helpers import client_for, origin, serving

from batchops.web.runs import RunRegistry, sse_lines


class Gate:
    """A run body the test drives: it reports progress from a worker thread and ends when told."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.handle = None
        self.started = threading.Event()

    async def __call__(self, handle):
        self.handle = handle
        handle.on_cancel(self.cancelled.set)
        handle.on_cancel(self.release.set)
        self.started.set()
        await asyncio.to_thread(self.release.wait, 30)
        done = self.total if not self.cancelled.is_set() else 2
        return {"counts": {"ok": done}, "done": done, "cancelled": self.cancelled.is_set()}


def start(running, gate, total=10):
    run = running.call(lambda: running.web.runs.start(gate, file_id="f1", total=total, label="agents.xlsx"))
    assert gate.started.wait(10)
    return run


def events(client, run_id, until="end"):
    """Read the run's event stream until an event of kind ``until``; yields (kind, data)."""
    kind = None
    with client.stream("GET", f"/api/runs/{run_id}/events") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                yield kind, json.loads(line[6:])
                if kind == until:
                    return


@pytest.fixture
def web(tmp_path):
    with serving(tmp_path) as running:
        yield running


def test_every_tab_gets_the_state_then_progress_then_the_end(web):
    gate = Gate(10)
    run = start(web, gate)
    seen: dict[str, list] = {"a": [], "b": []}

    def follow(name):
        with client_for(web) as client:
            for kind, data in events(client, run.id):
                seen[name].append((kind, data))
                if kind == "state" and name == "a":
                    gate.handle.progress({"done": 4, "counts": {"ok": 4}, "rate": 12.5})

    tabs = [threading.Thread(target=follow, args=(n,)) for n in "ab"]
    for t in tabs:
        t.start()
    while not any(kind == "progress" for kind, _ in seen["a"]):
        threading.Event().wait(0.01)
    gate.release.set()
    for t in tabs:
        t.join(30)
    for name in "ab":
        kinds = [k for k, _ in seen[name]]
        assert kinds[0] == "state" and kinds[-1] == "end"
        final = seen[name][-1][1]
        assert final["state"] == "done" and final["run_id"] == run.id and final["total"] == 10
        assert final["summary"] == {"counts": {"ok": 10}, "done": 10, "cancelled": False}
    progress = [d for k, d in seen["a"] if k == "progress" and d.get("done") == 4]
    assert progress and progress[0]["counts"] == {"ok": 4} and progress[0]["rate"] == 12.5


def test_a_run_goes_on_when_its_tab_closes_and_a_new_tab_sees_it(web):
    gate = Gate(10)
    run = start(web, gate)
    with client_for(web) as client:
        for kind, data in events(client, run.id, until="state"):
            assert (kind, data["state"]) == ("state", "running")
        # the tab closed its stream; the run is still going
        assert client.get(f"/api/runs/{run.id}").json()["state"] == "running"
        gate.handle.progress({"done": 7, "counts": {"ok": 7}})
        gate.release.set()
        kinds = [(k, d["state"]) for k, d in events(client, run.id)]
    assert kinds[-1] == ("end", "done")
    with client_for(web) as client:  # a tab that opens the finished run gets its state and end at once
        late = list(events(client, run.id))
        assert [k for k, _ in late] == ["state", "end"]
        body = client.get(f"/api/runs/{run.id}").json()
        assert body["state"] == "done" and body["counts"] == {"ok": 7} and body["summary"]["done"] == 10


def test_cancel_stops_the_run_as_ctrl_c_does(web):
    gate = Gate(10)
    run = start(web, gate)
    with client_for(web, bearer=False) as browser:
        browser.cookies.set(f"batchops_{web.port}", web.web.token)
        answer = browser.post(f"/api/runs/{run.id}/cancel", headers={"Origin": origin(web)})
        assert answer.status_code == 202 and answer.json()["cancel_requested"] is True
    assert gate.cancelled.wait(10)
    with client_for(web) as client:
        final = list(events(client, run.id))[-1][1]
    assert final["state"] == "cancelled"
    assert final["summary"]["cancelled"] is True


def test_cancel_from_another_site_is_refused(web):
    gate = Gate(10)
    run = start(web, gate)
    with client_for(web, bearer=False) as browser:
        browser.cookies.set(f"batchops_{web.port}", web.web.token)
        answer = browser.post(f"/api/runs/{run.id}/cancel", headers={"Origin": "http://evil.example"})
        assert answer.status_code == 403
    assert not gate.cancelled.is_set()
    gate.release.set()


def test_a_failing_run_is_stopped_with_its_one_line(web):
    async def boom(handle):
        raise RuntimeError("the journal is on a full disk")

    run = web.call(lambda: web.web.runs.start(boom, file_id=None, total=3))
    with client_for(web) as client:
        final = list(events(client, run.id))[-1][1]
    assert final["state"] == "stopped" and final["error"] == "the journal is on a full disk"


def test_stopping_the_server_cancels_runs_under_way(tmp_path):
    gate = Gate(10)
    with serving(tmp_path) as running:
        start(running, gate)
    assert gate.cancelled.is_set()


def test_many_progress_reports_become_a_few_events():
    async def scenario():
        registry = RunRegistry()
        release = asyncio.Event()
        handles = []

        async def work(handle):
            handles.append(handle)
            await release.wait()
            return {"counts": {}}

        run = registry.start(work, file_id=None, total=5000)
        received = []

        async def listen():
            async for event in registry.events(run):
                received.append(event["event"])

        listener = asyncio.get_running_loop().create_task(listen())
        await asyncio.sleep(0)
        for i in range(5000):
            handles[0].progress({"done": i + 1})
        release.set()
        await listener
        return received

    received = asyncio.run(scenario())
    assert received[0] == "state" and received[-1] == "end"
    assert received.count("progress") < 50  # one per tick, not one per row


def test_an_unknown_run_is_404(web):
    with client_for(web) as client:
        assert client.get("/api/runs/nope").status_code == 404
        assert client.get("/api/runs/nope/events").status_code == 404
        assert client.post("/api/runs/nope/cancel").status_code == 404


def test_an_event_is_one_sse_record():
    assert sse_lines({"event": "progress", "data": {"done": 1, "msg": "<b>é</b>"}}) == (
        'event: progress\ndata: {"done": 1, "msg": "<b>é</b>"}\n\n'.encode())
    assert sse_lines({"event": "keepalive", "data": None}) == b": keep-alive\n\n"


def test_a_run_s_states_are_the_library_s_one_definition():
    from pathlib import Path

    import batchops.web
    from batchops.web import runs
    from batchops.workflow import RunState

    assert runs.RunState is RunState  # the page and --json name a run's state with the same words
    sources = Path(batchops.web.__file__).parent.glob("*.py")
    assert not [p.name for p in sources if "class RunState" in p.read_text(encoding="utf-8")]
