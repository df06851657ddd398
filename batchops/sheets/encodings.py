"""Which encoding a CSV file is in: the one the user names, else what its bytes show.

A CSV file does not say its encoding, and the wrong guess does not fail: Shift-JIS bytes decode as
GB18030 into Chinese-looking nonsense, GBK bytes as Shift-JIS into half-width katakana. So:

1. ``--encoding`` wins (a byte-order mark of that family is dropped).
2. A UTF-16 (or UTF-32) byte-order mark; else UTF-16 without one, which shows as a NUL byte beside
   every ASCII character (Excel's "Unicode Text" always has a mark, other tools' exports not).
3. UTF-8, with or without its mark: the only encoding in which other text almost never decodes.
4. GB18030 and Shift-JIS (Windows' cp932), whichever reading looks like real text: Chinese read as
   GB18030 is nearly all in the common GB2312 set, while Shift-JIS read as GB18030 lands in GBK's
   rarely used extension rows; Japanese read as Shift-JIS has no half-width katakana and no
   private-use characters, while GBK read as Shift-JIS is full of them.
   A tie goes to GB18030 (batchops' users are mostly in China); a reading in which less than half
   the characters are ordinary text is not taken at all, and ``--encoding`` is asked for.

A decision from step 4 is a guess, so it comes with a notice that says what was assumed and how to
choose (``--encoding``, or saving as CSV UTF-8).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batchops.errors import InputError, SheetError

__all__ = ["Decoded", "decode", "encoding_name"]

_FIX_UTF8 = "Save it as 'CSV UTF-8 (Comma delimited)'"
_SAMPLE = 64 * 1024
_NAMES = {"gb18030": "GB18030", "cp932": "Shift-JIS", "utf-8": "UTF-8", "utf-8-sig": "UTF-8",
          "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "utf-32": "UTF-32"}
_OPTION = {"gb18030": "gb18030", "cp932": "shift_jis"}
_MIN_SHARE = 0.5
"""A reading whose non-ASCII characters are less than half ordinary text is not taken: Latin-1 bytes
decode as Shift-JIS half-width katakana, but nobody writes a CSV file in those."""


@dataclass(frozen=True)
class Decoded:
    """A CSV file's text, the codec that decoded it, and a notice when that was a guess."""

    text: str
    encoding: str
    notice: str | None = None


def encoding_name(codec: str) -> str:
    """How a codec is called to a user (``cp932`` is Shift-JIS)."""
    return _NAMES.get(codec, codec)


def check_encoding(name: str) -> str:
    """The codec's canonical name; ``InputError`` when Python knows no such encoding."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(
            f"'{name}' is not an encoding batchops knows",
            fix="Use a name such as utf-8, gb18030, shift_jis, utf-16 or latin-1.",
        ) from None


def decode(path: Path, data: bytes, encoding: str | None = None) -> Decoded:
    """The text of the CSV file ``path`` (its bytes ``data``), decoded as the module docstring says."""
    if encoding is not None:
        return _decode_as(path, data, check_encoding(encoding))
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return Decoded(_strict(path, data, codec, "UTF-16 (it starts with a UTF-16 byte-order mark)"), codec)
    utf16 = _bomless_utf16(data[:_SAMPLE])
    if utf16 is not None:
        return Decoded(_strict(path, data, utf16, "UTF-16 (every other byte is zero)"), utf16)
    _refuse_nul(path, data)
    if data.startswith(b"\xef\xbb\xbf"):
        return Decoded(_strict(path, data[3:], "utf-8", "UTF-8 (it starts with a UTF-8 byte-order mark)"),
                       "utf-8-sig")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    return _guess_east_asian(path, data)


def _decode_as(path: Path, data: bytes, codec: str) -> Decoded:
    if codec == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        codec = "utf-8-sig"
    elif codec.startswith("utf-16") and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and codec == "utf-16":
        codec = _bomless_utf16(data[:_SAMPLE]) or "utf-16-le"
    return Decoded(_strict(path, data, codec, encoding_name(codec)), codec)


def _strict(path: Path, data: bytes, codec: str, what: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SheetError(
            f"is not valid text in {what} (line {line:,})",
            path=path,
            fix=f"Pass its encoding with --encoding, or {_FIX_UTF8[0].lower()}{_FIX_UTF8[1:]}.",
        ) from exc


def _bomless_utf16(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the sample has a zero byte at (nearly) every other position."""
    half = len(sample) // 2
    if half < 2:
        return None
    odd = sample[1 : 2 * half : 2].count(0)
    even = sample[0 : 2 * half : 2].count(0)
    if odd >= 0.3 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.3 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


def _refuse_nul(path: Path, data: bytes) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise SheetError(
            f"contains NUL bytes (the first on line {line:,}), so it is not a text CSV file",
            path=path,
            fix="Export it again as CSV UTF-8; if it is a workbook, give it its .xlsx name.",
        )


def _guess_east_asian(path: Path, data: bytes) -> Decoded:
    readings: dict[str, str] = {}
    for codec in ("gb18030", "cp932"):
        try:
            readings[codec] = data.decode(codec)
        except UnicodeDecodeError:
            pass
    scores = {codec: _PLAUSIBLE[codec](text[:_SAMPLE]) for codec, text in readings.items()}
    plausible = {codec: score for codec, score in scores.items() if score >= _MIN_SHARE}
    if not plausible:
        what = ("is not valid text in UTF-8, GB18030 or Shift-JIS" if not readings else
                "is not UTF-8, and reads as neither Chinese (GB18030) nor Japanese (Shift-JIS) text")
        raise SheetError(
            what,
            path=path,
            fix=f"Pass its encoding with --encoding (for example --encoding latin-1), or "
            f"{_FIX_UTF8[0].lower()}{_FIX_UTF8[1:]}.",
        )
    codec = max(plausible, key=lambda c: (plausible[c], c == "gb18030"))
    others = [c for c in readings if c != codec]
    if others:
        notice = (f"Read as {encoding_name(codec)}: the file is not UTF-8 and could also be read as "
                  f"{encoding_name(others[0])}. If the text looks wrong, pass --encoding {_OPTION[others[0]]}, "
                  "or save the file as CSV UTF-8.")
    else:
        notice = (f"Read as {encoding_name(codec)}, as the file is not UTF-8. If the text looks wrong, pass "
                  "the file's encoding with --encoding, or save it as CSV UTF-8.")
    return Decoded(readings[codec], codec, notice)


def _share(text: str, good: Callable[[str], bool]) -> float:
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return 0.0
    return sum(1 for ch in wide if good(ch)) / len(wide)


def _gb2312_share(text: str) -> float:
    """The share of non-ASCII characters in the common GB2312 set."""

    def common(ch: str) -> bool:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            return False
        return True

    return _share(text, common)


def _shift_jis_share(text: str) -> float:
    """The share of non-ASCII characters that are ordinary Japanese: in JIS X 0208, not half-width kana."""

    def ordinary(ch: str) -> bool:
        if "\uff61" <= ch <= "\uff9f":
            return False
        try:
            ch.encode("shift_jis")
        except UnicodeEncodeError:
            return False
        return True

    return _share(text, ordinary)


_PLAUSIBLE = {"gb18030": _gb2312_share, "cp932": _shift_jis_share}
