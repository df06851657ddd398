"""Sheets in and out: xlsx, xls, xlsb, ods and CSV read into ``RawTable``; reports written (no HTTP here)."""

from batchops.sheets.reader import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_UNPACKED_BYTES,
    read_table,
)
from batchops.sheets.table import STAMP_SHEET, CellDamage, Damage, RawTable, Stamp, column_letter

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_UNPACKED_BYTES",
    "STAMP_SHEET",
    "CellDamage",
    "Damage",
    "RawTable",
    "Stamp",
    "column_letter",
    "read_table",
]
