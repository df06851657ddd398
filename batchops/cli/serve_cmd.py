"""``batchops serve``: the web page for the whole walk, on this computer, until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from .app import app
from .options import config_option, journal_option, profile_option, timezone_option
from .output import err, warning_line

if TYPE_CHECKING:
    from ..web import WebApp

# The web package's constants, repeated here only as literals for --help: importing batchops.web (and
# with it starlette and jinja2) would slow every `batchops --help`. tests/test_web_cli.py checks they agree.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8708
DEFAULT_MAX_UPLOAD_MB = 200


@app.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. Anything but loopback lets others on the network reach the page "
                   "(they still need the token); it is allowed, with a warning.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
@click.option("--max-upload-mb", default=DEFAULT_MAX_UPLOAD_MB, show_default=True, type=click.IntRange(1, 4096),
              help="The largest file the page accepts, in MB (larger ones are refused with 413).")
@click.option("--sandbox", "with_sandbox", is_flag=True,
              help="Start the bundled AICC sandbox on a free loopback port and serve against it, with a journal "
                   "of its own: try the page with nothing leaving this computer (what `make serve` runs).")
@click.option("--keep-uploads", is_flag=True,
              help="Keep the uploaded files (and the reports written into them) when the server stops.")
@timezone_option
@profile_option
@config_option
@journal_option
def serve(host: str, port: int, no_browser: bool, max_upload_mb: int, with_sandbox: bool, keep_uploads: bool,
          timezone: str | None, profile: str | None, config_path: str | None, journal_path: str | None) -> int:
    """Open the whole walk in a browser: check, plan, apply, runs and audit, for people who live in Excel.

    Serves a page on http://127.0.0.1:8708 (this computer only) and prints one line with its address and
    a fresh access token; opens it in the default browser unless --no-browser. Settings come from the
    same profiles and BATCHOPS_* variables as every other command. Ctrl-C stops it; uploads are removed
    unless --keep-uploads.
    """
    from ..web import ServeOptions, WebApp
    from ..web.hosts import is_loopback
    from ..web.options import MB

    if not is_loopback(host.strip("[]")):
        warning_line(escape(f"listening on {host}: anyone who can reach this computer can reach the page; "
                            "they still need the token, so share the link with no one."))
    with contextlib.ExitStack() as stack:
        if with_sandbox:
            journal_path = journal_path or _use_sandbox(stack)
        options = ServeOptions(host=host, port=port, max_upload_bytes=max_upload_mb * MB,
                               keep_uploads=keep_uploads, profile=profile, config_path=config_path,
                               journal_path=journal_path, timezone=timezone)
        return _serve(WebApp(options), no_browser)


def _use_sandbox(stack: contextlib.ExitStack) -> str:
    """Start a sandbox for the life of the server; its variables point the settings at it. Returns a fresh
    journal path, so that trying the page leaves the user's own journal alone."""
    import os
    import tempfile
    from pathlib import Path

    from ..sandbox import start_sandbox

    sandbox = stack.enter_context(start_sandbox())
    saved = {name: os.environ.get(name) for name in sandbox.env()}
    os.environ.update(sandbox.env())

    def restore() -> None:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old

    stack.callback(restore)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="batchops-serve-journal-")))
    err.print(f"AICC sandbox at {escape(sandbox.url)} (its test credentials are set for this server only).",
              highlight=False)
    return str(folder / "journal.sqlite3")


def _serve(web: WebApp, no_browser: bool) -> int:
    """Serve ``web`` until Ctrl-C or SIGTERM; print the link, open the browser, clean up."""
    from ..web import start_web

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            running = start_web(web)
        except BaseException:
            web.close()
            raise
        with running:
            click.echo(f"batchops serve: {running.link}")
            sys.stdout.flush()  # a program reading the link must not wait for the buffer to fill
            err.print("Ctrl-C stops the server.", highlight=False)
            if not no_browser:
                _open_browser(running.link)
            while not stop.wait(0.5):
                pass
            err.print("Stopping: runs under way finish their calls in flight and write their results …",
                      highlight=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if web.kept_uploads is not None:
        err.print(f"Uploads kept in {escape(str(web.kept_uploads))}", highlight=False)
    else:
        err.print("Stopped; uploads removed.", highlight=False)
    return 0


def _open_browser(link: str) -> None:
    """Open ``link`` in the default browser, on a thread: a slow browser start must not hold the server."""
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(link,), daemon=True, name="batchops-browser").start()
