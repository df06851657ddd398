"""Helpers for the web tests: a real server on a loopback port, real workbooks to upload."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from batchops.sheets.writer import SheetSpec, write_xlsx
from batchops.web import RunningWeb, ServeOptions, WebApp, start_web

TOKEN = "test-token-0123456789abcdefghijklmnop"
SETTINGS_HEADERS = ["id", "userId", "callType", "callerPresent", "callNumber", "callNumberDefault",
                    "callerPresentDefault"]


def make_web(tmp_path: Path, **options: Any) -> WebApp:
    """A WebApp with a known token, its uploads and journal under ``tmp_path``, on a free port."""
    options.setdefault("upload_root", tmp_path / "uploads")
    options.setdefault("journal_path", str(tmp_path / "journal.sqlite3"))
    options.setdefault("port", 0)
    return WebApp(ServeOptions(**options), token=TOKEN)


@contextmanager
def serving(tmp_path: Path, **options: Any) -> Iterator[RunningWeb]:
    """``batchops serve`` in a thread on a free loopback port; stopped (uploads removed) at the end."""
    with start_web(make_web(tmp_path, **options)) as running:
        yield running


@contextmanager
def client_for(running: RunningWeb, *, bearer: bool = True) -> Iterator[httpx.Client]:
    """An HTTP client of the running server; with the bearer token unless ``bearer=False``."""
    headers = {"Authorization": f"Bearer {running.web.token}"} if bearer else {}
    with httpx.Client(base_url=running.url, headers=headers, timeout=30) as client:
        yield client


def origin(running: RunningWeb) -> str:
    """The page's own origin, as a browser sends it in ``Origin``."""
    return running.url


def settings_rows(count: int, *, start: int = 0) -> list[list[str]]:
    """``count`` valid agent-settings rows (19-digit ids as text)."""
    return [[f"{1307145259662214000 + start + i}", f"{1611917095665261000 + start + i}", "1",
             f"0755{2000 + i:04d}", f"0755{2000 + i:04d}", f"0755{2000 + i:04d}", f"0755{8000 + i}"]
            for i in range(count)]


def settings_workbook(path: Path, rows: Sequence[Sequence[str]], *, sheet: str = "agent-settings") -> Path:
    """A real agent-settings workbook holding ``rows``, every cell as text."""
    write_xlsx(path, [SheetSpec(sheet, list(SETTINGS_HEADERS), [list(r) for r in rows])])
    return path


def upload(client: httpx.Client, path: Path, name: str | None = None, url: str = "/api/files",
           **fields: str) -> Any:
    """POST a file as multipart ``file`` (the client's name ``name``), with text fields."""
    with path.open("rb") as fh:
        return client.post(url, files={"file": (name or path.name, fh, "application/octet-stream")},
                           data=fields)


def sandbox_rows(sandbox: Any, count: int) -> list[list[str]]:
    """``count`` valid agent-settings rows for the sandbox's own records, with new numbers (as the demo does)."""
    settings = sorted(sandbox.agent_settings(), key=lambda s: s["id"])[:count]
    rows = []
    for i, record in enumerate(settings):
        number = f"0755{3000 + i:04d}"
        rows.append([str(record["id"]), str(record["userId"]), "1", f"{number},{number}1", number, number,
                     f"0755{9000 + i}"])
    return rows


def wait_for_end(client: httpx.Client, run_id: str) -> dict[str, Any]:
    """Follow the run's event stream until its ``end`` event; returns that event's data."""
    import json

    kind = None
    with client.stream("GET", f"/api/runs/{run_id}/events") as answer:
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "end":
                return json.loads(line[6:])  # type: ignore[no-any-return]
    raise AssertionError("the event stream ended without an end event")
