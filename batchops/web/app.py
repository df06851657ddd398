"""The web app: one ``WebApp`` per ``batchops serve``, holding the token, the uploads, the runs and the
target, and the Starlette application its routes are served by, behind the ``Guard``.

Starlette rather than FastAPI: the JSON shapes are the library's own dicts (the CLI's ``--json``), so
FastAPI's models would be a second definition of each shape; Starlette is the small routing and response
layer FastAPI itself is built on, without pydantic. The API is documented in the README.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from .files import FileRegistry
from .hosts import WILDCARDS, HostCheck
from .options import ServeOptions
from .runs import RunRegistry
from .security import Guard, new_token
from .targets import TargetChoice
from .uploads import UploadStore

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


class WebApp:
    """Everything one server holds; ``asgi`` is the guarded application uvicorn serves."""

    def __init__(self, options: ServeOptions | None = None, *, token: str | None = None) -> None:
        self.options = options or ServeOptions()
        self.token = token or new_token()
        self.port = self.options.port
        self.store = UploadStore(self.options.upload_root, keep=self.options.keep_uploads)
        self.files = FileRegistry()
        self.runs = RunRegistry()
        self.target = TargetChoice(self.options.profile, self.options.config_path)
        self.kept_uploads: Path | None = None
        self._closed = False
        self.starlette = build_starlette(self)
        self.asgi: Any = None
        self.bound(self.port)

    def bound(self, port: int) -> None:
        """The port is known (a free one was picked for 0): the Host check and cookie follow it."""
        self.port = port
        self.asgi = Guard(self.starlette, token=self.token, hosts=HostCheck(self.options.host, port))

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the served address (loopback for a wildcard bind)."""
        host = self.options.host
        if host.strip("[]") in WILDCARDS:
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def journal_path(self) -> str | None:
        return self.options.journal_path

    def close(self) -> None:
        """Remove the uploads (unless kept); idempotent."""
        if not self._closed:
            self._closed = True
            self.kept_uploads = self.store.close()


def build_starlette(web: WebApp) -> Starlette:
    """The routes of the pages and of the API, and the static files."""
    from . import api, pages

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for entry in list(web.files.files.values()):  # a plan being read stops as a run does
                if entry.plan_cancel is not None:
                    entry.plan_cancel.cancel()
            await web.runs.close()

    routes = [
        *pages.ROUTES,
        *api.ROUTES,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=api.EXCEPTION_HANDLERS)
    app.state.web = web
    return app

