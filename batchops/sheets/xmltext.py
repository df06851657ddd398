"""Text-level editing of the small XML parts of an xlsx package.

Parts are edited as text, not re-serialised from a tree: ElementTree drops namespace declarations it
thinks unused, and Excel then rejects a workbook whose ``mc:Ignorable="x14ac xr"`` names a prefix
that is gone. Small parts are *read* with defusedxml (no entity expansion); edits insert or replace
whole elements at places the schema allows. Only relationship and content-type parts, which carry
nothing but their entries, are written afresh.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from defusedxml import ElementTree as SafeET

from .namespaces import CT_NS, MAIN_NS, PKG_REL_NS

XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_ILLEGAL = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_PLAIN = re.compile(r'[^&<>"_\x00-\x1f\ud800-\udfff\ufffe\uffff]*')  # nothing to escape: the common case
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CHARREF = re.compile(r"&(#x[0-9A-Fa-f]+|#\d+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _excel_escape(match: re.Match[str]) -> str:
    # Characters XML 1.0 cannot hold are written the way Excel writes them (_x000B_), and so is CR,
    # which XML allows but every parser reads back as LF, and a lone surrogate (UTF-8 cannot hold
    # it); a literal "_x0041_" is protected by escaping its underscore, or Excel would read it as "A".
    return f"_x{ord(match.group(0)):04X}_"


def escape_text(text: str) -> str:
    """``text`` made safe as element content (and as a double-quoted attribute value)."""
    if _PLAIN.fullmatch(text):
        return text
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub(_excel_escape, text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def unescape(text: str) -> str:
    """The value of XML character data or an attribute (the five entities and character references)."""

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))  # noqa: FURB166 - '#x41' is an XML reference, not '0x41'
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _NAMED[ref]

    return _CHARREF.sub(one, text)


def attributes(start_tag: str) -> dict[str, str]:
    """The attributes of one start tag, by qualified name, unescaped."""
    return {
        m.group(1): unescape(m.group(2) if m.group(2) is not None else m.group(3))
        for m in _ATTR.finditer(start_tag)
    }


def set_attribute(start_tag: str, name: str, value: str) -> str:
    """``start_tag`` with attribute ``name`` set to ``value`` (replaced or added)."""
    pattern = re.compile(rf"""(\s){re.escape(name)}\s*=\s*(?:"[^"]*"|'[^']*')""")
    new = f'{name}="{escape_text(value)}"'
    if pattern.search(start_tag):
        return pattern.sub(lambda m: m.group(1) + new, start_tag, count=1)
    end = len(start_tag) - (2 if start_tag.endswith("/>") else 1)
    return f"{start_tag[:end].rstrip()} {new}{start_tag[end:]}"


def root_prefix(text: str, local: str) -> str:
    """The prefix (``""`` or ``"x:"``) the part's root element ``local`` is written with."""
    m = re.search(rf"<(\w+:)?{local}[\s>/]", text)
    return m.group(1) or "" if m else ""


def root_tag(text: str) -> str:
    """The start tag of the part's root element (after the declaration, comments and processing
    instructions); ``""`` when there is none."""
    pos = 0
    while True:
        pos = text.find("<", pos)
        if pos < 0:
            return ""
        if text.startswith("<?", pos):
            pos = text.find("?>", pos) + 2
        elif text.startswith("<!--", pos):
            pos = text.find("-->", pos) + 3
        elif text.startswith("<!", pos):
            pos = text.find(">", pos) + 1
        else:
            end = text.find(">", pos)
            return text[pos : end + 1] if end >= 0 else ""
        if pos < 2:  # an unterminated declaration or comment
            return ""


