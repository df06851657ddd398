"""Sheets in and out: reading xlsx and CSV files into ``RawTable`` (no HTTP, no validation here)."""

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
