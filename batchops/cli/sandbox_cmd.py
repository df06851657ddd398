"""``batchops sandbox``: run the AICC emulator in the foreground until interrupted."""

from __future__ import annotations

import ipaddress
import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.markup import escape

from ..sandbox.options import (
    DEFAULT_AGENTS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SEED,
    MAX_AGENTS_WITH_WORKNO,
    SandboxOptions,
)
from .app import app
from .output import out, warning_line
from .shell import SHELLS, comment, default_shell, env_lines


def _banner(shell: str, url: str, env: dict[str, str], about: str) -> list[str]:
    """What the sandbox prints on start: every line a comment or a command in ``shell``, so it all pastes."""
    others = " or ".join(f"--shell {s}" for s in SHELLS if s != shell)
    return [
        comment(shell, f"AICC sandbox at {url} ({about}); Ctrl-C stops it."),
        comment(shell, "Paste these lines into the terminal you run batchops in; they point batchops at it:"),
        *env_lines(shell, env),
        comment(shell, f"(For another shell: batchops sandbox {others}; posix is bash, zsh and sh, "
                       "powershell and cmd are Windows'.)"),
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. Anything but loopback exposes test credentials to the network.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port for both the C1 gateway and iSales paths (0 picks a free one).")
@click.option("--agents", default=DEFAULT_AGENTS, show_default=True, type=click.IntRange(1),
              help="Agent settings to seed; agents with a workNo stop at 59,899 (workNo 101..59999).")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="Seed of the generated data.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite file keeping the state across restarts (default: in memory).")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Delay added to every API answer.")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests answered 503.")
@click.option("--throttle-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests answered 429 with Retry-After.")
@click.option("--timeout-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests left unanswered (held 30 s, then 504).")
@click.option("--token-ttl", type=click.IntRange(1, 3600),
              help="Token lifetime in seconds, overriding X-Token-Expire.")
@click.option("--rate-limit", "rate_limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="RPS", help="A gateway's flow control: at most RPS requests per second on each API path, "
                                  "429 with Retry-After beyond it (default: no limit).")
@click.option("--shell", type=click.Choice(SHELLS), default=default_shell(), show_default="powershell on Windows, "
              "else posix", help="Print the BATCHOPS_* settings as lines for this shell (posix: bash, zsh, sh).")
def sandbox(host: str, port: int, agents: int, seed: int, state_file: Path | None, latency_ms: float,
            error_rate: float, throttle_rate: float, timeout_rate: float, token_ttl: int | None,
            rate_limit: float | None, shell: str) -> int:
    """Run the AICC emulator: a strict, stateful stand-in for the real AICC.

    Prints the URL and the BATCHOPS_* settings that point batchops at it, as lines to paste into the
    shell batchops runs in (export …; with --shell powershell $env:… = …; with --shell cmd set "…"),
    then serves until Ctrl-C.
    """
    from ..sandbox.server import start_sandbox  # the server (uvicorn) only when it is to run, not for --help

    options = SandboxOptions(
        agents=agents, seed=seed, state_file=state_file, latency_ms=latency_ms, error_rate=error_rate,
        throttle_rate=throttle_rate, timeout_rate=timeout_rate, token_ttl=token_ttl, rate_limit=rate_limit,
    )
    if not _is_loopback(host):
        warning_line(f"listening on {host}: anyone who can reach it can use the sandbox's test credentials.")
    if agents > MAX_AGENTS_WITH_WORKNO:
        warning_line(f"{agents - MAX_AGENTS_WITH_WORKNO} users get agent settings but no workNo "
                     "(workNo ranges 101..59999).")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start_sandbox(options, host=host, port=port) as running:
            state = "in memory"
            if state_file is not None:
                loaded = running.sandbox.state.loaded_from_file
                state = f"{'loaded from' if loaded else 'seeded into'} {state_file}"
                meta = running.sandbox.state.file_meta
                if loaded and (meta.get("agents"), meta.get("seed")) != (str(agents), str(seed)):
                    warning_line(f"{state_file} was seeded with --agents {meta.get('agents')} --seed "
                                 f"{meta.get('seed')}; its records are served, not new ones.")
            served = len(running.sandbox.state.data.agent_settings)
            for line in _banner(shell, running.url, running.env(),
                                f"{served} agents, seed {seed}, state {state}"):
                out.print(escape(line), highlight=False)
            out.file.flush()
            while not stop.wait(0.5):
                pass
            out.print("Sandbox stopped.")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
