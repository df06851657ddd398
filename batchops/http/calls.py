"""The contract between the catalogue, the client and the replay: a request to send and what came back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Family = Literal["c1", "isales"]
"""C1: token-authenticated gateway calls. isales: AK/SK-signed CC-iSales calls (api-notes.md)."""


@dataclass(frozen=True)
class PreparedCall:
    """One HTTP call, ready to send: which server family, method, path below its base URL, JSON body."""

    family: Family
    method: str
    path: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    operator_id: bool = False
    """The call's page documents the ``x-UserId`` operator header (the silence-rule calls); the client adds
    the configured operator id (``Settings.user_id``) to it, and to no other call unless told to."""


@dataclass
class CallResult:
    """What one call ended with after all its attempts.

    ``http_status`` is None when no answer came (connection error, timeout); ``error`` then says why.
    ``body`` is the parsed JSON answer when there was one. ``attempts`` counts the requests sent (0: the run
    stopped before it could be sent); ``throttled`` how many of them were answered 429. A call whose last
    answer is a 429 was not processed by the server: it was throttled until the run stopped.
    """

    http_status: int | None
    body: Any = None
    text: str = ""
    error: str | None = None
    attempts: int = 1
    elapsed: float = 0.0
    throttled: int = 0
