"""Fakes shared by the tests of the sending engine: time that passes only when something sleeps."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Seconds that pass only when something sleeps: a test of pace that no machine's speed can break."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
