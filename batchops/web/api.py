"""The HTTP API the page is built on (and other programs may use): JSON in, the library's JSON out.

Every route is behind the ``Guard`` (token, Host, origin). Errors answer ``{"error": "one line"}`` with
a status a program can act on: 400 bad request, 404 unknown id, 409 busy (or a plan cancelled), 413 too
large, 415 not multipart, 422 a file that cannot be used, 503 the target cannot be reached or is not
configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..apply.replay import ApplyOptions
from ..errors import BatchopsError, ConfigError, InputError, Interrupted, JournalError, RemoteError
from ..workflow import (
    DEFAULT_READ_CONCURRENCY,
    CancelToken,
    Job,
    list_runs,
    make_audit,
    make_undo,
    settings_if_any,
)
from ..workflow.tasks import export_data, run_shape
from .files import FileEntry, check, file_json, grid_page, new_file_id
from .multipart import Refused, receive_upload
from .runs import RunHandle, WebRun, sse_lines

if TYPE_CHECKING:
    from .app import WebApp

MAX_JSON_BYTES = 64 * 1024
"""JSON request bodies are small option objects."""
DEFAULT_ERRORS = 100
"""Items in a page of errors, plan rows or results when ``limit`` is not given."""
DEFAULT_APPLY_CONCURRENCY = 8
"""Requests in flight at once, as ``batchops apply`` has it by default."""


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
            raise Refused(413, "the request body is too large.")
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "the request body is not JSON.") from None
    if not isinstance(data, dict):
        raise Refused(400, "the request body must be a JSON object.")
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
        raise Refused(400, f"'{name}' must be a whole number.") from None


def paging(request: Request) -> tuple[int, int]:
    """``offset`` and ``limit`` of a page request (the library caps the limit)."""
    return int_param(request, "offset") or 0, int_param(request, "limit") or DEFAULT_ERRORS


# -- files ------------------------------------------------------------------------------------------


def new_job(request: Request, path: Path, operation: str | None, sheet: str | None) -> Job:
    """A library ``Job`` on a stored upload, with the server's settings, journal and time zone."""
    web = web_of(request)
    return Job(path, operation=operation, sheet=sheet, timezone=web.options.timezone,
               profile=web.target.profile, config_path=web.target.config_path,
               journal_path=web.journal_path, keep_table=True)


async def receive_and_check(request: Request, replace: FileEntry | None = None) -> FileEntry:
    """Stream the upload into the private folder and check it with the job, as ``validate`` does."""
    web = web_of(request)
    upload = await receive_upload(dict(request.headers), request.stream(), web.store,
                                  web.options.max_upload_bytes)
    operation = upload.fields.get("operation") or None
    if replace is not None and operation is None and replace.validation is not None:
        operation = replace.validation.report.operation.name  # a correction of the same operation
    job = new_job(request, upload.path, operation, upload.fields.get("sheet") or None)
    entry = FileEntry(id=replace.id if replace else new_file_id(), name=upload.name, path=upload.path,
                      size=upload.size, job=job)
    await run_in_threadpool(check, entry)
    return entry


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
    refuse_while_running(request, old)
    async with old.step:
        entry = await receive_and_check(request, replace=old)
    if entry.problem is not None:
        discard(entry)
        return error_json(422, entry.problem)
    web_of(request).files.add(entry)
    if old.path.parent != entry.path.parent:
        discard(old)
    return JSONResponse(file_json(entry), status_code=200)


def refuse_while_running(request: Request, entry: FileEntry) -> None:
    """409 while a run or another step on this file is under way: its file and job are in use."""
    if web_of(request).runs.active_for(entry.id) is not None:
        raise Refused(409, "a run on this file is under way; wait for it to end (or cancel it).")
    if entry.step.locked():
        raise Refused(409, "this file is being planned or replaced; wait for that to end.")


async def get_file(request: Request) -> Response:
    """``GET /api/files/{id}``: what checking the file found."""
    return JSONResponse(file_json(file_or_404(request)))


async def get_errors(request: Request) -> Response:
    """``GET /api/files/{id}/errors?offset=&limit=&column=&code=&severity=``: one page of the problems."""
    entry = file_or_404(request)
    validation = entry.validation
    if validation is None:
        return JSONResponse({"total": 0, "offset": 0, "limit": 0, "errors": []})
    q = request.query_params
    return JSONResponse(validation.issues_page(*paging(request), column=q.get("column") or None,
                                               code=q.get("code") or None, severity=q.get("severity") or None))


