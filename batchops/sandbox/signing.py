"""The iSales ``auth-v2`` AK/SK request signature, checked the way the server checks it.

The algorithm is the one in api-notes.md (Huawei's demo ``SignInfo.java``/``SignerUtils.java``). The
server rebuilds the canonical request from what it received: the method, the raw path, the query, the
headers the signature lists, and the exact body bytes. Any change to any of those fails the check.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMESTAMP_FORMAT_MS = "%Y-%m-%dT%H:%M:%S.%fZ"


class SignatureError(Exception):
    """The Authorization header is missing, malformed, stale, or does not match the request."""


def normalize(text: str | bytes) -> str:
    """Percent-encode every UTF-8 byte except ``A-Z a-z 0-9 - . _ ~``, with uppercase hex."""
    return quote(text, safe="")  # quote() never encodes the unreserved set and emits uppercase hex


def canonical_request(method: str, raw_path: str, query: str, signed_headers: str,
                      headers: Mapping[str, str], body: bytes) -> str:
    """The text that is signed; ``headers`` maps lowercase names to values."""
    names = signed_headers.split(";")
    header_lines = sorted(f"{normalize(n)}:{normalize(headers[n].strip())}" for n in names)
    lines = [method.upper(), raw_path]
    if query:
        pairs = sorted(f"{normalize(k)}={normalize(v)}" for k, v in parse_qsl(query, keep_blank_values=True))
        lines.append("&".join(pairs))
    lines += [signed_headers, "\n".join(header_lines), normalize(body)]
    return "\n".join(lines)


def _hex_hmac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_for(sk: str, auth_prefix: str, canonical: str) -> str:
    """lowerhex(HMAC(lowerhex(HMAC(SK, prefix)), canonical request))."""
    return _hex_hmac(_hex_hmac(sk, auth_prefix), canonical)


def sign(ak: str, sk: str, method: str, raw_path: str, query: str, headers: Mapping[str, str],
         body: bytes, when: datetime | None = None, signed_headers: tuple[str, ...] = ("host",)) -> str:
    """The ``Authorization`` value for a request (for the sandbox's own tests, demo and benchmark)."""
    when = when or datetime.now(timezone.utc)
    lower = {k.lower(): v for k, v in headers.items()}
    names = ";".join(sorted(h.lower() for h in signed_headers))
    prefix = f"auth-v2/{ak}/{when.strftime(TIMESTAMP_FORMAT)}/{names}"
    canonical = canonical_request(method, raw_path, query, names, lower, body)
    return f"{prefix}/{signature_for(sk, prefix, canonical)}"


def verify(authorization: str | None, *, method: str, raw_path: str, query: str,
           headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str], now: float,
           skew_seconds: int, accept_ms: bool = False, required_headers: tuple[str, ...] = ("host",)
           ) -> str:
    """Check a request's signature and return its AK; raise ``SignatureError`` saying why not.

    ``headers`` maps lowercase names to values; ``credentials`` maps each AK to its SK.
    """
    if not authorization:
        raise SignatureError("the Authorization header is missing")
    parts = authorization.strip().split("/")
    if len(parts) != 5 or parts[0] != "auth-v2":
        raise SignatureError("Authorization must be auth-v2/{AK}/{timestamp}/{signedHeaders}/{signature}")
    _, ak, stamp, signed_headers, signature = parts
    sk = credentials.get(ak)
    if sk is None:
        raise SignatureError("unknown access key")
    signed_at = _parse_timestamp(stamp, accept_ms)
    if abs(now - signed_at) > skew_seconds:
        raise SignatureError(f"the timestamp {stamp} is more than {skew_seconds} s from the server clock")
    names = signed_headers.split(";") if signed_headers else []
    if any(n != n.lower() or not n for n in names):
        raise SignatureError("signedHeaders must be lowercase header names joined by ';'")
    for name in required_headers:
        if name not in names:
            raise SignatureError(f"the signature must cover the {name!r} header")
    missing = [n for n in names if n not in headers]
    if missing:
        raise SignatureError(f"signed header {missing[0]!r} is not in the request")
    prefix = f"auth-v2/{ak}/{stamp}/{signed_headers}"
    canonical = canonical_request(method, raw_path, query, signed_headers, headers, body)
    if not hmac.compare_digest(signature_for(sk, prefix, canonical), signature):
        raise SignatureError("the signature does not match the request")
    return ak


def _parse_timestamp(stamp: str, accept_ms: bool) -> float:
    formats = (TIMESTAMP_FORMAT, TIMESTAMP_FORMAT_MS) if accept_ms else (TIMESTAMP_FORMAT,)
    for fmt in formats:
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise SignatureError(f"the timestamp {stamp!r} is not yyyy-MM-dd'T'HH:mm:ss'Z' (UTC)")
