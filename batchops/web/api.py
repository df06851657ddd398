"""The HTTP API the page is built on (and other programs may use): JSON in, the library's JSON out.

Every route is behind the ``Guard`` (token, Host, origin). Errors answer ``{"error": "one line"}`` with
a status a program can act on: 400 bad request, 404 unknown id, 409 busy, 413 too large, 415 not
multipart, 422 a file that cannot be used, 503 the target cannot be reached or is not configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import BatchopsError, ConfigError, InputError, JournalError, RemoteError
from .files import FileEntry, check, file_json, issue_json, new_file_id, page_bounds, select_issues
from .files import grid_page as make_grid_page
from .multipart import UploadError, receive_upload
from .runs import WebRun, sse_lines

if TYPE_CHECKING:
    from .app import WebApp

MAX_JSON_BYTES = 64 * 1024
"""JSON request bodies are small option objects."""


def web_of(request: Request) -> WebApp:
    """The ``WebApp`` this request is served by."""
    return request.app.state.web  # type: ignore[no-any-return]


def error_json(status: int, message: str) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


def status_of(exc: BatchopsError) -> int:
    """The HTTP status of a library error: bad input 422, configuration 503, busy journal 409…"""
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, (ConfigError, RemoteError)):
        return 503
    if isinstance(exc, JournalError):
        return 409
    return 400


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); 400 when it is not a small JSON object."""
    import json

    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise UploadError(413, "the request body is too large.")
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise UploadError(400, "the request body is not JSON.") from None
    if not isinstance(data, dict):
        raise UploadError(400, "the request body must be a JSON object.")
    return data


def file_or_404(request: Request) -> FileEntry:
    """The uploaded file named by the path's ``file_id``, or 404."""
    entry = web_of(request).files.get(request.path_params["file_id"])
    if entry is None:
        raise HTTPException(404, "no such file on this server (uploads are forgotten when it restarts).")
    return entry


def run_or_404(request: Request) -> WebRun:
    """The run named by the path's ``run_id``, or 404."""
    run = web_of(request).runs.get(request.path_params["run_id"])
    if run is None:
        raise HTTPException(404, "no such run on this server.")
    return run


def int_param(request: Request, name: str) -> int | None:
    """An optional whole-number query parameter; 400 when it is not one."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise UploadError(400, f"'{name}' must be a whole number.") from None


# -- files ------------------------------------------------------------------------------------------


async def receive_and_check(request: Request, replace: FileEntry | None = None) -> FileEntry:
    """Stream the upload into the private folder and check it with the library's code."""
    web = web_of(request)
    upload = await receive_upload(dict(request.headers), request.stream(), web.store,
                                  web.options.max_upload_bytes)
    entry = FileEntry(id=replace.id if replace else new_file_id(), name=upload.name, path=upload.path,
                      size=upload.size, operation=upload.fields.get("operation") or None,
                      sheet=upload.fields.get("sheet") or None)
    if replace is not None and entry.operation is None:
        entry.operation = replace.report.operation.name if replace.report else replace.operation
    await run_in_threadpool(check_and_mark, entry, web.options.timezone)
    return entry


def check_and_mark(entry: FileEntry, timezone: str | None) -> None:
    """Check the file; mark its bad cells and write its Errors sheet into the stored copy, as validate does."""
    from ..error_report import write_error_report

    check(entry, timezone)
    if entry.report is not None:
        try:
            write_error_report(entry.report)
        except BatchopsError as exc:  # the check stands; only the marked copy is missing
            entry.report.notes.append(f"the Errors sheet could not be written: {exc}")


def discard(entry: FileEntry) -> None:
    """Remove an upload that cannot be used, and the folder it was stored in."""
    import shutil

    shutil.rmtree(entry.path.parent, ignore_errors=True)


async def post_file(request: Request) -> Response:
    """``POST /api/files``: upload (multipart ``file``, optional ``operation``, ``sheet``) and check."""
    entry = await receive_and_check(request)
    if entry.problem is not None:
        discard(entry)
        return error_json(422, entry.problem)
    web_of(request).files.add(entry)
    return JSONResponse(file_json(entry), status_code=201)