async def get_rows(request: Request) -> Response:
    """``GET /api/files/{id}/rows?offset=&limit=&only_bad=1``: one page of the data grid."""
    entry = file_or_404(request)
    page = await run_in_threadpool(grid_page, entry, int_param(request, "offset"), int_param(request, "limit"),
                                   only_bad=request.query_params.get("only_bad") in ("1", "true"))
    return JSONResponse(page.as_json())


def download_name(name: str, suffix: str | None = None) -> str:
    """The client's file name for a download, with another suffix when the content has one."""
    from pathlib import PurePath

    if suffix is None:
        return name
    return f"{PurePath(name).stem}{suffix}"


def attachment(path: Any, name: str, media_type: str | None = None) -> FileResponse:
    """A download under the client's own file name (RFC 6266 ``filename*``; Starlette quotes it)."""
    return FileResponse(path, filename=name, media_type=media_type, content_disposition_type="attachment")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def media_type(path: Path) -> str:
    return "text/csv" if path.suffix.lower() in (".csv", ".txt", ".tsv") else XLSX


async def get_workbook(request: Request) -> Response:
    """``GET /api/files/{id}/workbook``: the file as it now is, with its Errors / Plan / Results sheets."""
    entry = file_or_404(request)
    return attachment(entry.path, download_name(entry.name), media_type(entry.path))


async def get_report_file(request: Request) -> Response:
    """``GET /api/files/{id}/report/{kind}``: a CSV upload's errors, plan or results file (an xlsx holds them
    as sheets), or a Plan / Results workbook written beside a workbook that could not be written."""
    entry = file_or_404(request)
    kind = request.path_params["kind"]
    step = {"errors": entry.job.validation, "plan": entry.job.planned, "results": entry.job.applied}.get(kind)
    written = getattr(step, "written", None)
    path = getattr(written, "path", None)
    if path is None or not Path(path).exists() or Path(path) == entry.path:
        raise HTTPException(404, f"this file has no separate {kind} report.")
    return attachment(path, download_name(entry.name, f".{kind}{Path(path).suffix}"), media_type(Path(path)))


# -- plan and apply ---------------------------------------------------------------------------------


def retarget(request: Request, entry: FileEntry) -> None:
    """Give the job the settings of the profile chosen now (the user may have switched since the upload)."""
    entry.job.settings = web_of(request).target.settings()


def require_valid(entry: FileEntry) -> None:
    """422 when the file cannot be planned or applied as it is: its one line, nothing read or sent."""
    if entry.problem is not None or entry.validation is None:
        raise Refused(422, entry.problem or "this file has not been checked.")


async def post_plan(request: Request) -> Response:
    """``POST /api/files/{id}/plan`` (optional ``{"concurrency": N, "force": bool}``): read every record and
    write the Plan sheet; answers the plan summary (``counts`` per action) without its rows (page them)."""
    entry = file_or_404(request)
    require_valid(entry)
    body = await read_json(request)
    concurrency = bounded(body.get("concurrency"), DEFAULT_READ_CONCURRENCY, 1, 64, "concurrency")
    force = body.get("force") is True
    refuse_while_running(request, entry)  # no await between this check and taking the step lock

    def on_read(done: int, total: int) -> None:
        entry.reading = (done, total)

    def plan() -> dict[str, Any]:
        retarget(request, entry)
        entry.reading = (0, len(entry.job.report.valid_records))
        try:
            planned = entry.job.plan(concurrency=concurrency, force=force, on_read=on_read, cancel=cancel)
        finally:
            entry.reading = None
        entry.job.write_report()
        return planned.summary(rows=False)

    async with entry.step:
        entry.plan_cancel = cancel = CancelToken()
        try:
            summary = await run_in_threadpool(plan)
        except Interrupted as exc:  # the page's Cancel: the earlier plan, if any, stays
            return error_json(409, f"The plan was {exc}")
        finally:
            entry.plan_cancel = None
    return JSONResponse(shown_paths(entry, {"id": entry.id, **summary}))


async def cancel_plan(request: Request) -> Response:
    """``POST /api/files/{id}/plan/cancel``: stop the plan being read (reads under way finish; no Plan sheet)."""
    entry = file_or_404(request)
    cancel = entry.plan_cancel
    if cancel is None:
        return error_json(409, "no plan is being read for this file.")
    cancel.cancel()
    return JSONResponse(file_json(entry), status_code=202)


