"""Build odd xlsx packages byte by byte, for reader tests that openpyxl cannot express."""

from __future__ import annotations

import zipfile
from pathlib import Path

from batchops.sheets.table import column_letter

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def cell_xml(row: int, col: int, value: object) -> str:
    """One ``<c>``: str as inline text, numbers as numbers, ``("f", text)`` a formula, ``("e", "#N/A")`` an error."""
    ref = f"{column_letter(col)}{row}"
    if isinstance(value, tuple) and value[0] == "f":
        return f'<c r="{ref}"><f>{value[1]}</f><v></v></c>'
    if isinstance(value, tuple) and value[0] == "e":
        return f'<c r="{ref}" t="e"><v>{value[1]}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def sheet_xml(rows: dict[int, list[object]], *, tail: str = "", extra_rows: str = "") -> str:
    """A worksheet part from ``{row_number: [values from column A]}``; ``None`` values are left out."""
    body = []
    for number in sorted(rows):
        cells = "".join(cell_xml(number, j, v) for j, v in enumerate(rows[number]) if v is not None)
        body.append(f'<row r="{number}">{cells}</row>')
    return f'{DECL}<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetData>{"".join(body)}{extra_rows}</sheetData>{tail}</worksheet>'


def write_xlsx(
    path: Path,
    sheets: list[tuple[str, str, str]],
    *,
    extra_parts: dict[str, bytes | str] | None = None,
    compresslevel: int | None = None,
) -> Path:
    """Write a minimal xlsx package; ``sheets`` holds ``(name, state, worksheet xml)``."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": f'{DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>",
        "_rels/.rels": f'{DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'{DECL}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
        + "".join(
            f'<sheet name="{name}" sheetId="{i}" state="{state}" r:id="rId{i}"/>'
            for i, (name, state, _xml) in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'{DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        + "</Relationships>",
    }
    for i, (_name, _state, xml) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    parts.update(extra_parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def simple_xlsx(path: Path, rows: dict[int, list[object]], **kwargs: object) -> Path:
    """A workbook with one visible sheet named ``Data``."""
    tail = str(kwargs.pop("tail", ""))
    return write_xlsx(path, [("Data", "visible", sheet_xml(rows, tail=tail))], **kwargs)  # type: ignore[arg-type]
