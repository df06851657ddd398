"""The XML namespaces, relationship types and content types of an xlsx package, written once.

Every reader and writer in ``sheets/`` takes these names from here, so a URI typed wrong in one
module cannot make that module disagree with the others about what a part is.
"""

from __future__ import annotations

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
"""SpreadsheetML (Transitional): workbook, worksheets, styles, comments."""
STRICT_MAIN_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
"""SpreadsheetML as Strict Open XML writes it (read, never written back)."""
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
"""The ``r:`` namespace of relationship-id attributes (``r:id``)."""
STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
"""The root element of every ``_rels/*.rels`` part."""
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
"""The root element of ``[Content_Types].xml``."""

REL_TYPE = REL_NS + "/"
"""Relationship types are this plus a name (``worksheet``, ``styles``, ``comments`` ...)."""
STRICT_REL_TYPE = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
CORE_PROPERTIES_REL = PKG_REL_NS + "/metadata/core-properties"

APP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
CORE_NS = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
DCMITYPE_NS = "http://purl.org/dc/dcmitype/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

VML_NS = {
    "v": "urn:schemas-microsoft-com:vml",
    "o": "urn:schemas-microsoft-com:office:office",
    "x": "urn:schemas-microsoft-com:office:excel",
}
"""The prefixes Excel writes VML drawings (the shapes behind cell notes) with."""
EXCEL_2003_XML_NS = "urn:schemas-microsoft-com:office:spreadsheet"
"""Excel 2003's XML spreadsheet, which some tools still save under an .xls name."""

CT_PREFIX = "application/vnd.openxmlformats-officedocument."
WORKSHEET_TYPE = CT_PREFIX + "spreadsheetml.worksheet+xml"
WORKBOOK_TYPE = CT_PREFIX + "spreadsheetml.sheet.main+xml"
STYLES_TYPE = CT_PREFIX + "spreadsheetml.styles+xml"
COMMENTS_TYPE = CT_PREFIX + "spreadsheetml.comments+xml"
VML_TYPE = CT_PREFIX + "vmlDrawing"
APP_TYPE = CT_PREFIX + "extended-properties+xml"
RELS_TYPE = "application/vnd.openxmlformats-package.relationships+xml"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
"""The ``mimetype`` part of an OpenDocument spreadsheet (a template adds ``-template``)."""
ODF_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
ODF_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
ODF_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
ODF_CALCEXT_NS = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
"""LibreOffice's extension namespace: ``calcext:value-type="error"`` marks a formula's error result."""
