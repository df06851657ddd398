"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BATCHOPS_* setting leaks into a test from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("BATCHOPS_"):
            monkeypatch.delenv(name, raising=False)
