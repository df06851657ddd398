"""Whole numbers typed as text, compared exactly whatever their length.

A cell's digits are held against a range without ``int()`` and without ``float``: Python refuses to
convert a text of more than 4,300 digits (``ValueError``), and a float is exact only up to 2**53 and
turns a long enough text into ``inf`` or, through ``pd.to_numeric``, NaN, which a range check then
reads as "not a number" and lets through. Here a number is its sign and its digits, and two numbers
compare by sign, then by count of digits, then digit by digit, which holds at any length.
"""

from __future__ import annotations

import re

__all__ = ["ASCII_DIGITS", "compare_whole", "is_whole", "whole_within"]

ASCII_DIGITS = "0123456789"
_WHOLE = re.compile(r"([+-]?)0*([0-9]+)")  # ASCII digits only: \d also takes ٣ and ３


def _parts(text: str) -> tuple[int, str] | None:
    """``(sign, digits without leading zeros)`` of a whole number, or None when ``text`` is not one."""
    match = _WHOLE.fullmatch(text.strip())
    if match is None:
        return None
    digits = match.group(2).lstrip("0") or "0"
    sign = -1 if match.group(1) == "-" and digits != "0" else 1
    return sign, digits


def is_whole(text: str) -> bool:
    """Is ``text`` a whole number in ASCII digits, with an optional sign?"""
    return _parts(text) is not None


def compare_whole(a: str | int, b: str | int) -> int | None:
    """-1, 0 or 1 as ``a`` is below, equal to or above ``b``; None when either is not a whole number."""
    left, right = _parts(str(a)), _parts(str(b))
    if left is None or right is None:
        return None
    (sign_a, digits_a), (sign_b, digits_b) = left, right
    if sign_a != sign_b:
        return -1 if sign_a < sign_b else 1
    magnitude = (len(digits_a) > len(digits_b)) - (len(digits_a) < len(digits_b))
    if magnitude == 0:
        magnitude = (digits_a > digits_b) - (digits_a < digits_b)  # same length: text order is number order
    return magnitude * sign_a


def whole_within(text: str, low: int | None, high: int | None) -> bool | None:
    """Is the whole number ``text`` in ``[low, high]`` (a None bound is open)? None when it is not a number."""
    if not is_whole(text):
        return None
    if low is not None and compare_whole(text, low) == -1:
        return False
    return not (high is not None and compare_whole(text, high) == 1)
