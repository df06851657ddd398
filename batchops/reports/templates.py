"""Template workbooks derived from the catalogue: the sheet a user fills in for one operation.

A template is built to survive Excel: ID and number columns are formatted as Text (so 19-digit IDs and
leading zeros are kept), codes are dropdowns fed from a hidden ``Lists`` sheet, whole numbers are checked
by Excel as they are typed, every header explains its limits, and a hidden stamp sheet names the
operation and the catalogue fingerprint so that validation can tell a stale template. Nothing here is
written by hand: columns, limits and texts all come from :mod:`batchops.catalogue`.

Sheets, in order: the data sheet (named after the operation, first and active), ``Instructions``,
``Lists`` (hidden; only when the operation has codes to pick) and ``_batchops`` (hidden, see :data:`~batchops.sheets.table.STAMP_SHEET`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from .. import __version__
from ..catalogue import LIST_KINDS, OPERATIONS, Field, Kind, Operation
from ..errors import InputError
from ..sheets.sheet_xml import DATETIME_FORMAT
from ..sheets.table import STAMP_SHEET, column_letter

INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
LAST_ROW = 1_048_575
"""Excel's last row (0-based): formats and checks cover whole columns, so no row count runs out."""
TEXT_FORMAT = "@"
TEMPLATE_CREATED = datetime(2025, 1, 1)
"""Fixed document date, so a regenerated template is byte-for-byte the same file."""
MAX_TITLE = 32
"""Excel's limit for the title of an input or error message."""
MAX_MESSAGE = 255
"""Excel's limit for the text of an input or error message."""

TEXT_COLUMN_KINDS = frozenset(
    {Kind.ID, Kind.NUMBER, Kind.NUMBER_LIST, Kind.ID_LIST, Kind.TEXT, Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S}
)
"""Kinds whose column is formatted as Text. Date-times too: what the user types ("2026-12-01 09:30") is
kept as typed instead of being reinterpreted by the locale (01/12 as January or December); date cells
pasted from elsewhere keep their own format and are accepted as well. Codes and whole numbers stay
General so that Excel's dropdown and whole-number checks apply to them."""

_FILE_MODE = 0o644

_WORKBOOK_OPTIONS = {
    "in_memory": True,  # no temporary files; their timestamps would leak into the zip
    "strings_to_numbers": False,
    "strings_to_formulas": False,  # a remark starting with "=" is text, not a formula
    "strings_to_urls": False,
}


@dataclass(frozen=True)
class TemplateSheets:
    """The parts of a template that callers write into: the data sheet and the cell formats."""

    data: Worksheet
    text: Any  # xlsxwriter Format for text cells
    datetime: Any  # xlsxwriter Format for date-time cells
    operation: Operation

    def column(self, name: str) -> int:
        """The 0-based data-sheet column of field ``name``."""
        return self.operation.columns.index(name)


def data_sheet_name(op: Operation) -> str:
    """The data sheet's name: the operation's name, so that reports say which sheet of which kind."""
    return op.name


def write_template(operation: Operation, path: str | Path) -> Path:
    """Write the template workbook for ``operation`` to ``path`` (replacing it) and return the path."""
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise InputError(f"cannot write a template to '{target}': templates are .xlsx workbooks.",
                         fix="Give a file name ending in .xlsx.")
    return save_workbook(target, lambda wb: build_template(wb, operation))


