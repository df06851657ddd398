"""Read answers as data: a JSON answer checked and taken apart, values turned into canonical texts.

The canonical texts are the ones validation produces from a sheet: lists as ``a,b``, integers and codes as
digits, date-times as epoch digits, sentence objects as their ``sentence_id``, ``""`` for a value the
answer does not have. Every converter is tolerant, because servers and doc editions differ: a number may
come as a JSON number or a string, a list as a list or a comma-separated string.

A read answer that is no answer, an HTTP error or not a JSON object raises
:class:`~batchops.errors.RemoteError` (``AuthError`` for 401/403): the library raises, the front end tells.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..catalogue import EPOCH_MS_FLOOR
from ..errors import AuthError, RemoteError
from ..http.calls import CallResult

if TYPE_CHECKING:
    from ..catalogue import Success
    from ..readspec import AnswerPath

__all__ = ["code_of", "epoch_text", "first_at", "is_success", "json_object", "list_text", "message_of",
           "require_success", "text_of", "value_at"]

_DIGITS = re.compile(r"[0-9]{1,18}")  # an epoch in any unit; int() of more would be no date, or refused
_MESSAGE_KEYS = ("returnDesc", "resultDesc", "description", "message")


def text_of(value: Any) -> str:
    """A scalar as canonical text: ``None`` → ``""``, ``5`` / ``5.0`` / ``"5"`` → ``"5"``, text stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # "4.0" from a server that formats numbers as floats
        return text[:-2]
    return text


def list_text(value: Any, id_key: str = "sentence_id") -> str:
    """A list as ``a,b``: items may be scalars or objects carrying ``id_key``; a string is split on commas."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        items: Sequence[Any] = value.replace("，", ",").split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        items = [value]
    texts = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get(id_key, item.get("id"))
        text = text_of(item)
        if text:
            texts.append(text)
    return ",".join(texts)


def epoch_text(value: Any, *, millis: bool) -> str:
    """An epoch value as digits in the wanted unit; a value in the other unit is converted, not guessed at.

    The unit is told by size, as validation tells it (``catalogue.EPOCH_MS_FLOOR``).
    """
    text = text_of(value)
    if not _DIGITS.fullmatch(text):  # also no int() of thousands of digits, or of "²" (isdigit, not int)
        return text
    number = int(text)
    if millis and number < EPOCH_MS_FLOOR:
        number *= 1000
    elif not millis and number >= EPOCH_MS_FLOOR:
        number //= 1000
    return str(number)


def value_at(obj: Any, path: AnswerPath) -> Any:
    """The value at ``path`` below ``obj``; None when a step is missing or not an object."""
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def first_at(obj: Any, paths: Sequence[AnswerPath]) -> Any:
    """The value at the first of ``paths`` that is present below ``obj`` (None when none is)."""
    for path in paths:
        value = value_at(obj, path)
        if value is not None:
            return value
    return None


def message_of(body: Any) -> str:
    """The description an answer carries, if any."""
    if not isinstance(body, Mapping):
        return ""
    return next((text_of(body[k]) for k in _MESSAGE_KEYS if body.get(k)), "")


def json_object(result: CallResult, what: str) -> Mapping[str, Any]:
    """The JSON object of an HTTP 200 answer; RemoteError (AuthError for 401/403) for anything else."""
    if result.http_status is None:
        raise RemoteError(f"{what}: no answer from the server ({result.error or 'no reason given'}).",
                          fix="Check the URL in the settings and the network, then try again.")
    body = result.body
    if result.http_status in (401, 403):
        raise AuthError(f"{what}: the server refused the credentials (HTTP {result.http_status}).",
                        fix="Check the app key and secret (or AK/SK) of the profile.")
    if result.http_status != 200:
        detail = message_of(body) or (result.text or "").strip()[:200] or "no description"
        raise RemoteError(f"{what}: HTTP {result.http_status}: {detail}")
    if not isinstance(body, Mapping):
        raise RemoteError(f"{what}: the answer is not a JSON object: {(result.text or '').strip()[:200]!r}")
    return body


def code_of(body: Mapping[str, Any], success: Success) -> str | None:
    """The return code of an answer, from the first of the success's code fields present; None: none."""
    return next((text_of(body[k]) for k in success.code_fields if body.get(k) is not None), None)


def is_success(body: Mapping[str, Any], success: Success) -> bool:
    """Success: a documented success code, or no code at all (read answers such as queryAgentInfo carry
    none; an HTTP 200 without a failure code is taken at its word)."""
    code = code_of(body, success)
    return code is None or code in success.ok_codes


def require_success(body: Mapping[str, Any], success: Success, what: str) -> None:
    """Raise RemoteError unless ``body`` says success (a list call's failure code is an error)."""
    if not is_success(body, success):
        raise RemoteError(f"{what}: the server answered {code_of(body, success)}: "
                          f"{message_of(body) or 'no description'}")