async def check_again(request: Request) -> Response:
    """``POST /api/files/{id}/check`` ``{"accept_lost_zeros": bool}``: the file checked again with that choice,
    which the job keeps for its plan and apply (``--accept-lost-zeros``)."""
    entry = file_or_404(request)
    body = await read_json(request)
    accept = body.get("accept_lost_zeros")
    if not isinstance(accept, bool):
        raise Refused(400, "send {\"accept_lost_zeros\": true} or false.")
    refuse_while_running(request, entry)  # no await between this check and taking the step lock
    async with entry.step:
        entry.job.accept_lost_zeros = accept
        await run_in_threadpool(check, entry)
    return JSONResponse(file_json(entry))


async def get_plan_rows(request: Request) -> Response:
    """``GET /api/files/{id}/plan?offset=&limit=&action=``: one page of the plan's rows."""
    entry = file_or_404(request)
    if entry.job.planned is None:
        raise HTTPException(404, "this file has no plan yet: POST /api/files/{id}/plan makes one.")
    return JSONResponse(entry.job.planned.rows_page(*paging(request),
                                                   action=request.query_params.get("action") or None))


def bounded(value: Any, default: int, low: int, high: int, name: str) -> int:
    """A whole number option between ``low`` and ``high``; 400 otherwise."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Refused(400, f"'{name}' must be a whole number from {low} to {high}.")
    return value


def apply_options(body: dict[str, Any]) -> ApplyOptions:
    """The library's ``ApplyOptions`` from the request: the same options as ``batchops apply``."""
    rate = body.get("rate")
    if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 0.1):
        raise Refused(400, "'rate' must be a number of requests per second, at least 0.1.")
    return ApplyOptions(concurrency=bounded(body.get("concurrency"), DEFAULT_APPLY_CONCURRENCY, 1, 256,
                                            "concurrency"),
                        rate=float(rate) if rate is not None else None, force=body.get("force") is True,
                        skip_invalid=body.get("skip_invalid") is True,
                        read_before=body.get("no_before") is not True, operator=None)


async def get_preview(request: Request) -> Response:
    """``GET /api/files/{id}/preview``: what an apply would do (target, rows to send…), for confirming."""
    entry = file_or_404(request)
    require_valid(entry)

    def preview() -> dict[str, Any]:
        retarget(request, entry)
        return entry.job.preview(apply_options({})).summary()

    return JSONResponse(shown_paths(entry, {"id": entry.id, **await run_in_threadpool(preview)}))


async def post_apply(request: Request) -> Response:
    """``POST /api/files/{id}/apply`` ``{"confirm": true, "concurrency": N}`` → 202 ``{"run_id"}``: the run
    goes on on the server (tabs may close); its events are at ``/api/runs/{run_id}/events``.
    Without ``"confirm": true``: 400 and nothing is sent."""
    entry = file_or_404(request)
    body = await read_json(request)
    if body.get("confirm") is not True:
        return error_json(400, 'nothing was sent: confirm with {"confirm": true} after looking at the preview '
                               "(GET /api/files/{id}/preview).")
    options = apply_options(body)
    refuse_while_running(request, entry)
    require_valid(entry)
    web = web_of(request)

    def prepare() -> dict[str, Any]:
        retarget(request, entry)
        return entry.job.preview(options).summary()  # raises here (settings, invalid rows) before any run

    async with entry.step:  # checked free just above, with no await in between
        preview = await run_in_threadpool(prepare)
    job = entry.job

    async def work(handle: RunHandle) -> dict[str, Any]:
        handle.poll(job.progress.snapshot)  # counts, rate, ETA, and whether the server holds the run back
        applied = await job.aapply(options, cancel=handle.cancel)
        if applied.outcome.run_id:
            handle.set_run_id(applied.outcome.run_id)
        await run_in_threadpool(job.write_report)
        handle.keep(applied)
        return shown_paths(entry, {"id": entry.id, **applied.summary()})

    run = web.runs.start(work, file_id=entry.id, total=len(job.report.records), label=entry.name)
    return JSONResponse({"run_id": run.id, "file_id": entry.id, "preview": shown_paths(entry, preview),
                         "events": f"/api/runs/{run.id}/events"}, status_code=202)


async def get_results(request: Request) -> Response:
    """``GET /api/files/{id}/results?offset=&limit=&status=``: one page of the last apply's row results."""
    entry = file_or_404(request)
    if entry.job.applied is None:
        raise HTTPException(404, "this file has not been applied on this server.")
    return JSONResponse(entry.job.applied.results_page(*paging(request),
                                                      status=request.query_params.get("status") or None))