def write_all_templates(directory: str | Path) -> list[Path]:
    """Write ``<operation>.xlsx`` for every operation into ``directory`` (created if needed)."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder '{folder}' ({exc.strerror or exc}).",
                         fix="Choose another folder with -o.") from exc
    return [write_template(op, folder / f"{op.name}.xlsx") for op in OPERATIONS.values()]


def save_workbook(target: Path, fill: Callable[[Workbook], object]) -> Path:
    """Build a workbook with ``fill(workbook)`` and save it atomically at ``target``.

    The file appears complete or not at all: it is written next to ``target`` and renamed over it.
    """
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write '{target}': the folder '{folder}' does not exist.",
                         fix="Create it first, or choose another path with -o.")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".xlsx.tmp", dir=folder)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    os.close(handle)
    temp = Path(temp_name)
    try:
        workbook = xlsxwriter.Workbook(str(temp), _WORKBOOK_OPTIONS)
        fill(workbook)
        workbook.close()
        os.chmod(temp, _FILE_MODE)  # mkstemp makes the file private; a template is an ordinary file
        os.replace(temp, target)
    except FileCreateError as exc:
        raise _cannot_write(target, OSError(str(exc))) from exc
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    finally:
        temp.unlink(missing_ok=True)
    return target


def _cannot_write(target: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write '{target}' ({exc.strerror or exc}).",
                      fix="Close the file if it is open in Excel, or choose another path with -o.")


def build_template(workbook: Workbook, op: Operation) -> TemplateSheets:
    """Add every sheet of ``op``'s template to an open xlsxwriter workbook; the data sheet stays empty."""
    workbook.set_properties({
        "title": f"batchops template: {op.name}",
        "subject": op.title,
        "author": "batchops",
        "comments": f"Made by batchops {__version__} for {op.api}; fingerprint {op.fingerprint()}.",
        "created": TEMPLATE_CREATED,
    })
    formats = _Formats(workbook)
    data = workbook.add_worksheet(data_sheet_name(op))
    instructions = workbook.add_worksheet(INSTRUCTIONS_SHEET)
    # Lists only when there is a dropdown to feed; the stamp always comes last.
    lists = workbook.add_worksheet(LISTS_SHEET) if any(f.choices for f in op.fields) else None
    stamp = workbook.add_worksheet(STAMP_SHEET)
    sources = _write_lists(lists, op, formats) if lists is not None else {}
    _write_data_sheet(data, op, formats, sources)
    _write_instructions(instructions, op, formats)
    _write_stamp(stamp, op)
    data.activate()
    if lists is not None:
        lists.hide()
    stamp.hide()
    return TemplateSheets(data, formats.text, formats.datetime, op)


