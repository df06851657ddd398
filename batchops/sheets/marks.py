"""Cell marks on the user's data sheet: a highlight and a comment on every offending cell.

How a mark is made, and why:

* The highlight is **one conditional-formatting rule** (light red fill, dark red text) whose range
  lists the marked cells, not a changed cell style. No cell of the data sheet is touched, so nothing
  has to be remembered to undo it: a later run finds the rule by its formula (``"batchops-mark"<>""``,
  always true and found nowhere else), deletes it, and every cell looks as the user left it, even
  after the workbook was saved again by Excel, which keeps conditional formats as written. Cells that
  do not exist yet need no new ``<c>`` element either.
* The message is a **comment** (a note, in Excel's words) written by the author ``batchops``, shown
  through a VML shape as Excel requires. A later run removes exactly the comments of that author and
  their shapes; the user's own comments, other VML shapes (form controls) and threaded comments stay.
  Files saved by LibreOffice lose the author; our comments are then known by their first line,
  ``batchops:`` in bold, the way Excel heads a note with its author's name.
  A cell that already holds a user's comment is highlighted but gets no comment of ours (a cell has
  one comment only); the report sheet still lists the problem.

Only the end of the sheet part (after ``</sheetData>``) is edited; the rows are streamed through.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from batchops.errors import SheetError

from .namespaces import COMMENTS_TYPE, MAIN_NS, REL_NS, REL_TYPE, VML_NS, VML_TYPE
from .table import cell_position, column_letter
from .xlsx_package import FAST_LEVEL, Package, SheetRef, check_writable
from .xmltext import (
    XML_DECL,
    attributes,
    elements,
    escape_text,
    find_start,
    insert_before_first,
    prefix_for,
    root_prefix,
    unescape,
)

__all__ = ["MARK_AUTHOR", "CellMark", "apply_marks", "clear_marks", "mark_cells"]

MARK_AUTHOR = "batchops"
"""Author of the comments batchops writes; comments by anyone else are never touched."""

COMMENT_HEADING = MARK_AUTHOR + ":"
MARKER = "batchops-mark"
_MARK_FORMULA = f'"{MARKER}"&lt;&gt;""'
_MARK_DXF = (
    '<{p}dxf><{p}font><{p}color rgb="FF9C0006"/></{p}font><{p}fill><{p}patternFill>'
    '<{p}bgColor rgb="FFFFC7CE"/></{p}patternFill></{p}fill></{p}dxf>'
)

# Elements the worksheet schema puts after <conditionalFormatting> and after <legacyDrawing>.
_AFTER_CF = [
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
]
_AFTER_LEGACY = _AFTER_CF[_AFTER_CF.index("legacyDrawing") + 1 :]
_SHEETDATA_START = re.compile(rb"<(\w+:|)sheetData(?:\s[^>]*)?/?>")


@dataclass(frozen=True)
class CellMark:
    """A problem to show on a cell: Excel row number (1-based), 0-based column index, message."""

    row: int
    column: int
    message: str

    @property
    def ref(self) -> str:
        """The cell's A1 reference (``B5``)."""
        return f"{column_letter(self.column)}{self.row}"


# --- the sheet part --------------------------------------------------------------------------


@dataclass
class _SheetSplit:
    head_bytes: int  # bytes before the tail, copied through unchanged
    root_tag: str  # the <worksheet ...> start tag, for prefixes
    tail: str  # from </sheetData> to the end