def prefix_for(start_tag: str, namespace: str) -> str | None:
    """The prefix ``start_tag`` declares for ``namespace`` (``"r:"``), ``""`` if the default, else None.

    Only the declarations on that one tag count: a prefix declared on some inner element (as
    ``<sheet xmlns:r="..." r:id="rId1"/>`` in files from .NET writers) is not bound anywhere else,
    so it must not be reused outside that element. Pass the root tag (``root_tag``) to learn what
    is bound in the whole part.
    """
    m = re.search(rf"""\bxmlns(:[\w.-]+)?\s*=\s*["']{re.escape(namespace)}["']""", start_tag)
    if not m:
        return None
    return m.group(1)[1:] + ":" if m.group(1) else ""


def elements(text: str, tag: str) -> list[re.Match[str]]:
    """Every ``tag`` element (empty or with content; not nested in itself) in ``text``."""
    t = re.escape(tag)
    return list(re.finditer(rf"<{t}(?=[\s/>])[^>]*?/>|<{t}(?=[\s>])[^>]*>.*?</{t}\s*>", text, re.DOTALL))


def find_start(text: str, tag: str, start: int = 0) -> re.Match[str] | None:
    """The first start tag of ``tag`` at or after ``start``."""
    return re.compile(rf"<{re.escape(tag)}(?=[\s/>])[^>]*>").search(text, start)


def insert_before_first(text: str, snippet: str, prefix: str, followers: list[str], root: str) -> str:
    """Insert ``snippet`` before the first of ``followers`` found, else before the root's end tag.

    ``followers`` are the elements the schema puts after the new one, in order; their first
    occurrence is where the new element belongs.
    """
    best = -1
    for name in followers:
        m = find_start(text, prefix + name)
        if m and (best < 0 or m.start() < best):
            best = m.start()
    if best < 0:
        best = text.rindex(f"</{prefix}{root}")
    return text[:best] + snippet + text[best:]


# --- package-level parts ---------------------------------------------------------------------


def resolve(source_part: str, target: str) -> str:
    """The part name a relationship target points to, from the part that holds the relationship."""
    if target.startswith("/"):
        return posixpath.normpath(target[1:])
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def rels_part(part: str) -> str:
    """The relationships part of ``part`` (``xl/_rels/workbook.xml.rels``)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def relative(source_part: str, part: str) -> str:
    """``part`` as a relationship target relative to ``source_part``."""
    return posixpath.relpath(part, posixpath.dirname(source_part) or ".")


@dataclass
class Relationship:
    """One relationship: its id, type, target as written, and whether it points outside the package."""

    id: str
    type: str
    target: str
    external: bool = False


class Rels:
    """A relationships part, kept as a list and written afresh."""

    def __init__(self, source_part: str, text: str | None) -> None:
        self.source = source_part
        self.items: list[Relationship] = []
        if text:
            root = SafeET.fromstring(text)
            for el in root:
                if el.tag.rsplit("}", 1)[-1] == "Relationship":
                    self.items.append(
                        Relationship(
                            el.get("Id", ""),
                            el.get("Type", ""),
                            el.get("Target", ""),
                            el.get("TargetMode") == "External",
                        )
                    )

    def by_type(self, suffix: str) -> list[Relationship]:
        """Relationships whose type ends with ``/suffix``."""
        return [r for r in self.items if r.type.endswith("/" + suffix)]

    def get(self, rid: str) -> Relationship | None:
        """The relationship with id ``rid``."""
        return next((r for r in self.items if r.id == rid), None)

    def part_of(self, rel: Relationship) -> str:
        """The part name ``rel`` points to."""
        return resolve(self.source, rel.target)

    def add(self, type_: str, part: str) -> str:
        """Add a relationship to ``part``; returns its new id."""
        taken = {r.id for r in self.items}
        n = len(taken) + 1
        while f"rId{n}" in taken:
            n += 1
        rid = f"rId{n}"
        self.items.append(Relationship(rid, type_, relative(self.source, part)))
        return rid

    def remove(self, rid: str) -> None:
        """Drop the relationship ``rid``."""
        self.items = [r for r in self.items if r.id != rid]

    def to_xml(self) -> str:
        """The part's text."""
        lines = [XML_DECL, f'<Relationships xmlns="{PKG_REL_NS}">']
        for r in self.items:
            mode = ' TargetMode="External"' if r.external else ""
            lines.append(
                f'<Relationship Id="{escape_text(r.id)}" Type="{escape_text(r.type)}" '
                f'Target="{escape_text(r.target)}"{mode}/>'
            )
        lines.append("</Relationships>")
        return "".join(lines)


