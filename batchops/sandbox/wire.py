"""What a handler receives and returns: the parsed request and the answer to send."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = b"application/json;charset=UTF-8"


@dataclass
class Request:
    """One HTTP request as a handler sees it; header names are lowercase."""

    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """One answer: status, JSON body, extra headers, and what it did (for the log and the counts)."""

    status: int
    body: Any
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    record: str | None = None
    """The record key an applied update changed."""
    detail: str | None = None
    """Why the request was refused, for the request log."""
    raw: bytes | None = None
    """A body already serialised (large, unchanging answers are cached)."""

    def encoded(self) -> bytes:
        """The body as bytes."""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()

    def code(self) -> str | None:
        """The answer's returnCode or resultCode, when it has one."""
        if isinstance(self.body, dict):
            value = self.body.get("returnCode", self.body.get("resultCode"))
            return value if isinstance(value, str) else None
        return None


def gateway_error(status: int, message: str) -> Reply:
    """An error answered by the gateway itself (auth, throttling, wrong path), not by a service."""
    return Reply(status, {"error_code": f"APIGW.{status}", "error_msg": message}, detail=message)