def _split_sheet(package: Package, part: str) -> _SheetSplit:
    """Find where the rows end; only what follows is ever edited."""
    chunks = package.stream(part)
    window = b""
    # The head: the root tag (for the prefix) and the <sheetData> start tag, both near the top.
    for chunk in chunks:
        window += chunk
        opening = _SHEETDATA_START.search(window)
        if opening:
            break
    else:
        raise SheetError(f"has a worksheet without cell data ({part})", path=package.path)
    root = re.search(rb"<(\w+:)?worksheet[\s>][^>]*>", window)
    root_tag = root.group(0).decode("utf-8") if root else ""
    if opening.group(0).endswith(b"/>"):  # <sheetData/>: no rows at all
        rest = window[opening.start() :] + b"".join(chunks)
        return _SheetSplit(opening.start(), root_tag, rest.decode("utf-8"))
    # The rows: a plain byte search for the end tag (a regex over 40 MB costs a second).
    end_tag = b"</" + opening.group(1) + b"sheetData"
    offset = 0
    while True:
        at = window.find(end_tag)
        if at >= 0:
            rest = window[at:] + b"".join(chunks)
            return _SheetSplit(offset + at, root_tag, rest.decode("utf-8"))
        keep = window[-len(end_tag) :]
        offset += len(window) - len(keep)
        more = next(chunks, None)
        if more is None:
            raise SheetError(f"has a damaged worksheet ({part})", path=package.path)
        window = keep + more


def _sheet_source(package: Package, part: str, split: _SheetSplit, tail: str) -> Iterator[bytes]:
    left = split.head_bytes
    for chunk in package.stream(part):
        if left <= 0:
            break
        yield chunk[:left]
        left -= len(chunk)
    yield tail.encode("utf-8")


def _without_our_rule(tail: str, p: str) -> tuple[str, int]:
    """The tail without our conditional-format rule, and the highest priority of the other rules."""
    for m in reversed(elements(tail, p + "conditionalFormatting")):
        block = m.group(0)
        if MARKER not in block:
            continue
        kept = "".join(r.group(0) for r in elements(block, p + "cfRule") if MARKER not in r.group(0))
        if kept:
            start = block[: block.index(">") + 1]
            block = start + kept + f"</{p}conditionalFormatting>"
        else:
            block = ""
        tail = tail[: m.start()] + block + tail[m.end() :]
    priorities = [int(x) for x in re.findall(r'\bpriority="(\d+)"', tail)]
    return tail, max(priorities, default=0)


def _sqref(marks: Sequence[CellMark]) -> str:
    """Marked cells as ranges: runs of rows in one column merge (``B5:B9 D7``)."""
    by_col: dict[int, list[int]] = defaultdict(list)
    for mark in marks:
        by_col[mark.column].append(mark.row)
    out = []
    for col in sorted(by_col):
        rows = sorted(set(by_col[col]))
        letter = column_letter(col)
        start = prev = rows[0]
        for r in rows[1:] + [0]:
            if r != prev + 1:
                out.append(f"{letter}{start}" if start == prev else f"{letter}{start}:{letter}{prev}")
                start = r
            prev = r
    return " ".join(out)


# --- comments and their VML shapes -----------------------------------------------------------


def _comment_xml(p: str, ref: str, author_id: int, text: str) -> str:
    # The bold "batchops:" first line is how Excel itself heads a note with its author; it also
    # identifies our comments in files LibreOffice has saved, which blanks the author.
    run = f'<{p}rPr><{p}sz val="9"/><{p}rFont val="Tahoma"/><{p}family val="2"/></{p}rPr>'
    bold = run.replace(f"<{p}sz ", f"<{p}b/><{p}sz ", 1)
    return (
        f'<{p}comment ref="{ref}" authorId="{author_id}"><{p}text>'
        f"<{p}r>{bold}<{p}t>{COMMENT_HEADING}</{p}t></{p}r>"
        f'<{p}r>{run}<{p}t xml:space="preserve">\n{escape_text(text)}</{p}t></{p}r>'
        f"</{p}text></{p}comment>"
    )


def _comment_text(p: str, comment: str) -> str:
    return "".join(unescape(t) for t in re.findall(rf"<{p}t(?:\s[^>]*)?>(.*?)</{p}t>", comment, re.DOTALL))


def _ref_cell(ref: str) -> tuple[int, int]:
    """``B5`` → (4, 1): 0-based row and column as VML writes them; (-1, -1) for no cell."""
    position = cell_position(ref)
    return (position[0] - 1, position[1]) if position else (-1, -1)


