"""Report sheets written into the user's workbook by editing the xlsx package, not by re-saving it.

An xlsx file is a zip of XML parts. Loading and saving it with openpyxl re-parses and rewrites every
cell (27 s and 561 MB for 100,000 rows) and silently drops what openpyxl does not understand. Here the
package is edited instead: the report sheet (Errors, Results, Plan) is generated as one new worksheet
part, streamed; ``xl/workbook.xml``, its relationships, ``[Content_Types].xml``, ``xl/styles.xml`` and
``docProps/app.xml`` get small text edits; every other part is copied as its compressed bytes.

A report sheet that already exists under the same name (compared as Excel does, ignoring case) is
replaced in place: it keeps its tab position, its sheet id and its part name. The parts only it used
(comments, drawings) go with it, and so does ``xl/calcChain.xml`` (Excel rebuilds it silently, while a
chain naming formula cells that no longer exist makes Excel "repair" the file). A stale report sheet
can be removed as well (``remove_sheet``), its sheet-scoped names and the active tab renumbered.

The file is saved atomically: a temporary file in the same folder, fsync, the check of
:mod:`batchops.sheets.verify` (a failure raises ``WriteCheckFailed`` and leaves the original as it
was), ``os.replace``, with the original file mode. A workbook open in Excel or LibreOffice (its lock
file lies beside it), read-only, or in a folder we cannot write raises ``WorkbookLocked`` before any
work is done. Every write into a user's workbook goes through :mod:`batchops.sheets.writeback`, which
puts the report beside the workbook when any of these stops it.

The sheet part itself comes from :mod:`batchops.sheets.sheet_xml`, which new workbooks use too:
text cells are inline strings, never formulas, and a formula-like text gets the quote-prefix flag.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from defusedxml import ElementTree as SafeET

from batchops.errors import SheetError, WorkbookLocked, WriteCheckFailed

from .namespaces import MAIN_NS, REL_NS, REL_TYPE, STYLES_TYPE, WORKSHEET_TYPE
from .sheet_xml import (  # re-exported: callers import these from here
    FORMULA_TRIGGERS,
    Link,
    add_cell_styles,
    auto_widths,
    check_sheet_name,
    is_formula_like,
    sheet_xml,
)
from .verify import Expected, PartChecks, SheetContext, parses, verify_written
from .xmltext import (
    MINIMAL_STYLES,
    ContentTypes,
    Rels,
    StylesEditor,
    attributes,
    elements,
    escape_text,
    prefix_for,
    rels_part,
    root_prefix,
    root_tag,
    set_attribute,
)
from .zipraw import RawZipReader, RawZipWriter, ZipLimitError

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

__all__ = [
    "FORMULA_TRIGGERS",
    "Link",
    "Package",
    "SheetRef",
    "auto_widths",
    "check_writable",
    "is_formula_like",
    "put_report_sheet",
]

RT = REL_TYPE

FAST_LEVEL = 1
"""Deflate level for large streamed parts (a report, an edited data sheet): 8x faster than the
default level 6 for a file about 30% larger, until Excel saves it again."""


@dataclass(frozen=True)
class SheetRef:
    """A sheet of the workbook: tab name, sheet id, relationship id, part name and tab position."""

    name: str
    sheet_id: int
    rid: str
    part: str | None
    index: int
    state: str = "visible"


PartSource = Callable[[], Iterable[bytes]]


# --- saving ----------------------------------------------------------------------------------


def _lock_files(path: Path) -> list[Path]:
    # Excel: "~$" + name (Word-style truncation for long names seen too); LibreOffice: ".~lock.NAME#".
    name = path.name
    return [path.with_name("~$" + name), path.with_name("~$" + name[2:]), path.with_name(f".~lock.{name}#")]


def check_writable(path: Path) -> None:
    """Raise ``WorkbookLocked`` if ``path`` cannot be replaced now (open elsewhere, read-only)."""
    fix = "Close it (or make it writable) and run again; the report is written to a separate file meanwhile."
    for lock in _lock_files(path):
        if lock.exists():
            raise WorkbookLocked("the workbook is open in Excel or LibreOffice", path=path, fix=fix)
    # The mode bits too: root may write anything, but a file marked read-only was meant to stay so.
    if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise WorkbookLocked("the workbook is read-only", path=path, fix=fix)
    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkbookLocked("the folder of the workbook is read-only", path=path, fix=fix)


def save_atomically(
    dest: Path,
    write: Callable[[BinaryIO], None],
    *,
    like: Path | None = None,
    check: Callable[[Path], None] | None = None,
    before_replace: Callable[[], None] | None = None,
) -> Path:
    """Write ``dest`` through a temporary file in its folder: fsync, ``check``, then ``os.replace``.

    The file mode of ``like`` (or of ``dest`` when it exists) is kept. ``check`` gets the finished
    temporary file and raises to stop the replace (the temporary file is then removed and ``dest``
    is left exactly as it was). ``before_replace`` runs just before the rename (the source is
    closed there, which Windows needs to replace an open file).
    """
    dest = Path(dest)
    model = like if like is not None and like.exists() else dest
    mode = stat.S_IMODE(model.stat().st_mode) if model.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent or ".")
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if check is not None:
            check(Path(tmp))
        if before_replace is not None:
            before_replace()
        os.replace(tmp, dest)
    except PermissionError as exc:
        _unlink_quietly(tmp)
        raise WorkbookLocked(
            "the workbook cannot be replaced (open in another program?)",
            path=dest,
            fix="Close it and run again.",
        ) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_folder(dest.parent)
    return dest


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk (POSIX only).
    if os.name != "posix":
        return
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- the package -----------------------------------------------------------------------------


class Package:
    """An xlsx package opened for editing: parts are replaced, added or removed, then saved once.

    The save is checked before it replaces anything (``batchops.sheets.verify``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rels: dict[str, Rels] = {}
        self._rels_read: dict[str, str] = {}  # as read, so that only edited ones are written
        self._new: dict[str, PartSource] = {}
        self._generated: set[str] = set()  # report sheets from sheet_xml: whole-row chunks
        self._removed: set[str] = set()
        self._levels: dict[str, int] = {}
        self._styles: StylesEditor | None = None
        self._styles_part: str | None = None
        self._replaced: set[str] = set()  # sheet names (folded) whose content this edit replaces
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - held open for the package's life; close() ends it
        except OSError as exc:
            raise SheetError(f"cannot be opened: {exc.strerror}", path=self.path) from exc
        try:
            self._zip = RawZipReader(self._file)
            self._infos = {i.filename: i for i in self._zip.infolist()}
            self.content_types = ContentTypes(self._read_required("[Content_Types].xml"))
            root_rels = Rels("", self.read_text("_rels/.rels") if self.has("_rels/.rels") else None)
            office = [r for r in root_rels.items if r.type.endswith("/officeDocument")]
            self.workbook_part = root_rels.part_of(office[0]) if office else "xl/workbook.xml"
            self.workbook_text = self._read_required(self.workbook_part)
            if MAIN_NS not in root_tag(self.workbook_text):
                raise SheetError(
                    "is a Strict Open XML workbook, which batchops does not write into",
                    path=self.path,
                    fix="Save it in Excel as an ordinary Excel Workbook (.xlsx) to have reports inside it.",
                )
            self._workbook_read = self.workbook_text
            self._before = self._sheet_refs(self.workbook_text, self.rels(self.workbook_part))
        except (zipfile.BadZipFile, ZipLimitError, SafeET.ParseError, KeyError, UnicodeDecodeError) as exc:
            self._file.close()
            raise SheetError(
                f"is not an xlsx workbook that can be written back ({type(exc).__name__})", path=self.path
            ) from exc
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the source file."""
        self._file.close()

    # parts

    def _read_required(self, part: str) -> str:
        if not self.has(part):
            raise SheetError(f"is not an xlsx workbook (the part {part} is missing)", path=self.path)
        return self.read_text(part)

    def has(self, part: str) -> bool:
        """Whether ``part`` exists (after the edits made so far)."""
        return part not in self._removed and (part in self._new or part in self._infos)

    def part_names(self) -> list[str]:
        """Every part of the package, after the edits made so far."""
        return [n for n in self._infos if n not in self._removed] + [
            n for n in self._new if n not in self._infos
        ]

    def read_bytes(self, part: str) -> bytes:
        """The content of ``part`` (edited content when it was replaced)."""
        if part in self._new:
            return b"".join(self._new[part]())
        return self._zip.zip.read(self._infos[part])

    def read_text(self, part: str) -> str:
        """The content of ``part`` as text."""
        return self.read_bytes(part).decode("utf-8")

    def stream(self, part: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The original content of ``part`` in chunks, inflated as read."""
        with self._zip.zip.open(self._infos[part]) as f:
            while chunk := f.read(size):
                yield chunk

    def put(
        self,
        part: str,
        data: bytes | str | PartSource,
        content_type: str | None = None,
        *,
        level: int | None = None,
        generated: bool = False,
    ) -> None:
        """Give ``part`` new content: bytes, text, or a function returning chunks (run at save).

        ``level`` is the deflate level (default 6; ``FAST_LEVEL`` for large streamed parts).
        ``generated``: the chunks are a report sheet from ``sheet_xml`` (whole rows per chunk), which
        the check before replacing may sample rather than parse whole.
        """
        if level is not None:
            self._levels[part] = level
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(data, bytes):
            payload = data
            self._new[part] = lambda: (payload,)
        else:
            self._new[part] = data
        if generated:
            self._generated.add(part)
        else:
            self._generated.discard(part)
        self._removed.discard(part)
        if content_type is not None and self.content_types.of(part) != content_type:
            self.content_types.overrides[part] = content_type

    def remove(self, part: str) -> None:
        """Drop ``part`` and its content-type override."""
        self._removed.add(part)
        self._new.pop(part, None)
        self._generated.discard(part)
        self.content_types.overrides.pop(part, None)

    def new_part_name(self, pattern: str) -> str:
        """The first unused name of the form ``pattern.format(n)``, n from 1."""
        n = 1
        taken = {p.lower() for p in set(self._infos) | set(self._new)}
        while pattern.format(n).lower() in taken:
            n += 1
        return pattern.format(n)

    def rels(self, part: str) -> Rels:
        """The (editable) relationships of ``part``; written at save."""
        if part not in self._rels:
            rp = rels_part(part)
            self._rels[part] = Rels(part, self.read_text(rp) if self.has(rp) else None)
            self._rels_read[part] = self._rels[part].to_xml()
        return self._rels[part]

    # sheets

    def _sheet_refs(self, workbook_text: str, wb_rels: Rels) -> list[SheetRef]:
        try:
            root = SafeET.fromstring(workbook_text.encode("utf-8"))
        except SafeET.ParseError as exc:  # only an edit of ours can get here: the original parsed on opening
            raise WriteCheckFailed(
                f"the written workbook failed its check: {self.workbook_part} is not well-formed XML "
                f"({str(exc).split(':')[0]}, line {exc.position[0]})",
                path=self.path,
            ) from exc
        out = []
        for index, el in enumerate(root.iter(f"{{{MAIN_NS}}}sheet")):
            rid = el.get(f"{{{REL_NS}}}id", "")
            rel = wb_rels.get(rid)
            part = wb_rels.part_of(rel) if rel is not None and rel.type.endswith("/worksheet") else None
            out.append(
                SheetRef(
                    el.get("name", ""),
                    int(el.get("sheetId", "0")),
                    rid,
                    part,
                    index,
                    el.get("state", "visible"),
                )
            )
        return out

    def sheets(self) -> list[SheetRef]:
        """The workbook's sheets in tab order."""
        return self._sheet_refs(self.workbook_text, self.rels(self.workbook_part))

    def find_sheet(self, name: str) -> SheetRef | None:
        """The sheet named ``name``, compared ignoring case as Excel does."""
        folded = name.casefold()
        return next((s for s in self.sheets() if s.name.casefold() == folded), None)

    def first_row(self, part: str) -> list[str]:
        """The texts of the first row of worksheet ``part`` as read now (shared strings resolved).

        Only the start of the part is parsed, and the shared strings only up to the highest index the
        row uses, so this stays cheap whatever the sheet's size.
        """
        cells: list[tuple[str, str]] = []  # (type, text or shared-string index)
        try:
            for _event, el in SafeET.iterparse(_ChunkReader(self._part_chunks(part)), events=("end",)):
                local = el.tag.rsplit("}", 1)[-1]
                if local == "c":
                    kind = el.get("t", "n")
                    if kind == "inlineStr":
                        inline = next((ch for ch in el if ch.tag.rsplit("}", 1)[-1] == "is"), None)
                        cells.append(("str", _text_of(inline) if inline is not None else ""))
                    else:
                        value = next((ch.text or "" for ch in el if ch.tag.rsplit("}", 1)[-1] == "v"), "")
                        cells.append((kind, value))
                elif local == "row":
                    break
        except SafeET.ParseError:
            return []
        wanted = {int(v) for k, v in cells if k == "s" and v.isdigit()}
        strings = self._shared_strings(max(wanted)) if wanted else []
        return [strings[int(v)] if k == "s" and v.isdigit() and int(v) < len(strings) else v for k, v in cells]

    def _part_chunks(self, part: str) -> Iterator[bytes]:
        if part in self._new:
            yield from self._new[part]()
        else:
            yield from self.stream(part, 64 * 1024)

    def _shared_strings(self, last: int) -> list[str]:
        found = self.rels(self.workbook_part).by_type("sharedStrings")
        part = self.rels(self.workbook_part).part_of(found[0]) if found else None
        out: list[str] = []
        if part is None or not self.has(part):
            return out
        try:
            for _event, el in SafeET.iterparse(_ChunkReader(self._part_chunks(part)), events=("end",)):
                if el.tag.rsplit("}", 1)[-1] == "si":
                    out.append(_text_of(el))
                    el.clear()
                    if len(out) > last:
                        break
        except SafeET.ParseError:
            pass
        return out

    def styles(self) -> StylesEditor:
        """An editor of ``xl/styles.xml`` (created when the workbook has none); written at save."""
        if self._styles is None:
            wb_rels = self.rels(self.workbook_part)
            found = wb_rels.by_type("styles")
            if found and self.has(wb_rels.part_of(found[0])):
                self._styles_part = wb_rels.part_of(found[0])
                self._styles = StylesEditor(self.read_text(self._styles_part))
            else:
                self._styles_part = (
                    "xl/styles.xml"
                    if not self.has("xl/styles.xml")
                    else self.new_part_name("xl/styles{}.xml")
                )
                wb_rels.add(RT + "styles", self._styles_part)
                self.content_types.overrides[self._styles_part] = STYLES_TYPE
                self._styles = StylesEditor(MINIMAL_STYLES)
        return self._styles

    def set_sheet(self, name: str, content: PartSource, *, level: int | None = FAST_LEVEL) -> SheetRef:
        """Add worksheet ``name`` as the last tab, or replace the worksheet of that name in place."""
        check_sheet_name(name)
        existing = self.find_sheet(name)
        wb_rels = self.rels(self.workbook_part)
        self._replaced.add(name.casefold())
        if existing is not None:
            if existing.part is None:
                raise SheetError(
                    f"has a sheet '{existing.name}' that is not a worksheet (a chart sheet?)",
                    path=self.path,
                    fix="Rename that sheet and run again.",
                )
            self._drop_related(existing.part)
            self.put(existing.part, content, WORKSHEET_TYPE, level=level, generated=True)
            self._edit_sheet_entry(existing, name)
            self._drop_calc_chain()
            return SheetRef(name, existing.sheet_id, existing.rid, existing.part, existing.index)
        part = self.new_part_name("xl/worksheets/sheet{}.xml")
        self.put(part, content, WORKSHEET_TYPE, level=level, generated=True)
        rid = wb_rels.add(RT + "worksheet", part)
        sheets = self.sheets()
        sheet_id = max((s.sheet_id for s in sheets), default=0) + 1
        # Only a prefix declared on the root element is bound where the new <sheet> goes: some
        # writers declare xmlns:r on each <sheet> instead, and reusing that prefix here would leave
        # it unbound (a workbook no program opens).
        r = prefix_for(root_tag(self.workbook_text), REL_NS)
        rattr = f'{r}id="{rid}"' if r else f'xmlns:r="{REL_NS}" r:id="{rid}"'
        p = root_prefix(self.workbook_text, "workbook")
        entry = f'<{p}sheet name="{escape_text(name)}" sheetId="{sheet_id}" {rattr}/>'
        close = self.workbook_text.rindex(f"</{p}sheets>")
        self.workbook_text = self.workbook_text[:close] + entry + self.workbook_text[close:]
        self._app_titles_add(name)
        return SheetRef(name, sheet_id, rid, part, len(sheets))

    def remove_sheet(self, name: str) -> bool:
        """Remove worksheet ``name`` (ignoring case) and what only it used; False when there is none.

        Sheet positions shift, so the workbook's sheet-scoped names and its active tab are renumbered.
        """
        sheet = self.find_sheet(name)
        if sheet is None or sheet.part is None:
            return False
        sheets = self.sheets()
        if not any(s.state == "visible" for s in sheets if s.index != sheet.index):
            raise ValueError(f"removing {name!r} would leave no visible sheet")
        self._replaced.add(sheet.name.casefold())
        self._drop_related(sheet.part)
        self.remove(sheet.part)
        wb_rels = self.rels(self.workbook_part)
        wb_rels.remove(sheet.rid)
        p = root_prefix(self.workbook_text, "workbook")
        tag = list(re.finditer(rf"<{p}sheet(?=[\s/>])[^>]*>", self.workbook_text))[sheet.index]
        self.workbook_text = self.workbook_text[: tag.start()] + self.workbook_text[tag.end() :]
        self._renumber_after_removal(sheet.index, p, [s for s in sheets if s.index != sheet.index])
        self._drop_calc_chain()
        self._app_titles_remove(sheet.name)
        return True

    def _renumber_after_removal(self, index: int, p: str, left: list[SheetRef]) -> None:
        text = self.workbook_text
        for m in reversed(elements(text, p + "definedName")):
            start_tag = m.group(0)[: m.group(0).index(">") + 1]
            local = attributes(start_tag).get("localSheetId")
            if local is None or not local.isdigit():
                continue
            if int(local) == index:
                text = text[: m.start()] + text[m.end() :]
            elif int(local) > index:
                new_tag = set_attribute(start_tag, "localSheetId", str(int(local) - 1))
                text = text[: m.start()] + new_tag + text[m.start() + len(start_tag) :]
        text = re.sub(rf"<{p}definedNames>\s*</{p}definedNames>", "", text)
        first_visible = next(i for i, s in enumerate(left) if s.state == "visible")

        def view(m: re.Match[str]) -> str:
            tag = m.group(0)
            a = attributes(tag)
            for attr in ("activeTab", "firstSheet"):
                value = a.get(attr)
                if value is None or not value.isdigit():
                    continue
                n = int(value)
                if n > index:
                    n -= 1
                elif n == index:
                    n = first_visible if attr == "activeTab" else min(n, len(left) - 1)
                tag = set_attribute(tag, attr, str(n))
            return tag

        self.workbook_text = re.sub(rf"<{p}workbookView(?=[\s/>])[^>]*>", view, text)

    def _edit_sheet_entry(self, sheet: SheetRef, name: str) -> None:
        p = root_prefix(self.workbook_text, "workbook")
        tags = [m for m in re.finditer(rf"<{p}sheet(?=[\s/>])[^>]*>", self.workbook_text)]
        tag = tags[sheet.index]
        new = set_attribute(tag.group(0), "name", name)
        self.workbook_text = self.workbook_text[: tag.start()] + new + self.workbook_text[tag.end() :]
        # Excel's hidden filter range of the old sheet would point at rows that are gone.
        for m in reversed(elements(self.workbook_text, p + "definedName")):
            a = attributes(m.group(0)[: m.group(0).index(">") + 1])
            if a.get("name") == "_xlnm._FilterDatabase" and a.get("localSheetId") == str(sheet.index):
                self.workbook_text = self.workbook_text[: m.start()] + self.workbook_text[m.end() :]
        self.workbook_text = re.sub(rf"<{p}definedNames>\s*</{p}definedNames>", "", self.workbook_text)
        if name != sheet.name:
            self._app_titles_rename(sheet.name, name)

    def _drop_related(self, part: str) -> None:
        """Remove ``part``'s relationships and the parts nothing else points to."""
        referenced = self._referenced_parts(exclude=part)
        stack = [part]
        while stack:
            current = stack.pop()
            rels = self.rels(current)
            for rel in rels.items:
                target = rels.part_of(rel)
                if not rel.external and target not in referenced and self.has(target):
                    stack.append(target)
                    self.remove(target)
            rels.items.clear()

    def _referenced_parts(self, exclude: str) -> set[str]:
        out: set[str] = set()
        sources = {
            name[: -len(".rels")].replace("_rels/", "") for name in self._infos if name.endswith(".rels")
        }
        for source in (sources | set(self._rels)) - {exclude}:
            source = source.lstrip("/")
            try:
                rels = self.rels(source)
            except (KeyError, SafeET.ParseError):
                continue
            out.update(rels.part_of(r) for r in rels.items if not r.external)
        return out

    def _drop_calc_chain(self) -> None:
        wb_rels = self.rels(self.workbook_part)
        for rel in wb_rels.by_type("calcChain"):
            self.remove(wb_rels.part_of(rel))
            wb_rels.remove(rel.id)

    # docProps/app.xml keeps a list of tab names; Excel shows it in file properties only.

    def _app_text(self) -> str | None:
        return self.read_text("docProps/app.xml") if self.has("docProps/app.xml") else None

    def _app_titles_add(self, name: str) -> None:
        text = self._app_text()
        if text is None:
            return
        heads = re.search(r"<HeadingPairs>(.*?)</HeadingPairs>", text, re.DOTALL)
        titles = re.search(r"<TitlesOfParts>\s*<vt:vector\b[^>]*>(.*?)</vt:vector>", text, re.DOTALL)
        if not heads or not titles:
            return
        pairs = re.findall(
            r"<vt:lpstr>(.*?)</vt:lpstr>\s*</vt:variant>\s*<vt:variant>\s*<vt:i4>(\d+)</vt:i4>",
            heads.group(1),
            re.DOTALL,
        )
        before = 0
        for label, count in pairs:
            if label == "Worksheets":
                before += int(count)
                break
            before += int(count)
        else:
            return
        items = list(re.finditer(r"<vt:lpstr>.*?</vt:lpstr>", titles.group(1), re.DOTALL))
        if len(items) < before:
            return
        at = titles.start(1) + (items[before - 1].end() if before else 0)
        text = text[:at] + f"<vt:lpstr>{escape_text(name)}</vt:lpstr>" + text[at:]
        self.put("docProps/app.xml", _app_counts(text, +1, len(items) + 1))

    def _app_titles_remove(self, name: str) -> None:
        text = self._app_text()
        if text is None:
            return
        titles = re.search(r"<TitlesOfParts>\s*<vt:vector\b[^>]*>(.*?)</vt:vector>", text, re.DOTALL)
        if not titles:
            return
        items = list(re.finditer(r"<vt:lpstr>(.*?)</vt:lpstr>", titles.group(1), re.DOTALL))
        match = next((m for m in items if m.group(1) == escape_text(name)), None)
        if match is None:
            return
        at = titles.start(1)
        text = text[: at + match.start()] + text[at + match.end() :]
        self.put("docProps/app.xml", _app_counts(text, -1, len(items) - 1))

    def _app_titles_rename(self, old: str, new: str) -> None:
        text = self._app_text()
        if text is not None:
            old_item = f"<vt:lpstr>{escape_text(old)}</vt:lpstr>"
            if old_item in text:
                self.put(
                    "docProps/app.xml", text.replace(old_item, f"<vt:lpstr>{escape_text(new)}</vt:lpstr>", 1)
                )

    # saving

    def _flush_edits(self) -> None:
        """Put the edited workbook, styles, relationships and content types into the parts to write."""
        if self.workbook_text != self._workbook_read:
            self.put(self.workbook_part, self.workbook_text)
        if self._styles is not None and self._styles_part is not None:
            self.put(self._styles_part, self._styles.text, STYLES_TYPE)
        for source, rels in self._rels.items():
            rp = rels_part(source)
            if rels.to_xml() == self._rels_read[source]:
                continue
            if rels.items:
                self.put(rp, rels.to_xml())
            elif self.has(rp):
                self.remove(rp)
        self.put("[Content_Types].xml", self.content_types.to_xml())

    def save(self, dest: str | Path | None = None, *, verify: bool = True) -> Path:
        """Write the edited package to ``dest`` (default: over the source), atomically; closes the source.

        The written file is checked (``verify.verify_written``) before it replaces anything; a failed
        check raises ``WriteCheckFailed`` and leaves ``dest`` as it was. ``verify=False`` exists only to
        measure what the check costs.
        """
        target = Path(dest) if dest is not None else self.path
        check_writable(target)
        self._flush_edits()
        checks = PartChecks(original_parses=self._original_parses)
        expected = self._expected()

        def write(f: BinaryIO) -> None:
            out = RawZipWriter(f)
            for name, info in self._infos.items():
                if name in self._removed:
                    continue
                if name in self._new:
                    self._write_part(out, checks, name)
                else:
                    out.copy(self._zip, info)
            for name in self._new:
                if name not in self._infos:
                    self._write_part(out, checks, name)
            out.close()

        def check(tmp: Path) -> None:
            verify_written(self.path, tmp, expected, checks)

        try:
            return save_atomically(
                target, write, like=self.path, check=check if verify else None, before_replace=self.close
            )
        except ZipLimitError as exc:
            raise SheetError(f"is too large to be written back ({exc})", path=self.path) from exc
        except WriteCheckFailed as exc:
            exc.path = self.path
            raise
        finally:
            self.close()

    def _write_part(self, out: RawZipWriter, checks: PartChecks, name: str) -> None:
        chunks = checks.wrap(name, self._new[name](), sampled=name in self._generated)
        out.write(name, chunks, level=self._levels.get(name))

    def _original_parses(self, name: str) -> bool:
        """Whether the original part ``name`` was well-formed XML (a new part: always expected to be)."""
        if name not in self._infos:
            return True
        try:
            return parses(self._zip.zip.read(self._infos[name]))
        except (zipfile.BadZipFile, OSError, EOFError):
            return False

    # what the check expects

    def _expected(self) -> Expected:
        after = self.sheets()
        present = set(self.part_names())
        before_rels = Rels(self.workbook_part, self._rels_read.get(self.workbook_part) or None)
        before_styles = self._original_styles()
        same: dict[str, tuple[SheetContext, SheetContext]] = {}
        edited: set[str] = set()
        after_by_name = {s.name.casefold(): s for s in after}
        for old in self._before:
            new = after_by_name.get(old.name.casefold())
            if old.part is None or new is None or old.name.casefold() in self._replaced:
                continue
            same[new.name] = (
                self._context(old, before_rels, before_styles, self._workbook_read, after=False),
                self._context(new, self.rels(self.workbook_part), self._current_styles(), self.workbook_text,
                              after=True),
            )
            if new.part in self._new:
                edited.add(new.name)
        return Expected(
            parts=present,
            copied={n for n in self._infos if n in present and n not in self._new},
            sheets=[s.name for s in after],
            worksheets=[s.name for s in after if s.part is not None and s.part in present],
            same_cells=same,
            edited_cells=edited,
            strings_changed=any(n in self._new for n in present if n.lower().endswith("sharedstrings.xml")),
        )

    def _context(self, sheet: SheetRef, wb_rels: Rels, styles: str | None, workbook_text: str, *,
                 after: bool) -> SheetContext:
        strings = wb_rels.by_type("sharedStrings")
        strings_part = wb_rels.part_of(strings[0]) if strings else None
        return SheetContext.of(
            part=sheet.part,
            part_changed=after and sheet.part in self._new,
            strings=strings_part,
            strings_changed=after and strings_part in self._new,
            styles=styles,
            workbook_text=workbook_text,
        )

    def _original_styles(self) -> str | None:
        rels = Rels(self.workbook_part, self._rels_read.get(self.workbook_part) or None)
        found = rels.by_type("styles")
        part = rels.part_of(found[0]) if found else None
        if part is None or part not in self._infos:
            return None
        return self._zip.zip.read(self._infos[part]).decode("utf-8", "replace")

    def _current_styles(self) -> str | None:
        if self._styles is not None:
            return self._styles.text
        return self._original_styles()


class _ChunkReader:
    """A file-like reader over an iterator of byte chunks (for ``iterparse`` on a streamed part)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


def _text_of(el: Any) -> str:
    """The text of a string item or inline string: its ``<t>`` runs, phonetic runs (``rPh``) left out."""
    parts = []
    for child in el:
        local = child.tag.rsplit("}", 1)[-1]
        if local == "t":
            parts.append(child.text or "")
        elif local == "r":
            parts += [t.text or "" for t in child if t.tag.rsplit("}", 1)[-1] == "t"]
    return "".join(parts)


def _app_counts(text: str, delta: int, size: int) -> str:
    """app.xml with its worksheet count moved by ``delta`` and its title vector's size set to ``size``."""
    text = re.sub(
        r"(<vt:lpstr>Worksheets</vt:lpstr>\s*</vt:variant>\s*<vt:variant>\s*<vt:i4>)(\d+)",
        lambda m: m.group(1) + str(max(int(m.group(2)) + delta, 0)),
        text,
        count=1,
    )
    return re.sub(
        r"(<TitlesOfParts>\s*<vt:vector\b[^>]*\bsize=\")(\d+)",
        lambda m: m.group(1) + str(size),
        text,
        count=1,
    )


# --- the report sheet ------------------------------------------------------------------------


def put_report_sheet(
    package: Package,
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[float] | None = None,
    *,
    row_count: int | None = None,
) -> SheetRef:
    """Add or replace report sheet ``name`` in ``package`` (written when the package is saved).

    ``row_count`` (taken from ``rows`` when it has a length) lets the sheet declare its size, which
    spares readers such as openpyxl's read-only mode a pass over every row to find it.
    """
    if row_count is None and isinstance(rows, Sized):
        row_count = len(rows)
    styles = add_cell_styles(package.styles())
    return package.set_sheet(name, lambda: sheet_xml(headers, rows, styles, widths, row_count=row_count))
