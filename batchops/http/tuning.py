"""Speed measures around a run that are not part of what a run is: each measured, each in one place.

- ``frozen_heap``: the validated file is a large graph of long-lived objects; a full garbage collection that
  walks it stalls the event loop mid-run (measured: ~6% fewer rows per second at concurrency 16), so it is
  collected once and frozen while the requests are out.
- ``warm_up``: building the async transport (importing aiohttp, loading the CA certificates) takes ~0.2 s;
  done before the first request, it is not paid by the first calls of the run. A client passed in may lack it.
- ``run_on_new_loop``: a synchronous caller's run gets uvloop's event loop when it is installed (measured
  faster, bench/RESULTS.dispatch.md) and a Ctrl-C handler that only asks the run to stop.

``call_in_loop`` is the one way a stop from another thread reaches the loop of a run.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect once, then keep the garbage collector off the objects that exist now, until the block ends."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def warm_up(client: Any) -> None:
    """Build the client's async transport now, if it can say so (``Client.prepare_async``)."""
    prepare = getattr(client, "prepare_async", None)
    if prepare is not None:
        prepare()


def default_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (not on Windows), else None for asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return None
    return uvloop.new_event_loop


def run_on_new_loop(main: Coroutine[Any, Any, T], *, on_sigint: Callable[[], None] | None = None,
                    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> T:
    """Run ``main`` on a new event loop; the first Ctrl-C calls ``on_sigint`` (main thread only), a second
    one raises KeyboardInterrupt as usual."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        installed = False
        if on_sigint is not None and threading.current_thread() is threading.main_thread():

            def first_ctrl_c() -> None:
                loop.remove_signal_handler(signal.SIGINT)  # from now on Ctrl-C aborts at once
                on_sigint()

            loop.add_signal_handler(signal.SIGINT, first_ctrl_c)
            installed = True
        try:
            return await main
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)

    factory = loop_factory or default_loop_factory()
    if factory is None or sys.version_info < (3, 11):
        return asyncio.run(guarded())
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(guarded())


def call_in_loop(loop: asyncio.AbstractEventLoop | None, callback: Callable[[], object]) -> None:
    """Run ``callback`` on ``loop`` from any thread: at once on the loop's own thread, else at its next turn;
    nothing when the loop is gone (whatever it would wake has ended)."""
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback()
        return
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop closed meanwhile
        pass


__all__ = ["call_in_loop", "default_loop_factory", "frozen_heap", "run_on_new_loop", "warm_up"]
