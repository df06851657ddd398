"""Worksheet XML generated as text: the one place that turns Python values into xlsx cells.

Two writers use it: report sheets added to a user's workbook (``xlsx_package``: Errors, Results,
Plan) and whole new workbooks (``writer.write_xlsx``: exports, audit, stand-alone results). Both
stream: the sheet part is yielded in chunks of rows, so memory stays flat whatever the row count.

What a cell becomes, in one place:

* A ``str`` is always an inline string (``t="inlineStr"``), never parsed into a number, formula or
  date, so IDs keep leading zeros and all 19 digits. Inline strings rather than a shared-strings
  table: an export's IDs are nearly all distinct, so a table would save little and hold every
  string in memory until the end.
* A text starting with ``= + - @``, tab or CR also gets Excel's quote-prefix flag (what typing a
  leading apostrophe does), so it stays text even when someone edits the cell; the text itself is
  stored unchanged and reads back exactly.
* In a *text column* (the writer's ``text_columns``) the cell and the column carry the Text number
  format ``@``, so a value typed there later stays text too, and an ``int`` or ``float`` is written
  as its digits. Elsewhere an ``int`` within 2**53 and a finite ``float`` are numbers; a larger
  ``int`` is text (a float could not hold it exactly).
* Characters XML cannot hold, and CR (which an XML parser would turn into LF), are escaped the way
  Excel escapes them (``_x000D_``), by :func:`batchops.sheets.xmltext.escape_text`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain, islice
from typing import Any

from .namespaces import MAIN_NS, REL_NS
from .table import column_letter
from .xmltext import XML_DECL, StylesEditor, escape_text

__all__ = [
    "FORMULA_TRIGGERS",
    "CellStyles",
    "Link",
    "add_cell_styles",
    "auto_widths",
    "check_sheet_name",
    "is_formula_like",
    "plain_text",
    "sheet_xml",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A text starting with one of these is a formula to a spreadsheet program (or to its CSV import)."""

TEXT_FORMAT = 49
"""Excel's built-in number format ``@`` (Text)."""

_MAX_WIDTH = 60.0
_MIN_WIDTH = 8.0
_WIDTH_SAMPLE = 200
_CHUNK_ROWS = 500
_EXACT_INT = 2**53  # beyond this a float cannot hold every integer: such numbers are written as text
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def is_formula_like(text: str) -> bool:
    """Whether ``text`` would be taken for a formula (``=``, ``+``, ``-``, ``@``, tab, CR first)."""
    return text.startswith(FORMULA_TRIGGERS)


def check_sheet_name(name: str) -> None:
    """Raise ``ValueError`` unless Excel accepts ``name`` as a sheet name."""
    if (
        not name
        or len(name) > 31
        or _SHEET_NAME_BAD.search(name)
        or name.startswith("'")
        or name.endswith("'")
    ):
        raise ValueError(f"not a valid sheet name: {name!r} (1-31 characters, none of []:*?/\\)")


@dataclass(frozen=True)
class Link:
    """A cell value that is an internal hyperlink: shows ``text`` and jumps to ``sheet!ref``."""

    text: str
    sheet: str
    ref: str

    @property
    def location(self) -> str:
        """The hyperlink's target as Excel writes it: ``'Data'!B5``."""
        return "'" + self.sheet.replace("'", "''") + "'!" + self.ref


# --- styles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellStyles:
    """Indexes into ``cellXfs`` of the styles cells are written with (0: the default style)."""

    header: int
    link: int
    quoted: int
    text: int = 0
    datetime: int = 0  # a date-time cell (a serial number shown as DATETIME_FORMAT); 0: written as text
    read_only_header: int = 0  # the header of a read-only context column: grey, italic, shaded
    read_only_text: int = 0  # a read-only context cell: grey Text


DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""How a date-time cell shows: sortable, filterable and unambiguous in every locale."""
_EXCEL_EPOCH = datetime(1899, 12, 30)
_FIRST_CUSTOM_FORMAT = 164  # numFmtIds below are Excel's built-in formats


def _number_format(styles: StylesEditor, code: str) -> int:
    """The ``numFmtId`` of format ``code`` in ``styles``, added with the next free custom id if missing."""
    found = styles.items("numFmts")
    ids = [_FIRST_CUSTOM_FORMAT - 1]
    for item in found:
        number = re.search(r'numFmtId="(\d+)"', item)
        if number and f'formatCode="{code}"' in item:
            return int(number.group(1))
        if number:
            ids.append(int(number.group(1)))
    styles.add("numFmts", f'<{styles.p}numFmt numFmtId="{max(ids) + 1}" formatCode="{code}"/>')
    return max(ids) + 1


def excel_serial(moment: datetime) -> float:
    """A date-time as Excel stores it: days since 1899-12-30, the time of day as the fraction (no time zone:
    give the wall-clock time the reader should see)."""
    return (moment.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400


READ_ONLY_GREY = "FF6B7280"
READ_ONLY_SHADE = "FFEDEFF2"


def add_cell_styles(styles: StylesEditor, *, text: bool = False, datetimes: bool = False,
                    read_only: bool = False) -> CellStyles:
    """Add (or find) the cell styles in ``styles``: bold header, link, quote prefix, and Text, date-time
    (``DATETIME_FORMAT``) and read-only context columns (a shaded grey italic header, grey Text cells) if asked.

    The fonts are derived from the workbook's default font, so a report sheet looks like the rest
    of the user's workbook.
    """
    p = styles.p
    fonts = styles.items("fonts")
    base = fonts[0] if fonts else f'<{p}font><{p}sz val="11"/><{p}name val="Calibri"/></{p}font>'
    body = re.sub(rf"<{p}(b|u|color)\b[^>]*/>", "", base)
    start = body.index(">") + 1
    if body.endswith("/>"):  # an empty <font/>: give it content
        body, start = f"<{p}font></{p}font>", len(f"<{p}font>")
    bold = styles.add("fonts", body[:start] + f"<{p}b/>" + body[start:])
    link = styles.add("fonts", body[:start] + f'<{p}u/><{p}color rgb="FF0563C1"/>' + body[start:])
    xf_id = ' xfId="0"' if styles.has("cellStyleXfs") else ""
    xf = f'<{p}xf numFmtId="{{n}}" fontId="{{f}}" fillId="0" borderId="0"{xf_id}{{extra}}/>'
    read_only_header = read_only_text = 0
    if read_only:
        grey = f'<{p}color rgb="{READ_ONLY_GREY}"/>'
        header_font = styles.add("fonts", body[:start] + f"<{p}b/><{p}i/>{grey}" + body[start:])
        cell_font = styles.add("fonts", body[:start] + grey + body[start:])
        shade = styles.add("fills", f'<{p}fill><{p}patternFill patternType="solid"><{p}fgColor rgb="{READ_ONLY_SHADE}"/>'
                                    f'<{p}bgColor indexed="64"/></{p}patternFill></{p}fill>')
        read_only_header = styles.add("cellXfs", xf.format(n=0, f=header_font, extra=' applyFont="1" applyFill="1"')
                                      .replace('fillId="0"', f'fillId="{shade}"'))
        read_only_text = styles.add("cellXfs", xf.format(n=TEXT_FORMAT, f=cell_font,
                                                         extra=' applyNumberFormat="1" applyFont="1"'))
    return CellStyles(
        header=styles.add("cellXfs", xf.format(n=0, f=bold, extra=' applyFont="1"')),
        link=styles.add("cellXfs", xf.format(n=0, f=link, extra=' applyFont="1"')),
        quoted=styles.add(
            "cellXfs", xf.format(n=TEXT_FORMAT, f=0, extra=' applyNumberFormat="1" quotePrefix="1"')
        ),
        text=styles.add("cellXfs", xf.format(n=TEXT_FORMAT, f=0, extra=' applyNumberFormat="1"')) if text else 0,
        datetime=styles.add("cellXfs", xf.format(n=_number_format(styles, DATETIME_FORMAT), f=0,
                                                 extra=' applyNumberFormat="1"')) if datetimes else 0,
        read_only_header=read_only_header,
        read_only_text=read_only_text,
    )


# --- widths ----------------------------------------------------------------------------------


def _display_width(value: Any) -> float:
    text = value.text if isinstance(value, Link) else "" if value is None else str(value)
    line = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line[:200])


def auto_widths(headers: Sequence[str], sample: Sequence[Sequence[Any]]) -> list[float]:
    """Column widths in characters from the header and a sample of rows, within sensible bounds."""
    widths = [_display_width(h) + 3 for h in headers]  # room for the filter button
    for row in sample:
        for j, value in enumerate(row[: len(widths)]):
            widths[j] = max(widths[j], _display_width(value) + 1)
    return [min(max(w, _MIN_WIDTH), _MAX_WIDTH) for w in widths]


# --- cells -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attrs:
    """The ``s="n"`` attributes, built once per sheet rather than once per cell."""

    link: str
    quoted: str
    text: str
    datetime: str = ""

    @classmethod
    def of(cls, styles: CellStyles) -> _Attrs:
        def attr(n: int) -> str:
            return f' s="{n}"' if n else ""

        return cls(attr(styles.link), attr(styles.quoted), attr(styles.text), attr(styles.datetime))


def _text_cell(ref: str, text: str, style: str) -> str:
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{escape_text(text)}</t></is></c>'


def _other_text(value: Any) -> str:
    """The text of a value that is neither a plain str, int, float, bool nor None."""
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass (an enum member): its value, not its name
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _number_text(value: float) -> str:
    """A number in a text column as a person would type it: ``5.0`` is ``5``, an ID keeps every digit."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT:
        return str(int(value))
    return str(value)


