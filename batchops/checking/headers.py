"""Which column each header names, what an unknown header probably means, and which operation a file is.

A header names a column by its name or one of its aliases (``catalogue.header_index``). Any other header
is either one of the read-only context columns an export writes beside each record (``workNo
(read-only)``, declared by the read side: ignored without a word), *close* to a column (a misspelling, a
word missing or added: an error, so that a misspelt real column is never dropped without a word) or a
helper column of the user's own (an "Agent name" lookup next to the data: ignored with a note). Nothing in
a column that is not the operation's is ever sent.

Closeness is judged against names and aliases alike, in two ways: the letters (``callNumbr`` →
``callNumber``) and the words (``Default number`` has both its words in ``callNumberDefault`` and in
``default display number``, an alias of ``callerPresentDefault``, so it is ambiguous and said to be).
Chinese headers are compared character by character, as they have no spaces between words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..catalogue import OPERATIONS, Operation, header_index, normalize_header
from ..readspec import read_only_header

__all__ = [
    "CLOSE_LETTERS",
    "CLOSE_WORDS",
    "HeaderMatch",
    "OperationGuess",
    "Suggestion",
    "context_index",
    "guess_operation",
    "match_headers",
    "suggest",
]

CLOSE_LETTERS = 0.8
"""difflib ratio of two normalised headers from which one is taken for a misspelling of the other."""
CLOSE_WORDS = 0.75
"""Share of a header's words found in a column's name or alias from which the header means that column."""
WORD_LIKE = 0.8
"""difflib ratio from which two words are the same word misspelt (numbr, number)."""
TIE = 0.05
"""Candidates this close to the best one make a header ambiguous."""

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The columns an unknown header probably means, best first; more than one when it is ambiguous."""

    fields: tuple[str, ...]
    via: tuple[str, ...]  # for each field, the name or alias the header resembles
    aliases: tuple[tuple[str, ...], ...] = ()  # for each field, its aliases

    @property
    def ambiguous(self) -> bool:
        return len(self.fields) > 1

    def phrase(self) -> str:
        """``Did you mean 'callNumber'?`` or ``It could be 'a' (alias) or 'b' (alias); …``."""
        if not self.ambiguous:
            return f"Did you mean {self._show(0, explain=False)}?"
        shown = [self._show(k, explain=True) for k in range(len(self.fields))]
        return f"It could be {', '.join(shown[:-1])} or {shown[-1]}; rename it to the one you mean."


    def _show(self, k: int, *, explain: bool) -> str:
        """``'callerPresentDefault' (default display number)``: the alias it resembles, or, to tell
        ambiguous columns apart, their first plain-words alias."""
        name, via = self.fields[k], self.via[k]
        if normalize_header(via) == normalize_header(name):
            via = next((a for a in self.aliases[k] if a.isascii() and " " in a), "") if explain else ""
        return f"'{name}'" + (f" ({via})" if via else "")


def _words(text: str) -> list[str]:
    """A header's words: camelCase and separators split, lower case; each Chinese character a word."""
    return [w.casefold() for w in _WORD.findall(str(text))]


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) < 3 or len(b) < 3 or not a.isascii() or not b.isascii():
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= WORD_LIKE


def _coverage(words: list[str], others: list[str]) -> float:
    """Share of ``words`` found (or found misspelt) among ``others``."""
    if not words:
        return 0.0
    return sum(1 for w in words if any(_same_word(w, o) for o in others)) / len(words)


def _closeness(header: str, candidate: str) -> tuple[bool, float]:
    """Is ``header`` close to the column text ``candidate``, and how close (for ranking)?"""
    letters = difflib.SequenceMatcher(None, normalize_header(header), normalize_header(candidate)).ratio()
    words, theirs = _words(header), _words(candidate)
    mine = _coverage(words, theirs)
    if mine >= CLOSE_WORDS:  # ranked by words both ways: "Device" is as close to deviceId as to devicetype
        return True, (mine + _coverage(theirs, words)) / 2
    return letters >= CLOSE_LETTERS, letters


