"""``batchops serve``: the whole walk in a browser, for operations staff who do not use a terminal.

A Starlette application on uvicorn, server-rendered with Jinja2, small own JavaScript, nothing from a
CDN. It drives the library's own code (the same reading, validation and reports as the CLI) and keeps
its state in the library's objects. Only ``batchops serve`` imports this package, so ``batchops --help``
does not pay for it.

    app.py        WebApp: token, uploads, runs, target; the Starlette app behind the Guard
    security.py   the Guard: Host check (DNS rebinding), token (cookie or bearer), same-origin changes
    hosts.py      which Host header values name the served address
    uploads.py    the private upload folder (0700, generated names)
    multipart.py  uploads streamed into it with a size limit (413)
    files.py      uploaded files, checked by the library; pages of errors and rows cut on the server
    runs.py       the run registry and its live events (Server-Sent Events)
    targets.py    which profile and URLs the page talks to
    api.py        the JSON API; pages.py the HTML pages; templates/, static/
    server.py     uvicorn in a thread on a socket bound first
"""

from __future__ import annotations

from .app import WebApp
from .options import DEFAULT_HOST, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, ServeOptions
from .server import RunningWeb, start_web

__all__ = ["DEFAULT_HOST", "DEFAULT_MAX_UPLOAD_MB", "DEFAULT_PORT", "RunningWeb", "ServeOptions", "WebApp",
           "start_web"]