def plain_text(value: Any) -> str:
    """``value`` as a person would type it in a cell (a CSV's text, a Text column's content)."""
    if isinstance(value, float):
        return _number_text(value)
    return value if type(value) is str else _other_text(value)


def _cell(ref: str, value: Any, text_column: bool, attrs: _Attrs, links: list[tuple[str, str]]) -> str:
    kind = type(value)
    # The common kinds first, by exact type: this runs for every cell of a 100,000-row sheet.
    style = ""
    if kind is str:
        text = value
    elif value is None:
        return ""
    elif kind is int:
        if not text_column and -_EXACT_INT < value < _EXACT_INT:
            return f'<c r="{ref}"><v>{value}</v></c>'
        text = str(value)  # a 19-digit ID stays exact as text
    elif kind is float:
        if not text_column and math.isfinite(value):
            return f'<c r="{ref}"><v>{value!r}</v></c>'
        text = _number_text(value)
    elif isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    elif isinstance(value, int) and not isinstance(value, str):
        return _cell(ref, int(value), text_column, attrs, links)  # an IntEnum, a numpy int subclass
    elif isinstance(value, float):
        return _cell(ref, float(value), text_column, attrs, links)
    elif isinstance(value, Link):
        links.append((ref, value.location))
        text, style = value.text, attrs.link
    elif isinstance(value, datetime) and attrs.datetime and not text_column:
        return f'<c r="{ref}"{attrs.datetime}><v>{excel_serial(value)!r}</v></c>'  # a real date-time cell
    else:
        text = _other_text(value)
    if text.startswith(FORMULA_TRIGGERS):
        style = attrs.quoted
    elif text_column:
        style = attrs.text
    return _text_cell(ref, text, style)


# --- the worksheet part ----------------------------------------------------------------------