def shown_paths(entry: FileEntry, summary: dict[str, Any]) -> dict[str, Any]:
    """A step summary with the stored file's private path replaced by the client's name."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        out[key] = entry.shown(value) if isinstance(value, str) else value
    return out


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


# -- runs, audit, undo, exports ----------------------------------------------------------------------


def journal_path_of(request: Request) -> Path:
    """The journal this server reads and writes (``--journal``, ``BATCHOPS_JOURNAL``, else the user's)."""
    from ..journal import default_journal_path

    web = web_of(request)
    return Path(web.journal_path) if web.journal_path else default_journal_path()


def journal_runs(request: Request, limit: int | None = None) -> list[dict[str, Any]]:
    """The journal's runs, newest first, as ``batchops runs --json`` lists them; none without a journal."""
    path = journal_path_of(request)
    if not path.exists():
        return []
    return list_runs(path).summary()["runs"][:limit]


async def get_runs(request: Request) -> Response:
    """``GET /api/runs``: this server's runs (live), then the journal's runs as ``batchops runs --json``."""
    web = web_of(request)
    journal = await run_in_threadpool(journal_runs, request)
    return JSONResponse({"live": [r.snapshot() for r in web.runs.unique()], "runs": journal})


def journal_run(request: Request, run_id: str) -> tuple[dict[str, Any], list[Any]]:
    """A run of the journal (``batchops runs --json``'s shape) and its rows; 404 when it has no such run."""
    from ..errors import JournalError
    from ..journal import Journal

    path = journal_path_of(request)
    if not path.exists():
        raise HTTPException(404, "no such run.")
    with Journal(path) as journal:
        try:
            info = journal.run(run_id)
        except JournalError:
            raise HTTPException(404, "no such run.") from None
        rows = journal.rows(run_id)
    return run_shape(info), rows


def journal_row_shape(row: Any) -> dict[str, Any]:
    """A journal row as the Results sheet names its columns (the journal masked its secrets)."""
    return {"row": row.row_number, "key": row.key, "status": row.status.value, "http_status": row.http_status,
            "code": row.code, "message": row.message, "attempts": row.attempts, "finished_at": row.finished_at,
            "before": row.before, "after": row.after}


async def get_run(request: Request) -> Response:
    """``GET /api/runs/{run_id}``: a live run's ``{"state", "total", "counts", …}``, else the journal's run."""
    run = web_of(request).runs.get(request.path_params["run_id"])
    if run is not None:
        return JSONResponse(run.snapshot())
    info, _rows = await run_in_threadpool(journal_run, request, request.path_params["run_id"])
    return JSONResponse(info)


async def get_run_rows(request: Request) -> Response:
    """``GET /api/runs/{run_id}/rows?offset=&limit=&status=``: the journal's rows of a run, a page at a time."""
    from ..workflow import page

    _info, rows = await run_in_threadpool(journal_run, request, request.path_params["run_id"])
    status = request.query_params.get("status")
    rows = [r for r in rows if not status or r.status.value == status]
    offset, limit = paging(request)
    return JSONResponse(page(rows, journal_row_shape, key="rows", offset=offset, limit=limit))


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


async def get_audit(request: Request) -> Response:
    """``GET /api/audit?run=ID``: the audit workbook (Changes and Runs sheets) of one run, or of every run."""
    web = web_of(request)
    run_id = request.query_params.get("run") or None
    path = journal_path_of(request)
    if not path.exists():
        raise HTTPException(404, "the journal holds no runs yet.")
    if run_id is not None:
        await run_in_threadpool(journal_run, request, run_id)  # 404 for a run the journal does not have
    target = web.store.new_folder() / "audit.xlsx"
    settings = settings_if_any(web.target.profile, web.target.config_path)  # its secrets are masked too
    await run_in_threadpool(lambda: make_audit(target, journal_path=path, run_id=run_id, settings=settings))
    return attachment(target, f"batchops-audit{'-' + run_id if run_id else ''}.xlsx", XLSX)


async def get_undo(request: Request) -> Response:
    """``GET /api/runs/{run_id}/undo``: a workbook in the template layout that puts back the run's
    before-values (nothing is sent: check it, then upload it like any other file)."""
    web = web_of(request)
    run_id = request.path_params["run_id"]
    await run_in_threadpool(journal_run, request, run_id)  # 404 for a run the journal does not have
    target = web.store.new_folder() / "undo.xlsx"
    await run_in_threadpool(make_undo, run_id, target, journal_path=journal_path_of(request))
    return attachment(target, f"undo-{run_id}.xlsx", XLSX)


async def post_export(request: Request) -> Response:
    """``POST /api/exports`` ``{"what", "vdn_id"}`` → 202 ``{"run_id"}``: live data read into a workbook in
    the template layout, with progress; ``GET /api/runs/{run_id}/file`` downloads it."""
    from ..reports.export import exports

    web = web_of(request)
    body = await read_json(request)
    what = body.get("what")
    known = exports()
    if not isinstance(what, str) or what not in known:
        return error_json(400, f"'what' must be one of: {', '.join(known)}.")
    vdn_id = body.get("vdn_id")
    if vdn_id is not None and (not isinstance(vdn_id, int) or isinstance(vdn_id, bool)):
        return error_json(400, "'vdn_id' must be a whole number.")
    settings = await run_in_threadpool(web.target.settings)
    target = web.store.new_folder() / f"{what}.xlsx"

    async def work(handle: RunHandle) -> dict[str, Any]:
        counted = {"done": 0, "total": None}
        handle.poll(lambda: {"done": counted["done"], "total": counted["total"] or 0, "counts": {}})

        def on_progress(done: int, total: int | None) -> None:
            counted["done"], counted["total"] = done, total

        exported = await run_in_threadpool(lambda: export_data(what, target, settings=settings, vdn_id=vdn_id,
                                                               on_progress=on_progress))
        handle.keep(exported)
        summary = exported.summary()
        summary["file"] = f"{what}.xlsx"
        return {**summary, "download": f"/api/runs/{handle.run_id}/file"}

    run = web.runs.start(work, file_id=None, total=0, label=f"export {what}", kind="export")
    return JSONResponse({"run_id": run.id, "events": f"/api/runs/{run.id}/events"}, status_code=202)


async def get_run_file(request: Request) -> Response:
    """``GET /api/runs/{run_id}/file``: what an export run wrote."""
    run = run_or_404(request)
    path = getattr(getattr(run.result, "result", None), "path", None)
    if run.kind != "export" or path is None:
        raise HTTPException(404, "this run has written no file (yet).")
    return attachment(path, Path(path).name, media_type(Path(path)))


# -- errors -----------------------------------------------------------------------------------------


def wants_json(request: Request) -> bool:
    """API routes answer JSON; pages answer HTML."""
    return request.url.path.startswith("/api/")


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
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
    message = (f"internal error ({type(exc).__name__}). Please report it; the terminal running batchops serve "
               "shows the details.")
    if wants_json(request):
        return error_json(500, message)
    from .pages import error_page

    return error_page(request, 500, message)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Refused: on_refused,
    BatchopsError: on_batchops_error,
    HTTPException: on_http_error,
    Exception: on_internal_error,
}