async def replace_file(request: Request) -> Response:
    """``POST /api/files/{id}``: a corrected file in place of the one uploaded, checked again."""
    old = file_or_404(request)
    entry = await receive_and_check(request, replace=old)
    if entry.problem is not None:
        discard(entry)
        return error_json(422, entry.problem)
    web_of(request).files.add(entry)
    if old.path.parent != entry.path.parent:
        discard(old)
    return JSONResponse(file_json(entry), status_code=200)


async def get_file(request: Request) -> Response:
    """``GET /api/files/{id}``: what checking the file found."""
    return JSONResponse(file_json(file_or_404(request)))


async def get_errors(request: Request) -> Response:
    """``GET /api/files/{id}/errors?offset=&limit=&column=&code=``: one page of the file's problems."""
    entry = file_or_404(request)
    if entry.report is None:
        return JSONResponse({"total": 0, "offset": 0, "limit": 0, "errors": []})
    issues = select_issues(entry.report, request.query_params.get("column"), request.query_params.get("code"))
    offset, limit = page_bounds(int_param(request, "offset"), int_param(request, "limit"), len(issues))
    return JSONResponse({"total": len(issues), "offset": offset, "limit": limit,
                         "errors": [issue_json(i) for i in issues[offset:offset + limit]]})


async def get_rows(request: Request) -> Response:
    """``GET /api/files/{id}/rows?offset=&limit=&only_bad=1``: one page of the data grid."""
    entry = file_or_404(request)
    if entry.table is None:
        return JSONResponse({"total": 0, "offset": 0, "limit": 0, "headers": [], "rows": []})
    page = make_grid_page(entry.table, entry.report, int_param(request, "offset"), int_param(request, "limit"),
                          only_bad=request.query_params.get("only_bad") in ("1", "true"))
    return JSONResponse({
        "total": page.total, "offset": page.offset, "limit": page.limit, "headers": page.headers,
        "columns": page.letters,
        "rows": [{"row": n, "error": page.bad_rows.get(n),
                  "cells": [{"value": text, "error": message} for text, message in cells]}
                 for n, cells in page.rows],
    })


def download_name(name: str, suffix: str | None = None) -> str:
    """The client's file name for a download, with another suffix when the content has one."""
    from pathlib import PurePath

    if suffix is None:
        return name
    return f"{PurePath(name).stem}{suffix}"


def attachment(path: Any, name: str, media_type: str | None = None) -> FileResponse:
    """A download under the client's own file name (RFC 6266 ``filename*``; Starlette quotes it)."""
    return FileResponse(path, filename=name, media_type=media_type, content_disposition_type="attachment")