def sheet_xml(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    styles: CellStyles,
    widths: Sequence[float] | None = None,
    *,
    text_columns: Collection[int] | None = (),
    selected: bool = False,
    row_count: int | None = None,
    read_only: Collection[int] = (),
    read_only_note: tuple[str, str] | None = None,
) -> Iterator[bytes]:
    """A worksheet part, in chunks: bold frozen header, widths, autofilter, internal links.

    ``rows`` is read once (an iterator is fine). ``widths`` (characters) default to a size from the
    header and the first rows. ``text_columns`` (0-based) get the Text format; ``None`` means every
    column (``styles.text`` must then be set). ``selected`` marks the tab that opens. ``read_only``
    (0-based) columns are context to read, not to edit: their header shaded, their cells grey Text, and
    ``read_only_note`` (title, text) shown as the input message of every cell of them (no comment part).
    ``row_count``, when known, is written as the sheet's dimension (``A1:H101``), which readers use to
    size the sheet without reading it; ``rows`` must then hold exactly that many rows, each no wider than the
    header, or ``ValueError`` is raised at the end (a save then fails and replaces nothing).

    The chunks are whole rows: the first ends after the header row, the last holds the last rows and
    everything after them, and each chunk between is a run of complete ``<row>`` elements. The check
    before a save relies on this to parse a sample of a large sheet as one document.
    """
    rows = iter(rows)
    sample = list(islice(rows, _WIDTH_SAMPLE))
    if widths is None:
        widths = auto_widths(headers, sample)
    all_text = text_columns is None
    text_set = frozenset(text_columns or ())
    ncols = max(len(headers), len(sample[0]) if sample else 0)
    letters = [column_letter(j) for j in range(max(ncols, max((len(r) for r in sample), default=0)))]
    read_only_set = frozenset(read_only)
    flags = [all_text or j in text_set or j in read_only_set for j in range(len(letters))]
    attrs = _Attrs.of(styles)
    # One _Attrs per column: a read-only column's Text style is its grey one (looked up by index per cell).
    muted = _Attrs(attrs.link, attrs.quoted, f' s="{styles.read_only_text}"', attrs.datetime) if read_only_set else attrs
    column_attrs = [muted if j in read_only_set else attrs for j in range(len(letters))]

    tab = ' tabSelected="1"' if selected else ""
    head = [
        XML_DECL,
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">',
        _dimension(len(headers), row_count),
        (
            f'<sheetViews><sheetView{tab} workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
            'sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        ),
    ]
    head += _cols(widths, flags[:ncols], styles.text)
    head.append("<sheetData>")
    if headers:
        header_style = f' s="{styles.header}"'
        read_only_style = f' s="{styles.read_only_header}"'
        head.append('<row r="1">')
        head += [_text_cell(f"{letters[j]}1", str(h), read_only_style if j in read_only_set else header_style)
                 for j, h in enumerate(headers)]
        head.append("</row>")
    yield "".join(head).encode("utf-8")

    links: list[tuple[str, str]] = []
    r = 1
    buf: list[str] = []
    cell: Callable[[str, Any, bool, _Attrs, list[tuple[str, str]]], str] = _cell
    for row in chain(sample, rows):
        r += 1
        if len(row) > len(letters):
            letters += [column_letter(j) for j in range(len(letters), len(row))]
            flags += [all_text or j in text_set for j in range(len(flags), len(row))]
            column_attrs += [attrs] * (len(letters) - len(column_attrs))
        rs = str(r)
        if read_only_set:
            cells = "".join([cell(letters[j] + rs, v, flags[j], column_attrs[j], links) for j, v in enumerate(row)])
        else:  # the common sheet: one style set for every cell, no lookup per cell
            cells = "".join([cell(letters[j] + rs, v, flags[j], attrs, links) for j, v in enumerate(row)])
        buf.append(f'<row r="{rs}">{cells}</row>')
        if len(buf) >= _CHUNK_ROWS:
            yield "".join(buf).encode("utf-8")
            buf.clear()
    if row_count is not None and (r - 1 != row_count or len(letters) > max(len(headers), 1)):
        raise ValueError(f"the sheet declared {row_count} rows of {len(headers)} columns and got {r - 1}")
    buf.append("</sheetData>")
    if headers:
        buf.append(f'<autoFilter ref="A1:{letters[len(headers) - 1]}{r}"/>')
    if read_only_set and read_only_note is not None:
        buf.append(_input_message(sorted(read_only_set), *read_only_note))
    if links:
        buf.append("<hyperlinks>")
        buf += [
            f'<hyperlink ref="{ref}" location="{escape_text(loc)}" display="{escape_text(ref)}"/>'
            for ref, loc in links
        ]
        buf.append("</hyperlinks>")
    buf.append(
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )
    yield "".join(buf).encode("utf-8")


def _dimension(columns: int, row_count: int | None) -> str:
    """The ``<dimension>`` element of a sheet of ``columns`` by ``row_count`` data rows plus the header."""
    if row_count is None:
        return ""
    last = f"{column_letter(max(columns, 1) - 1)}{row_count + 1}"
    return f'<dimension ref="{"A1" if last == "A1" else "A1:" + last}"/>'


MAX_ROW = 1_048_576
"""The last row of an xlsx sheet: an input message covers a whole column, rows added later included."""


def _input_message(columns: Sequence[int], title: str, text: str) -> str:
    """A ``dataValidations`` block that restricts nothing and shows ``title``/``text`` on every cell of
    ``columns`` (Excel's input message: at most 32 and 255 characters)."""
    sqref = " ".join(f"{column_letter(j)}1:{column_letter(j)}{MAX_ROW}" for j in columns)
    return (f'<dataValidations count="1"><dataValidation allowBlank="1" showInputMessage="1" '
            f'promptTitle="{escape_text(title[:32])}" prompt="{escape_text(text[:255])}" sqref="{sqref}"/>'
            "</dataValidations>")


def _cols(widths: Sequence[float], text_flags: Sequence[bool], text_style: int) -> list[str]:
    """The ``<cols>`` element: a width per sized column, the Text style on text columns."""
    out = []
    for j in range(max(len(widths), len(text_flags) if any(text_flags) else 0)):
        width = f'width="{widths[j]:.2f}" customWidth="1"' if j < len(widths) else f'width="{_MIN_WIDTH + 0.43:.2f}"'
        style = f' style="{text_style}"' if j < len(text_flags) and text_flags[j] and text_style else ""
        out.append(f'<col min="{j + 1}" max="{j + 1}" {width}{style}/>')
    return ["<cols>", *out, "</cols>"] if out else []  # an empty <cols> is not allowed
