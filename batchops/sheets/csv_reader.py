"""Read a CSV file (a nightly job's export, or a sheet saved as CSV) into a ``RawTable``.

Decisions, so that a CSV reads the way the same sheet would in Excel:

- Encoding (``sheets.encodings``): the one given (``--encoding``), else UTF-16 with or without a BOM
  (Excel's "Unicode Text"), UTF-8 with or without a BOM, then GB18030 or Shift-JIS, whichever reads
  as real text. The encoding used is in ``RawTable.encoding``; a guess is said in ``warnings``,
  with how to choose another.
- Delimiter: an Excel ``sep=;`` first line wins; else the one of ``, ; TAB |`` found in the header
  line (headers never contain them); when several are, ``csv.Sniffer`` decides; none means one column.
- Row numbers count records as a spreadsheet shows them: the first record is row 1, a quoted value
  spanning three lines is still one row, and blank lines count (Excel shows them as empty rows).
- Every value is text with surrounding whitespace stripped (``" 00123 "`` -> ``"00123"``; leading
  zeros stay); an empty value is ``None``.
- The formula guard is taken off: ``'=1+1`` reads as ``=1+1`` and ``'-call back`` as ``-call back``,
  so a CSV that batchops exported applies without adding a ``'`` to every such value; any other
  leading ``'`` is kept (the rule and its reasons: ``batchops.sheets.writer``).
- A record with a value beyond the last header is an error (an unquoted comma); a shorter record
  is padded with ``None``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from batchops.errors import SheetError
from batchops.sheets.encodings import decode
from batchops.sheets.shape import header_text, is_blank, too_many_rows, unlabelled_column
from batchops.sheets.table import RawTable, column_letter
from batchops.sheets.writer import CSV_GUARD, restore_csv_text

DELIMITERS = ",;\t|"
_SNIFF_SAMPLE = 64 * 1024
_SEP_LINE = re.compile(r"\A\s*sep=(.)\s*\Z", re.IGNORECASE)
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def read_csv(path: Path, data: bytes, *, max_rows: int, encoding: str | None = None) -> RawTable:
    """Parse the bytes of a CSV file already read from ``path`` (in ``encoding`` when given)."""
    decoded = decode(path, data, encoding)
    text, encoding = decoded.text, decoded.encoding
    del data
    warnings = [decoded.notice] if decoded.notice else []
    first_line, skip_first = _first_line(text)
    delimiter = _sep_hint(first_line) if skip_first else None
    if delimiter is None:
        skip_first = False
        delimiter = choose_delimiter(first_line, text[:_SNIFF_SAMPLE])
    table = _parse(path, text, delimiter, skip_first, max_rows)
    table.encoding = encoding
    table.delimiter = delimiter
    table.warnings.extend(warnings)
    return table


def _first_line(text: str) -> tuple[str, bool]:
    """The first non-empty line, and whether it is the very first line (where ``sep=`` may sit)."""
    for number, line in enumerate(io.StringIO(text, newline=None)):
        if line.strip():
            return line.rstrip("\r\n"), number == 0
    return "", False


def _sep_hint(line: str) -> str | None:
    m = _SEP_LINE.match(line)
    return m.group(1) if m else None


def choose_delimiter(header_line: str, sample: str) -> str:
    """The delimiter of a CSV file, judged mainly from its header line."""
    found = [d for d in DELIMITERS if d in _unquoted(header_line)]
    if len(found) == 1:
        return found[0]
    if not found:
        return ","
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(found)).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed in found:
        return sniffed
    return max(found, key=lambda d: (_unquoted(header_line).count(d), d == ","))


def _unquoted(line: str) -> str:
    """The line without its double-quoted parts (a quoted header may contain a comma)."""
    return re.sub(r'"[^"]*"', "", line)


def _parse(path: Path, text: str, delimiter: str, skip_first: bool, max_rows: int) -> RawTable:
    sheet = None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header_row = 0
    headers: list[str] = []
    positions: list[int] = []
    rows: list[list[Any]] = []
    row_numbers: list[int] = []
    number = -1 if skip_first else 0
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SheetError(
                f"could not be parsed as CSV: {_csv_problem(exc)}",
                path=path,
                row=number + 1,
                fix='Check the quotes: a value with a delimiter or line break must be wrapped in "…", '
                'and a quote inside such a value doubled ("").',
            ) from exc
        number += 1
        if number == 0:
            continue  # the sep= line, which Excel hides
        if not header_row:
            if all(is_blank(v) for v in record):
                continue
            header_row = number
            texts = [header_text(_value(v)) for v in record]
            positions = [j for j, t in enumerate(texts) if t]
            headers = [texts[j] for j in positions]
            continue
        values = [_value(v) for v in record]
        if not any(values):
            continue
        for j, v in enumerate(values):
            if v and (j >= len(texts) or not texts[j]):
                if j >= len(texts):
                    raise _ragged(path, number, values, len(texts), delimiter)
                raise unlabelled_column(path, sheet, header_row, j, number)
        rows.append([(values[j] or None) if j < len(values) else None for j in positions])
        row_numbers.append(number)
        if len(rows) > max_rows:
            raise too_many_rows(path, sheet, max_rows)
    if not header_row:
        raise SheetError(
            "has no header row: the file is empty",
            path=path,
            fix="Put the column headers on the first line and one record per line below.",
        )
    return RawTable(
        path=path,
        kind="csv",
        sheet=sheet,
        header_row=header_row,
        headers=headers,
        columns=positions,
        rows=rows,
        row_numbers=row_numbers,
    )


def _value(raw: str) -> str:
    """A value as read: stripped, the writer's formula guard taken off (stripped again: ``'\tx``)."""
    value = raw.strip()
    if value.startswith(CSV_GUARD):  # rare: the common path stays one strip
        value = restore_csv_text(value).strip()
    return value


def _csv_problem(exc: csv.Error) -> str:
    """What the csv module's error means, in a user's words (its own text names internals)."""
    text = str(exc)
    if "expected after" in text:
        return "a quoted value is followed by more text before the next delimiter"
    if "unexpected end of data" in text or "EOF" in text:
        return "a quoted value is never closed"
    if "field larger than field limit" in text:
        return f"a value is longer than {csv.field_size_limit():,} characters"
    return "its quotes do not match"


def _ragged(path: Path, number: int, values: list[str], n_headers: int, delimiter: str) -> SheetError:
    beyond = [(j, v) for j, v in enumerate(values) if v and j >= n_headers]
    columns = [column_letter(j) for j, _ in beyond]
    shown = ", ".join(f"'{v[:30]}'" for _, v in beyond[:3]) + (", …" if len(beyond) > 3 else "")
    where = f"column {columns[0]}" if len(columns) == 1 else "columns " + ", ".join(columns[:-1]) + f" and {columns[-1]}"
    headers = (f"the {n_headers} header columns (A to {column_letter(n_headers - 1)})" if n_headers > 1
               else "the one header column (A)")
    return SheetError(
        f"has {'a value' if len(beyond) == 1 else 'values'} in {where} ({shown}) beyond {headers}",
        path=path,
        row=number,
        fix=f"Wrap values that contain a {_NAMES.get(delimiter, repr(delimiter))} in double quotes, "
        "or add the missing header.",
    )