class ContentTypes:
    """``[Content_Types].xml``: defaults by extension and overrides by part, written afresh."""

    def __init__(self, text: str) -> None:
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        for el in SafeET.fromstring(text):
            local = el.tag.rsplit("}", 1)[-1]
            if local == "Default":
                self.defaults[el.get("Extension", "").lower()] = el.get("ContentType", "")
            elif local == "Override":
                self.overrides[el.get("PartName", "").lstrip("/")] = el.get("ContentType", "")

    def of(self, part: str) -> str | None:
        """The content type of ``part``."""
        if part in self.overrides:
            return self.overrides[part]
        return self.defaults.get(posixpath.splitext(part)[1][1:].lower())

    def to_xml(self) -> str:
        """The part's text."""
        out = [XML_DECL, f'<Types xmlns="{CT_NS}">']
        out += [
            f'<Default Extension="{escape_text(e)}" ContentType="{escape_text(t)}"/>'
            for e, t in self.defaults.items()
        ]
        out += [
            f'<Override PartName="/{escape_text(p)}" ContentType="{escape_text(t)}"/>'
            for p, t in self.overrides.items()
        ]
        out.append("</Types>")
        return "".join(out)


# --- styles ----------------------------------------------------------------------------------

_STYLE_ORDER = [
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
    "tableStyles",
    "colors",
    "extLst",
]
_ITEM = {"fonts": "font", "fills": "fill", "cellXfs": "xf", "dxfs": "dxf", "cellStyleXfs": "xf", "numFmts": "numFmt"}

MINIMAL_STYLES = (
    XML_DECL + f'<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


class StylesEditor:
    """Adds fonts, cell formats and differential formats to ``xl/styles.xml``, reusing equal ones."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.p = root_prefix(text, "styleSheet")

    def _container(self, name: str) -> tuple[int, int, int]:
        """(start of the start tag, end of the start tag, start of the end tag), created if missing."""
        p = self.p
        m = find_start(self.text, p + name)
        if m and m.group(0).endswith("/>"):
            self.text = self.text[: m.start()] + m.group(0)[:-2] + f"></{p}{name}>" + self.text[m.end() :]
            m = find_start(self.text, p + name)
        if not m:
            i = _STYLE_ORDER.index(name)
            self.text = insert_before_first(
                self.text, f'<{p}{name} count="0"></{p}{name}>', p, _STYLE_ORDER[i + 1 :], "styleSheet"
            )
            m = find_start(self.text, p + name)
        assert m is not None
        close = self.text.index(f"</{p}{name}>", m.end())
        return m.start(), m.end(), close

    def items(self, name: str) -> list[str]:
        """The elements of container ``name`` (``"cellXfs"`` → every ``<xf>``) as text."""
        _, body, close = self._container(name)
        return [m.group(0) for m in elements(self.text[body:close], self.p + _ITEM[name])]

    def add(self, name: str, item: str) -> int:
        """Index of ``item`` in container ``name``, appending it when no equal entry exists."""
        found = self.items(name)
        if item in found:
            return found.index(item)
        start, body, close = self._container(name)
        tag = set_attribute(self.text[start:body], "count", str(len(found) + 1))
        self.text = self.text[:start] + tag + self.text[body:close] + item + self.text[close:]
        return len(found)

    def has(self, name: str) -> bool:
        """Whether the container holds at least one element."""
        return bool(find_start(self.text, self.p + name)) and bool(self.items(name))
