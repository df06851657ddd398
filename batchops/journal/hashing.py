"""Fingerprints: a row's content hash (the unit of resume) and an input file's SHA-256 (the unit of locking).

The content hash is taken over a canonical JSON of the validated values, so that key order, an integral
float or a date written as text never make an unchanged row look changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["content_hash", "file_sha256"]


def content_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a canonical JSON of a row's validated values.

    Canonical: keys sorted, no whitespace, UTF-8; an integral float is the int (``1.0`` → ``1``, as
    JSON does not tell them apart); NaN/NA/NaT are null; tuples and sets are lists (sets sorted); dates
    and times are ISO 8601; Decimals are their text. Key order and cell formatting therefore never make
    an unchanged row look changed.
    """
    text = json.dumps(
        _canonical(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return None
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((_canonical(v) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return _canonical(float(obj)) if obj.is_nan() else str(obj.normalize())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _canonical(obj.item())
    if type(obj).__name__ in {"NAType", "NaTType"}:  # pandas missing values, without importing pandas
        return None
    return str(obj)


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