ROUTES = [
    Route("/api/files", post_file, methods=["POST"]),
    Route("/api/files/{file_id}", get_file, methods=["GET"]),
    Route("/api/files/{file_id}", replace_file, methods=["POST"]),
    Route("/api/files/{file_id}/errors", get_errors, methods=["GET"]),
    Route("/api/files/{file_id}/rows", get_rows, methods=["GET"]),
    Route("/api/files/{file_id}/workbook", get_workbook, methods=["GET"]),
    Route("/api/files/{file_id}/report/{kind}", get_report_file, methods=["GET"]),
    Route("/api/files/{file_id}/plan", post_plan, methods=["POST"]),
    Route("/api/files/{file_id}/plan", get_plan_rows, methods=["GET"]),
    Route("/api/files/{file_id}/plan/cancel", cancel_plan, methods=["POST"]),
    Route("/api/files/{file_id}/check", check_again, methods=["POST"]),
    Route("/api/files/{file_id}/preview", get_preview, methods=["GET"]),
    Route("/api/files/{file_id}/apply", post_apply, methods=["POST"]),
    Route("/api/files/{file_id}/results", get_results, methods=["GET"]),
    Route("/api/target", get_target, methods=["GET"]),
    Route("/api/target", post_target, methods=["POST"]),
    Route("/api/runs", get_runs, methods=["GET"]),
    Route("/api/runs/{run_id}", get_run, methods=["GET"]),
    Route("/api/runs/{run_id}/rows", get_run_rows, methods=["GET"]),
    Route("/api/runs/{run_id}/events", run_events, methods=["GET"]),
    Route("/api/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
    Route("/api/runs/{run_id}/undo", get_undo, methods=["GET"]),
    Route("/api/runs/{run_id}/file", get_run_file, methods=["GET"]),
    Route("/api/audit", get_audit, methods=["GET"]),
    Route("/api/exports", post_export, methods=["POST"]),
]
