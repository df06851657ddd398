"""The server-rendered pages: Start, Check, Runs and a run's live page (Jinja2, escaped by default).

Pages read the same state the API serves (``files.py``, ``runs.py``, the journal); the small script
in ``static/app.js`` only uploads with a progress bar, switches the profile and follows live events.
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
from .api import attachment, file_or_404, int_param, journal_runs, run_or_404, web_of
from .app import TEMPLATES
from .files import DEFAULT_PAGE, facets, grid_page, issue_json, page_bounds, select_issues

RECENT_RUNS = 10
GRID_PAGE = 50

environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=environment)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the layout's context: the target, the version, the step it belongs to."""
    web = web_of(request)
    context.setdefault("target", web.target.describe())
    context.setdefault("step", "")
    return templates.TemplateResponse(request, name, {"version": __version__, **context}, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The page every refused or failed request of a page shows: the one line that says why."""
    return render(request, "error.html", status=status, status_code=status, message=message)


async def start(request: Request) -> Response:
    """Start: the target, drop a file, templates, recent files and runs."""
    web = web_of(request)
    runs = await run_in_threadpool(journal_runs, web.journal_path, RECENT_RUNS)
    return render(request, "start.html", step="start", operations=list(OPERATIONS.values()),
                  files=web.files.recent(), runs=runs,
                  max_upload_mb=web.options.max_upload_bytes // (1024 * 1024))


async def check_page(request: Request) -> Response:
    """Check: what the file is, every error (filtered, paged), the data grid with bad cells marked."""
    entry = file_or_404(request)
    report = entry.report
    column = request.query_params.get("column") or None
    code = request.query_params.get("code") or None
    issues = select_issues(report, column, code) if report else []
    offset, limit = page_bounds(int_param(request, "offset"), DEFAULT_PAGE, len(issues))
    only_bad = request.query_params.get("only_bad") == "1"
    grid = (grid_page(entry.table, report, int_param(request, "grid_offset"), GRID_PAGE, only_bad=only_bad)
            if entry.table is not None else None)
    columns, codes = facets(report) if report else ([], [])
    return render(request, "check.html", step="check", entry=entry, report=report,
                  issues=[issue_json(i) for i in issues[offset:offset + limit]], issue_total=len(issues),
                  offset=offset, limit=limit, column=column, code=code, columns=columns, codes=codes,
                  grid=grid, only_bad=only_bad)


async def runs_page(request: Request) -> Response:
    """Runs: this server's live runs and the journal's runs."""
    web = web_of(request)
    runs = await run_in_threadpool(journal_runs, web.journal_path)
    live = list({id(r): r for r in web.runs.runs.values()}.values())
    return render(request, "runs.html", step="runs", runs=runs, live=[r.snapshot() for r in live])


async def run_page(request: Request) -> Response:
    """A run, live: progress pushed by Server-Sent Events, Cancel, the outcome at the end."""
    run = run_or_404(request)
    return render(request, "run.html", step="apply", run=run.snapshot())


async def template_download(request: Request) -> Response:
    """A template for one operation, made by the library as ``batchops template`` makes it."""
    from ..templates import write_template

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
    Route("/runs", runs_page, methods=["GET"]),
    Route("/runs/{run_id}", run_page, methods=["GET"]),
    Route("/templates/{operation}.xlsx", template_download, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