class _Formats:
    """The few cell formats a template uses, made once per workbook."""

    def __init__(self, wb: Workbook) -> None:
        self.text = wb.add_format({"num_format": TEXT_FORMAT})
        self.datetime = wb.add_format({"num_format": DATETIME_FORMAT})
        header = {"bold": True, "border": 1, "valign": "top", "num_format": TEXT_FORMAT}
        # Mandatory columns get a stronger fill; the Instructions sheet says so.
        self.header_required = wb.add_format({**header, "bg_color": "#F4B183"})
        self.header_optional = wb.add_format({**header, "bg_color": "#DDEBF7"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.heading = wb.add_format({"bold": True, "font_size": 12})
        self.table_header = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1, "valign": "top"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top", "num_format": TEXT_FORMAT})
        self.plain = wb.add_format({"num_format": TEXT_FORMAT})


def _write_lists(sheet: Worksheet, op: Operation, fmt: _Formats) -> dict[str, str]:
    """One pair of columns (value, meaning) per code field; returns field name → dropdown source range."""
    sources: dict[str, str] = {}
    col = 0
    for f in op.fields:
        if not f.choices:
            continue
        sheet.write_string(0, col, f.name, fmt.table_header)
        sheet.write_string(0, col + 1, f"{f.name} meaning", fmt.table_header)
        for i, choice in enumerate(f.choices, start=1):
            sheet.write_string(i, col, choice.value, fmt.plain)
            sheet.write_string(i, col + 1, choice.label, fmt.plain)
        letter = column_letter(col)
        sources[f.name] = f"={LISTS_SHEET}!${letter}$2:${letter}${len(f.choices) + 1}"
        sheet.set_column(col, col, 12)
        sheet.set_column(col + 1, col + 1, 24)
        col += 2
    return sources


def _write_data_sheet(sheet: Worksheet, op: Operation, fmt: _Formats, sources: dict[str, str]) -> None:
    last = len(op.fields) - 1
    for col, f in enumerate(op.fields):
        cell_format = fmt.text if f.kind in TEXT_COLUMN_KINDS else None
        sheet.set_column(col, col, column_width(f), cell_format)
        header_format = fmt.header_required if f.required else fmt.header_optional
        sheet.write_string(0, col, f.name, header_format)
        title, message = input_message(f)
        # The header's own input message: shown when the user clicks the header.
        sheet.data_validation(0, col, 0, col, {
            "validate": "any", "input_title": title, "input_message": message,
        })
        sheet.data_validation(1, col, LAST_ROW, col, column_validation(f, col, sources.get(f.name)))
    sheet.set_row(0, 30)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, 0, last)


def column_width(f: Field) -> float:
    """Wide enough for the header (plus the filter button) and the example, never absurdly wide."""
    widest = max(len(f.name) + 4, len(f.example) + 2, 12)
    return float(min(widest, 40))


def input_message(f: Field) -> tuple[str, str]:
    """The title and text of a column's input message: name, mandatory or optional, limits, example."""
    title = clip(f"{f.name} ({'mandatory' if f.required else 'optional'})", MAX_TITLE)
    limits = f.limits()
    text = f"{f.description} {limits[0].upper()}{limits[1:]}."
    if f.example:
        text += f" Example: {f.example}"
    return title, clip(text, MAX_MESSAGE)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def column_validation(f: Field, col: int, source: str | None) -> dict[str, Any]:
    """The Excel data validation of a data column: a check Excel can enforce, else only the message."""
    title, message = input_message(f)
    options: dict[str, Any] = {"input_title": title, "input_message": message,
                               "error_title": clip(f"Not allowed in {f.name}", MAX_TITLE),
                               "error_message": clip(f"{f.name} takes {f.rules()}.", MAX_MESSAGE),
                               "ignore_blank": True}
    cell = f"{column_letter(col)}2"  # formulas are relative to the first cell of the range
    if f.kind is Kind.CODE and source:
        options.update(validate="list", source=source)
    elif f.kind is Kind.INTEGER and f.minimum is not None and f.maximum is not None:
        options.update(validate="integer", criteria="between", minimum=f.minimum, maximum=f.maximum)
    elif f.kind is Kind.NUMBER and f.max_length:
        options.update(validate="length", criteria="<=", value=f.max_length)
    elif f.kind in LIST_KINDS and f.max_items:
        # Count separators (ASCII and Chinese commas): at most max_items - 1 of them.
        separators = f'LEN({cell})-LEN(SUBSTITUTE(SUBSTITUTE({cell},",",""),"，",""))'
        options.update(validate="custom", value=f"={separators}<{f.max_items}")
    elif f.kind is Kind.TEXT and f.forbidden:
        tests = [f"ISERROR(FIND({_formula_string(ch)},{cell}))" for ch in f.forbidden]
        if f.max_length:
            tests.insert(0, f"LEN({cell})<={f.max_length}")
        options.update(validate="custom", value=f"=AND({','.join(tests)})")
    elif f.kind is Kind.TEXT and f.max_length:
        options.update(validate="length", criteria="<=", value=f.max_length)
    else:
        options.update(validate="any")
        for key in ("error_title", "error_message"):
            del options[key]
    return options


def _formula_string(text: str) -> str:
    """A string literal in an Excel formula: quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def instruction_lines(op: Operation) -> list[str]:
    """The general advice on the Instructions sheet, one paragraph per line."""
    key = " and ".join(op.key)
    lines = [
        (f"Fill in one row per record on the sheet '{data_sheet_name(op)}', below the headers. "
        f"Keep the headers as they are; the Chinese names from the API pages are accepted too."),
        "Columns with an orange header are mandatory; columns with a blue header are optional.",
        "Leave a cell empty to leave that setting unchanged: empty optional cells are not sent.",
        (f"One row per record: two rows with the same {key} are an error, because it is not clear "
        f"which one should win."),
        ("ID and number columns are formatted as Text, so Excel keeps leading zeros and all 19 digits "
        "of an ID. When you paste from another file use Paste Values (Ctrl+Shift+V) so the Text "
        "format stays; a 19-digit ID that Excel stored as a number has lost digits and is rejected."),
    ]
    if any(f.kind in LIST_KINDS for f in op.fields):
        lines.append("Lists: write several values in one cell separated by commas, like 12323,232343. "
                     "Spaces around the commas are ignored and a Chinese comma (，) is accepted too.")
    if any(f.choices for f in op.fields):
        lines.append("Codes: pick the value from the dropdown; the hidden sheet 'Lists' holds the "
                     "allowed values and their meaning.")
    if any(f.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S) for f in op.fields):
        lines.append("Date-times: type them as 2026-12-01 09:30 or 2026-12-01 09:30:00 (year first); "
                     "date cells are accepted too, and so are epoch seconds or milliseconds as the "
                     "column says. A date-time without a UTC offset is read in the time zone batchops "
                     "runs in (the computer's, unless --timezone names another); `batchops validate` "
                     "shows each one resolved. A date without a time is an error.")
    lines += [
        ("Formulas are not accepted: batchops sends values. Replace a formula with its value "
        "(copy, then Paste Values)."),
        (f"Check the file with `batchops validate FILE` before applying it. Do not delete the hidden "
        f"sheet '{STAMP_SHEET}': it tells batchops which operation this is and which version of the "
        f"rules the template was made with."),
    ]
    return lines


_TABLE_COLUMNS = (("Column", 22), ("Mandatory", 11), ("What it is", 40), ("Allowed values", 50),
                  ("Example", 22), ("Note", 40), ("Also accepted as header", 34))


def instruction_rows(op: Operation) -> list[tuple[str, ...]]:
    """The column table of the Instructions sheet: one row per field."""
    return [
        (f.name, "mandatory" if f.required else "optional", f.description, f.rules(), f.example, f.note,
         ", ".join(f.aliases))
        for f in op.fields
    ]


def _write_instructions(sheet: Worksheet, op: Operation, fmt: _Formats) -> None:
    row = 0
    sheet.write_string(row, 0, f"{op.title} ({op.name})", fmt.title)
    row += 1
    sheet.write_string(row, 0, op.doc, fmt.plain)
    row += 1
    sheet.write_string(row, 0, f"API call: {op.api}", fmt.plain)
    row += 1
    sheet.write_string(row, 0, f"Template made by batchops {__version__}; rules fingerprint "
                               f"{op.fingerprint()}.", fmt.plain)
    row += 2
    sheet.write_string(row, 0, "How to fill in this workbook", fmt.heading)
    row += 1
    for line in instruction_lines(op):
        sheet.merge_range(row, 0, row, 3, line, fmt.wrap)
        sheet.set_row(row, 15 * (1 + len(line) // 120))
        row += 1
    row += 1
    sheet.write_string(row, 0, "Columns", fmt.heading)
    row += 1
    for col, (name, width) in enumerate(_TABLE_COLUMNS):
        sheet.write_string(row, col, name, fmt.table_header)
        sheet.set_column(col, col, width)
    row += 1
    for values in instruction_rows(op):
        for col, value in enumerate(values):
            sheet.write_string(row, col, value, fmt.wrap)
        row += 1
    sheet.hide_gridlines(2)


def stamp_rows(op: Operation) -> list[tuple[str, str]]:
    """The ``key | value`` rows of the hidden stamp sheet."""
    return [("operation", op.name), ("fingerprint", op.fingerprint()), ("version", __version__)]


def _write_stamp(sheet: Worksheet, op: Operation) -> None:
    for row, (key, value) in enumerate(stamp_rows(op)):
        # write_string: a fingerprint like "1234e5678901" must never become a number.
        sheet.write_string(row, 0, key)
        sheet.write_string(row, 1, value)


def operations_help(ops: Iterable[Operation] | None = None) -> str:
    """One line per operation (name and title), for command help."""
    return "\n".join(f"  {op.name:<16} {op.title}" for op in (ops or OPERATIONS.values()))


__all__ = [
    "INSTRUCTIONS_SHEET",
    "LISTS_SHEET",
    "TemplateSheets",
    "build_template",
    "data_sheet_name",
    "instruction_lines",
    "operations_help",
    "save_workbook",
    "stamp_rows",
    "write_all_templates",
    "write_template",
]