async def get_workbook(request: Request) -> Response:
    """``GET /api/files/{id}/workbook``: the file as it now is, with the sheets written into it."""
    entry = file_or_404(request)
    media = "text/csv" if entry.path.suffix.lower() in (".csv", ".txt", ".tsv") else (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return attachment(entry.path, download_name(entry.name), media)


async def get_error_report(request: Request) -> Response:
    """``GET /api/files/{id}/errors.csv``: a CSV upload's error report (an xlsx holds its Errors sheet)."""
    from ..error_report import errors_csv_path

    entry = file_or_404(request)
    path = errors_csv_path(entry.path)
    if not path.exists():
        raise HTTPException(404, "this file has no error report.")
    return attachment(path, download_name(entry.name, ".errors.csv"), "text/csv")


# -- target -----------------------------------------------------------------------------------------


async def get_target(request: Request) -> Response:
    """``GET /api/target``: the profile, config file and URLs in use (no secret)."""
    target = await run_in_threadpool(web_of(request).target.describe)
    return JSONResponse(target.as_json())


async def post_target(request: Request) -> Response:
    """``POST /api/target`` ``{"profile": NAME}``: use another profile of the config file."""
    body = await read_json(request)
    profile = body.get("profile")
    if not isinstance(profile, str) or not profile:
        return error_json(400, "send {\"profile\": NAME} with a profile of the config file.")
    web = web_of(request)
    if any(not r.finished for r in web.runs.runs.values()):
        return error_json(409, "a run is under way; change the profile when it has finished.")
    try:
        target = await run_in_threadpool(web.target.choose, profile)
    except ConfigError as exc:  # a profile the file does not have: the request's fault, not the server's
        return error_json(400, str(exc))
    return JSONResponse(target.as_json())


# -- runs -------------------------------------------------------------------------------------------


async def get_runs(request: Request) -> Response:
    """``GET /api/runs``: this server's runs (live), then the journal's runs as ``batchops runs --json``."""
    web = web_of(request)
    live = list({id(r): r for r in web.runs.runs.values()}.values())
    journal = await run_in_threadpool(journal_runs, web.journal_path)
    return JSONResponse({"live": [r.snapshot() for r in live], "runs": journal})


def journal_runs(journal_path: str | None, limit: int | None = None) -> list[dict[str, Any]]:
    """The journal's runs, newest first, as ``batchops runs --json`` lists them; none without a journal."""
    from pathlib import Path

    from ..audit import RUN_HEADERS, run_row
    from ..journal import Journal, default_journal_path

    path = Path(journal_path) if journal_path else default_journal_path()
    if not path.exists():
        return []
    with Journal(path) as journal:
        found = journal.runs()
    return [dict(zip(RUN_HEADERS, run_row(r))) for r in found[:limit]]


async def get_run(request: Request) -> Response:
    """``GET /api/runs/{run_id}``: ``{"state", "total", "counts", …}``."""
    return JSONResponse(run_or_404(request).snapshot())


async def run_events(request: Request) -> Response:
    """``GET /api/runs/{run_id}/events``: the run's live progress as Server-Sent Events."""
    run = run_or_404(request)
    registry = web_of(request).runs

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        async for event in registry.events(run):
            yield sse_lines(event)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})


async def cancel_run(request: Request) -> Response:
    """``POST /api/runs/{run_id}/cancel``: stop as Ctrl-C does (calls in flight finish, results written)."""
    run = run_or_404(request)
    web_of(request).runs.cancel(run)
    return JSONResponse(run.snapshot(), status_code=202)


# -- errors -----------------------------------------------------------------------------------------


def wants_json(request: Request) -> bool:
    """API routes answer JSON; pages answer HTML."""
    return request.url.path.startswith("/api/")


async def on_upload_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UploadError)
    if wants_json(request):
        return error_json(exc.status, exc.message)
    from .pages import error_page

    return error_page(request, exc.status, exc.message)


async def on_batchops_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchopsError)
    if wants_json(request):
        return error_json(status_of(exc), str(exc))
    from .pages import error_page

    return error_page(request, status_of(exc), str(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return error_json(exc.status_code, str(exc.detail))
    from .pages import error_page

    return error_page(request, exc.status_code, str(exc.detail))


async def on_internal_error(request: Request, exc: Exception) -> Response:
    message = (f"internal error ({type(exc).__name__}). Please report it; the server's terminal has the "
               "details when started with BATCHOPS_DEBUG=1.")
    if wants_json(request):
        return error_json(500, message)
    from .pages import error_page

    return error_page(request, 500, message)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    UploadError: on_upload_error,
    BatchopsError: on_batchops_error,
    HTTPException: on_http_error,
    Exception: on_internal_error,
}

ROUTES = [
    Route("/api/files", post_file, methods=["POST"]),
    Route("/api/files/{file_id}", get_file, methods=["GET"]),
    Route("/api/files/{file_id}", replace_file, methods=["POST"]),
    Route("/api/files/{file_id}/errors", get_errors, methods=["GET"]),
    Route("/api/files/{file_id}/errors.csv", get_error_report, methods=["GET"]),
    Route("/api/files/{file_id}/rows", get_rows, methods=["GET"]),
    Route("/api/files/{file_id}/workbook", get_workbook, methods=["GET"]),
    Route("/api/target", get_target, methods=["GET"]),
    Route("/api/target", post_target, methods=["POST"]),
    Route("/api/runs", get_runs, methods=["GET"]),
    Route("/api/runs/{run_id}", get_run, methods=["GET"]),
    Route("/api/runs/{run_id}/events", run_events, methods=["GET"]),
    Route("/api/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
]
