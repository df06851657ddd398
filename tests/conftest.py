"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

# Property tests are derandomized, keep no example database and have no deadline: a CI run on a busy
# 2-core machine must fail only for a real counterexample, the same one every time.
hypothesis_settings.register_profile("batchops", derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile("batchops")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No BATCHOPS_* setting leaks into a test from the developer's shell, and no test reads or writes the
    user's own config or journal: the user's folders are temporary ones."""
    for name in list(os.environ):
        if name.startswith("BATCHOPS_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


# -- the AICC sandbox ---------------------------------------------------------------------------------
# ``sandbox`` (function scope) hands each test the one session-wide sandbox, reset to its seed data:
# records, applied counts, tokens, faults, request log and clock all fresh, in about a millisecond.
# ``sandbox_server`` (session scope) is that server without the reset. A test that needs other options
# (more agents, a state file, latency from the start) calls ``batchops.sandbox.start_sandbox`` itself:
#     with start_sandbox(SandboxOptions(agents=5000)) as sb: ...
# ``sb.env()`` holds the BATCHOPS_* variables; set them with monkeypatch.setenv.


@pytest.fixture(scope="session")
def sandbox_server():
    """One AICC sandbox on a free loopback port for the whole session (not reset between tests)."""
    from batchops.sandbox import start_sandbox

    with start_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(sandbox_server):
    """The session's AICC sandbox, serving and reset to its seed data (a RunningSandbox)."""
    sandbox_server.start()  # a previous test may have stopped it; start() is a no-op when serving
    sandbox_server.reset()
    yield sandbox_server


@pytest.fixture
def c1(sandbox):
    """An httpx client to the sandbox holding a live C1 token and the app key."""
    # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        token = client.post("/apigovernance/api/oauth/tokenByAkSk",
                            json={"app_key": sandbox.options.app_key, "app_secret": sandbox.options.app_secret}
                            ).json()["AccessToken"]
        client.headers.update({"Authorization": f"Bearer {token}", "X-APP-Key": sandbox.options.app_key})
        yield client