def suggest(op: Operation, header: str, taken: Collection[str] = ()) -> Suggestion | None:
    """The column(s) of ``op`` an unknown ``header`` is close to, or None when it is close to none.

    A column another header already names (``taken``) is suggested only when no free column is close.
    """
    best: dict[str, tuple[float, str]] = {}
    for f in op.fields:
        for text in (f.name, *f.aliases):
            close, score = _closeness(header, text)
            if close and score > best.get(f.name, (-1.0, ""))[0]:
                best[f.name] = (score, text)
    if not best:
        return None
    free = {name: v for name, v in best.items() if name not in taken}
    pool = free or best
    top = max(score for score, _ in pool.values())
    ranked = sorted(((score, name, via) for name, (score, via) in pool.items() if score >= top - TIE),
                    key=lambda item: (-item[0], op.columns.index(item[1])))
    return Suggestion(tuple(name for _, name, _ in ranked), tuple(via for _, _, via in ranked),
                      tuple(op.field(name).aliases for _, name, _ in ranked))


@dataclass
class HeaderMatch:
    """How a header row reads as one operation's columns."""

    op: Operation
    positions: dict[str, int] = field(default_factory=dict)  # field name → 0-based position in the headers
    close: list[tuple[int, Suggestion]] = field(default_factory=list)  # unknown, but close to a column
    ignored: list[int] = field(default_factory=list)  # helper columns: close to no column
    context: list[int] = field(default_factory=list)  # the export's read-only context (workNo …): not a column
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (position, field it repeats)
    missing: list[str] = field(default_factory=list)  # mandatory fields no header names

    @property
    def fits(self) -> bool:
        """Every mandatory column there and no header that looks like a misspelt column."""
        return not self.missing and not self.close


def context_index(op: Operation) -> dict[str, str]:
    """Normalised header → name of the read-only context columns an export of ``op`` writes beside each
    record (``workNo (read-only)``, or the bare ``workNo``), as the read side declares them."""
    beside = op.read.beside if op.read is not None else ()
    return {normalize_header(text): name for name in beside for text in (name, read_only_header(name))}


def match_headers(op: Operation, headers: Sequence[str]) -> HeaderMatch:
    """Read ``headers`` as ``op``'s columns (and the export's own read-only context columns, kept apart)."""
    index = header_index(op)
    context = context_index(op)
    match = HeaderMatch(op)
    unknown: list[int] = []
    for j, header in enumerate(headers):
        name = index.get(normalize_header(header))
        if name is None and normalize_header(header) in context:
            match.context.append(j)
        elif name is None:
            unknown.append(j)
        elif name in match.positions:
            match.duplicates.append((j, name))
        else:
            match.positions[name] = j
    for j in unknown:
        suggestion = suggest(op, headers[j], taken=match.positions)
        if suggestion is None:
            match.ignored.append(j)
        else:
            match.close.append((j, suggestion))
    match.missing = [f.name for f in op.fields if f.required and f.name not in match.positions]
    return match


@dataclass(frozen=True)
class OperationGuess:
    """The operation a header row was read as when no ``--operation`` was given, and why."""

    match: HeaderMatch
    exact: bool  # False: no operation fits, this is the closest one


def guess_operation(headers: Sequence[str]) -> OperationGuess | list[HeaderMatch]:
    """The one operation ``headers`` fit, else the one they come closest to; the tied matches when none wins.

    Among operations that fit, the one recognising the most headers wins (a header another operation
    takes as its column is not a helper column). With none fitting, the closest recognises the most
    headers and misses the fewest mandatory columns.
    """
    matches = [match_headers(op, headers) for op in OPERATIONS.values()]
    fitting = [m for m in matches if m.fits]
    if fitting:
        most = max(len(m.positions) for m in fitting)
        leaders = [m for m in fitting if len(m.positions) == most]
        return OperationGuess(leaders[0], True) if len(leaders) == 1 else leaders

    def rank(m: HeaderMatch) -> tuple[int, int, int]:
        return (len(m.positions), -len(m.missing), -len(m.close))

    recognising = [m for m in matches if m.positions]
    if not recognising:
        return []
    best = max(rank(m) for m in recognising)
    leaders = [m for m in recognising if rank(m) == best]
    return OperationGuess(leaders[0], False) if len(leaders) == 1 else leaders