_SHAPETYPE = (
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
    'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
    '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
)


def _note_shape(shape_id: int, row: int, col: int) -> str:
    top = max(row - 1, 0)
    return (
        f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
        f"margin-left:59.25pt;margin-top:1.5pt;width:180pt;height:60pt;z-index:{shape_id};"
        'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
        '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
        '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
        f"<x:Anchor>{col + 1}, 15, {top}, 10, {col + 4}, 15, {top + 4}, 4</x:Anchor>"
        f"<x:AutoFill>False</x:AutoFill><x:Row>{row}</x:Row><x:Column>{col}</x:Column>"
        "</x:ClientData></v:shape>"
    )


def _new_vml(block: int, shapes: int) -> str:
    # Each idmap block holds 1,024 shape ids; list as many consecutive blocks as the notes need.
    data = ",".join(str(b) for b in range(block, block + (shapes + 1) // 1024 + 1))
    declarations = "".join(f' xmlns:{k}="{ns}"' for k, ns in VML_NS.items())
    return (
        f'<xml{declarations}><o:shapelayout v:ext="edit">'
        f'<o:idmap v:ext="edit" data="{data}"/></o:shapelayout>{_SHAPETYPE}</xml>'
    )


# Any prefix: openpyxl writes ns0:/ns1:/ns2: where Excel writes v:/o:/x:.
_VML_SHAPE = re.compile(r"<(\w+):shape(?=[\s>])[^>]*>.*?</\1:shape\s*>", re.DOTALL)


def _vml_has_shapes(vml: str) -> bool:
    return _VML_SHAPE.search(vml) is not None


def _edit_vml(vml: str, drop: set[tuple[int, int]], add: list[tuple[int, int]], first_id: int) -> str:
    """Remove the note shapes at ``drop`` cells and add one hidden note shape per ``add`` cell."""

    def keep(m: re.Match[str]) -> str:
        shape = m.group(0)
        if 'ObjectType="Note"' in shape:
            r = re.search(r"<(?:\w+:)?Row>\s*(\d+)\s*</", shape)
            c = re.search(r"<(?:\w+:)?Column>\s*(\d+)\s*</", shape)
            if r and c and (int(r.group(1)), int(c.group(1))) in drop:
                return ""
        return shape

    vml = _VML_SHAPE.sub(keep, vml)
    if add:
        root = re.search(r"<xml\b[^>]*>", vml)
        if root:  # our shapes are written with v:, o:, x:; declare them where another tool did not
            decl = "".join(
                f' xmlns:{k}="{ns}"' for k, ns in VML_NS.items() if f"xmlns:{k}=" not in root.group(0)
            )
            vml = vml[: root.end() - 1] + decl + vml[root.end() - 1 :]
        add_text = "" if 'id="_x0000_t202"' in vml else _SHAPETYPE
        ids = [int(x) for x in re.findall(r'id="_x0000_s(\d+)"', vml)]
        next_id = max(ids + [first_id - 1]) + 1
        add_text += "".join(_note_shape(next_id + i, r, c) for i, (r, c) in enumerate(add))
        at = vml.rindex("</xml>")
        vml = vml[:at] + add_text + vml[at:]
    return vml


def _vml_block(package: Package) -> int:
    """An ``o:idmap`` block number no other VML drawing of the workbook uses."""
    used = [0]
    for part in package.part_names():
        if part.endswith(".vml"):
            text = package.read_bytes(part).decode("utf-8", "surrogateescape")
            for data in re.findall(r'<\w+:idmap\b[^>]*\bdata="([\d,\s]+)"', text):
                used += [int(x) for x in re.findall(r"\d+", data)]
    return max(used) + 1


@dataclass
class _Comments:
    prefix: str
    head: str  # root start tag
    authors: list[str]
    kept: list[str]  # comment elements of other authors
    kept_cells: set[str]
    ours: set[str]  # cells of our old comments
    after: str  # anything after </commentList> (extLst)


def _read_comments(text: str | None) -> _Comments:
    if text is None:
        return _Comments("", f'<comments xmlns="{MAIN_NS}">', [], [], set(), set(), "")
    p = root_prefix(text, "comments")
    root = re.search(rf"<{p}comments(?=[\s>])[^>]*>", text)
    authors = [unescape(a) for a in re.findall(rf"<{p}author>(.*?)</{p}author>", text, re.DOTALL)]
    ours_id = str(authors.index(MARK_AUTHOR)) if MARK_AUTHOR in authors else None
    kept, kept_cells, ours = [], set(), set()
    for m in elements(text, p + "comment"):
        a = attributes(m.group(0)[: m.group(0).index(">") + 1])
        ref = a.get("ref", "").upper()
        if a.get("authorId") == ours_id or _comment_text(p, m.group(0)).startswith(COMMENT_HEADING):
            ours.add(ref)
        else:
            kept.append(m.group(0))
            kept_cells.add(ref)
    end = text.find(f"</{p}commentList>")
    after = text[end + len(f"</{p}commentList>") : text.rindex(f"</{p}comments>")] if end >= 0 else ""
    head = root.group(0) if root else f'<comments xmlns="{MAIN_NS}">'
    return _Comments(p, head, authors, kept, kept_cells, ours, after)


# --- the whole edit --------------------------------------------------------------------------


def _sheet(package: Package, name: str) -> SheetRef:
    sheet = package.find_sheet(name)
    if sheet is None or sheet.part is None:
        raise SheetError(f"has no worksheet '{name}' to mark", path=package.path, sheet=name)
    return sheet


def apply_marks(package: Package, sheet_name: str, marks: Sequence[CellMark]) -> bool:
    """Replace batchops' marks on ``sheet_name`` with ``marks`` inside ``package``; False if unchanged."""
    sheet = _sheet(package, sheet_name)
    part = sheet.part
    assert part is not None
    split = _split_sheet(package, part)
    p = root_prefix(split.root_tag, "worksheet")
    tail, top_priority = _without_our_rule(split.tail, p)
    had_rule = tail != split.tail
    rels = package.rels(part)

    # Which VML drawing holds the notes: the one <legacyDrawing> names (a sheet may also have one
    # for header and footer pictures).
    legacy = find_start(tail, p + "legacyDrawing")
    legacy_rid = attributes(legacy.group(0)).get("r:id") if legacy else None
    if legacy and legacy_rid is None:
        legacy_rid = next((v for k, v in attributes(legacy.group(0)).items() if k.endswith(":id")), None)
    vml_rel = rels.get(legacy_rid) if legacy_rid else None
    comment_rels = rels.by_type("comments")
    comments_part = rels.part_of(comment_rels[0]) if comment_rels else None
    comments = _read_comments(
        package.read_text(comments_part) if comments_part and package.has(comments_part) else None
    )
    if not marks and not had_rule and not comments.ours:
        return False

    # One comment per cell: messages of one cell are joined; cells with a user's comment get none.
    messages: dict[str, list[str]] = defaultdict(list)
    cells: dict[str, tuple[int, int]] = {}
    for mark in marks:
        if mark.row < 1 or mark.column < 0:
            raise ValueError(f"not a cell: row {mark.row}, column {mark.column}")
        messages[mark.ref].append(mark.message)
        cells[mark.ref] = (mark.row - 1, mark.column)
    new_refs = [ref for ref in sorted(messages, key=lambda r: cells[r]) if ref not in comments.kept_cells]

    if marks:
        dxf = package.styles().add("dxfs", _MARK_DXF.format(p=package.styles().p))
        rule = (
            f'<{p}conditionalFormatting sqref="{_sqref(marks)}"><{p}cfRule type="expression" '
            f'dxfId="{dxf}" priority="{top_priority + 1}"><{p}formula>{_MARK_FORMULA}</{p}formula>'
            f"</{p}cfRule></{p}conditionalFormatting>"
        )
        tail = insert_before_first(tail, rule, p, _AFTER_CF, "worksheet")

    # Comments part.
    cp = comments.prefix
    authors = comments.authors if MARK_AUTHOR in comments.authors else comments.authors + [MARK_AUTHOR]
    ours_id = authors.index(MARK_AUTHOR)
    new_comments = [_comment_xml(cp, ref, ours_id, "\n".join(messages[ref])) for ref in new_refs]
    if comments.kept or new_comments:
        if not comments.kept:
            authors = [MARK_AUTHOR]
            ours_id = 0
            new_comments = [_comment_xml(cp, ref, 0, "\n".join(messages[ref])) for ref in new_refs]
        text = (
            XML_DECL
            + comments.head
            + f"<{cp}authors>"
            + "".join(f"<{cp}author>{escape_text(a)}</{cp}author>" for a in authors)
            + f"</{cp}authors><{cp}commentList>"
            + "".join(comments.kept + new_comments)
            + f"</{cp}commentList>{comments.after}</{cp}comments>"
        )
        if comments_part is None:
            comments_part = package.new_part_name("xl/comments{}.xml")
            rels.add(REL_TYPE + "comments", comments_part)
        package.put(comments_part, text, COMMENTS_TYPE)
    elif comments_part is not None:
        package.remove(comments_part)
        for rel in comment_rels:
            rels.remove(rel.id)

    # VML shapes for the notes.
    drop = {_ref_cell(ref) for ref in comments.ours - comments.kept_cells}
    add = [cells[ref] for ref in new_refs]
    vml_part = rels.part_of(vml_rel) if vml_rel is not None else None
    if vml_part is not None and package.has(vml_part):
        vml = package.read_bytes(vml_part).decode("utf-8", "surrogateescape")
        vml = _edit_vml(vml, drop, add, 1025)
        if _vml_has_shapes(vml):
            package.put(vml_part, vml.encode("utf-8", "surrogateescape"))
        else:
            package.remove(vml_part)
            rels.remove(vml_rel.id)  # type: ignore[union-attr]
            assert legacy is not None
            tail = re.sub(rf"<{p}legacyDrawing(?=[\s/>])[^>]*/>", "", tail, count=1)
    elif add:
        block = _vml_block(package)
        vml_part = package.new_part_name("xl/drawings/vmlDrawing{}.vml")
        package.put(vml_part, _edit_vml(_new_vml(block, len(add)), set(), add, block * 1024 + 1), VML_TYPE)
        rid = rels.add(REL_TYPE + "vmlDrawing", vml_part)
        r = prefix_for(split.root_tag, REL_NS)
        attr = f'{r}id="{rid}"' if r else f'xmlns:r="{REL_NS}" r:id="{rid}"'
        if legacy:  # pointed at a missing drawing: repoint it
            tail = tail[: legacy.start()] + f"<{p}legacyDrawing {attr}/>" + tail[legacy.end() :]
        else:
            tail = insert_before_first(tail, f"<{p}legacyDrawing {attr}/>", p, _AFTER_LEGACY, "worksheet")

    final_tail = tail
    package.put(part, lambda: _sheet_source(package, part, split, final_tail), level=FAST_LEVEL)
    return True


def mark_cells(
    path: str | Path, sheet: str, marks: Sequence[CellMark], *, dest: str | Path | None = None
) -> Path:
    """Replace batchops' marks on ``sheet`` with ``marks`` (highlight + comment each); one atomic save."""
    check_writable(Path(dest) if dest is not None else Path(path))
    with Package(path) as package:
        apply_marks(package, sheet, marks)
        return package.save(dest)


def clear_marks(path: str | Path, sheet: str | None = None, *, dest: str | Path | None = None) -> bool:
    """Remove batchops' marks from ``sheet`` (every worksheet when None); False, file untouched, if none."""
    with Package(path) as package:
        names = [sheet] if sheet is not None else [s.name for s in package.sheets() if s.part is not None]
        changed = False
        for name in names:
            changed = apply_marks(package, name, []) or changed
        if changed or dest is not None:
            package.save(dest)
        return changed
