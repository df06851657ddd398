"""The server-rendered pages: Start, Check, Plan, Apply (a run, live), Runs and audit (Jinja2, escaped).

Each page shows the library's own objects (the job's validation, plan, preview and results; the journal's
runs); the small script in ``static/app.js`` uploads with a progress bar, calls the API for the steps that
change something, and follows a run's live events.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from .. import __version__
from ..catalogue import OPERATIONS
from .api import (
    DEFAULT_APPLY_CONCURRENCY,
    apply_options,
    attachment,
    file_or_404,
    int_param,
    journal_row_shape,
    journal_run,
    journal_runs,
    retarget,
    web_of,
)
from .app import TEMPLATES
from .files import facets, grid_page

RECENT_RUNS = 10
PAGE = 50
"""Rows of a table a page shows at once; the pager moves through the rest on the server."""

environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=environment)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the layout's context: the target, the version, the step it belongs to."""
    web = web_of(request)
    context.setdefault("target", web.target.describe())
    context.setdefault("step", "")
    context.setdefault("entry", None)
    return templates.TemplateResponse(request, name, {"version": __version__, **context}, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The page every refused or failed request of a page shows: the one line that says why."""
    return render(request, "error.html", status=status, status_code=status, message=message)


def offset_of(request: Request, name: str = "offset") -> int:
    return max(0, int_param(request, name) or 0)


async def start(request: Request) -> Response:
    """Start: the target, drop a file, templates, exports, recent files and runs."""
    from ..reports.export import exports

    web = web_of(request)
    runs = await run_in_threadpool(journal_runs, request, RECENT_RUNS)
    return render(request, "start.html", step="start", operations=list(OPERATIONS.values()),
                  exports=list(exports().items()),
                  files=web.files.recent(), runs=runs,
                  max_upload_mb=web.options.max_upload_bytes // (1024 * 1024))


async def check_page(request: Request) -> Response:
    """Check: what the file is, every error (filtered, paged), the data grid with bad cells marked."""
    entry = file_or_404(request)
    validation = entry.validation
    q = request.query_params
    column, code = q.get("column") or None, q.get("code") or None
    issues = validation.issues_page(offset_of(request), PAGE, column=column, code=code) if validation else None
    only_bad = q.get("only_bad") == "1"
    grid = await run_in_threadpool(grid_page, entry, int_param(request, "grid_offset"), PAGE, only_bad=only_bad)
    columns, codes = facets(validation) if validation else ([], [])
    return render(request, "check.html", step="check", entry=entry, validation=validation,
                  report=validation.report if validation else None, issues=issues, column=column, code=code,
                  columns=columns, codes=codes, grid=grid, only_bad=only_bad)


async def plan_page(request: Request) -> Response:
    """Plan: counts per action, before → after per field, rows that cannot succeed and why."""
    entry = file_or_404(request)
    planned = entry.job.planned
    action = request.query_params.get("action") or None
    rows = None
    if planned is not None:
        found = [r for r in planned.plan.rows if action is None or r.action.value == action]
        offset = min(offset_of(request), max(len(found) - 1, 0))
        rows = {"total": len(found), "offset": offset, "limit": PAGE, "rows": found[offset:offset + PAGE]}
    return render(request, "plan.html", step="plan", entry=entry, report=entry.validation.report
                  if entry.validation else None, planned=planned, rows=rows, action=action)


async def apply_page(request: Request) -> Response:
    """Apply: the confirmation naming the target and the number of rows; then the run, live."""
    entry = file_or_404(request)
    problem = entry.problem
    preview = None
    if problem is None and entry.validation is not None and entry.validation.ok:
        def make_preview() -> Any:
            retarget(request, entry)
            return entry.job.preview(apply_options({}))

        preview = await run_in_threadpool(make_preview)
    active = web_of(request).runs.active_for(entry.id)
    return render(request, "apply.html", step="apply", entry=entry, preview=preview, active=active,
                  report=entry.validation.report if entry.validation else None,
                  concurrency=DEFAULT_APPLY_CONCURRENCY)


async def runs_page(request: Request) -> Response:
    """Runs: this server's runs and the journal's runs, with the audit workbook."""
    web = web_of(request)
    runs = await run_in_threadpool(journal_runs, request)
    return render(request, "runs.html", step="runs", runs=runs, live=[r.snapshot() for r in web.runs.unique()])


async def run_page(request: Request) -> Response:
    """A run: live while it goes (any tab), its results at the end; a journal run: its rows, audit, undo."""
    web = web_of(request)
    run_id = request.path_params["run_id"]
    run = web.runs.get(run_id) if request.query_params.get("journal") != "1" else None
    if run is not None:
        entry = web.files.get(run.file_id) if run.file_id else None
        results = None
        applied = entry.job.applied if entry is not None and run.finished else None
        if applied is not None:
            status = request.query_params.get("status") or None
            results = applied.results_page(offset_of(request), PAGE, status=status)
        return render(request, "run.html", step="apply", run=run.snapshot(), entry=entry, results=results,
                      journal_id=run.id if not run.id.startswith("web-") else None)
    info, rows = await run_in_threadpool(journal_run, request, run_id)
    offset = min(offset_of(request), max(len(rows) - 1, 0))
    shown = [journal_row_shape(r) for r in rows[offset:offset + PAGE]]
    return render(request, "journal_run.html", step="runs", info=info, rows=shown, total=len(rows),
                  offset=offset, limit=PAGE)


async def template_download(request: Request) -> Response:
    """A template for one operation, made by the library as ``batchops template`` makes it."""
    from ..reports.templates import write_template

    name = request.path_params["operation"]
    op = OPERATIONS.get(name)
    if op is None:
        return error_page(request, 404, f"there is no operation '{name}'.")
    web = web_of(request)
    path = web.store.folder / f"template-{op.name}.xlsx"
    if not path.exists():
        await run_in_threadpool(write_template, op, path)
    return attachment(path, f"{op.name}-template.xlsx",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def favicon(request: Request) -> Response:
    """No icon (and no 404 in the browser's console on every page)."""
    return Response(status_code=204)


ROUTES = [
    Route("/", start, methods=["GET"]),
    Route("/files/{file_id}", check_page, methods=["GET"]),
    Route("/files/{file_id}/plan", plan_page, methods=["GET"]),
    Route("/files/{file_id}/apply", apply_page, methods=["GET"]),
    Route("/runs", runs_page, methods=["GET"]),
    Route("/runs/{run_id}", run_page, methods=["GET"]),
    Route("/templates/{operation}.xlsx", template_download, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
