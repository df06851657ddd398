"""Report sheets written into the user's workbook by editing the xlsx package, not by re-saving it.

An xlsx file is a zip of XML parts. Loading and saving it with openpyxl re-parses and rewrites every
cell (27 s and 561 MB for 100,000 rows) and silently drops what openpyxl does not understand. Here the
package is edited instead: the report sheet (Errors, Results, Plan) is generated as one new worksheet
part, streamed; ``xl/workbook.xml``, its relationships, ``[Content_Types].xml``, ``xl/styles.xml`` and
``docProps/app.xml`` get small text edits; every other part is copied as its compressed bytes.

A report sheet that already exists under the same name (compared as Excel does, ignoring case) is
replaced in place: it keeps its tab position, its sheet id and its part name. The parts only it used
(comments, drawings) go with it, and so does ``xl/calcChain.xml`` (Excel rebuilds it silently, while a
chain naming formula cells that no longer exist makes Excel "repair" the file).

The file is saved atomically: a temporary file in the same folder, fsync, ``os.replace``, with the
original file mode. A workbook open in Excel or LibreOffice (its lock file lies beside it), read-only,
or in a folder we cannot write raises ``WorkbookLocked`` before any work is done, so that the caller
can write the report to ``FILE.results.xlsx`` instead.

The sheet part itself comes from :mod:`batchops.sheets.sheet_xml`, which new workbooks use too:
text cells are inline strings, never formulas, and a formula-like text gets the quote-prefix flag.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from defusedxml import ElementTree as SafeET

from batchops.errors import SheetError, WorkbookLocked

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

from .sheet_xml import (  # re-exported: callers import these from here
    FORMULA_TRIGGERS,
    Link,
    add_cell_styles,
    auto_widths,
    check_sheet_name,
    is_formula_like,
    sheet_xml,
)
from .xmltext import (
    MAIN_NS,
    MINIMAL_STYLES,
    REL_NS,
    ContentTypes,
    Rels,
    StylesEditor,
    attributes,
    elements,
    escape_text,
    prefix_for,
    rels_part,
    root_prefix,
    set_attribute,
)
from .zipraw import RawZipReader, RawZipWriter, ZipLimitError

__all__ = [
    "FORMULA_TRIGGERS",
    "Link",
    "Package",
    "SheetRef",
    "add_sheet",
    "auto_widths",
    "check_writable",
    "is_formula_like",
    "write_report",
]

RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
OFFICE_DOCUMENT = RT + "officeDocument"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STYLES_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"

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
    before_replace: Callable[[], None] | None = None,
) -> Path:
    """Write ``dest`` through a temporary file in its folder: fsync, then ``os.replace``.

    The file mode of ``like`` (or of ``dest`` when it exists) is kept. ``before_replace`` runs just
    before the rename (the source is closed there, which Windows needs to replace an open file).
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
    """An xlsx package opened for editing: parts are replaced, added or removed, then saved once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rels: dict[str, Rels] = {}
        self._rels_read: dict[str, str] = {}  # as read, so that only edited ones are written
        self._new: dict[str, PartSource] = {}
        self._removed: set[str] = set()
        self._levels: dict[str, int] = {}
        self._styles: StylesEditor | None = None
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
            if MAIN_NS not in self.workbook_text:
                raise SheetError(
                    "is a Strict Open XML workbook, which cannot be written back",
                    path=self.path,
                    fix="Save it in Excel as an ordinary Excel Workbook (.xlsx).",
                )
        except (zipfile.BadZipFile, ZipLimitError, SafeET.ParseError, KeyError, UnicodeDecodeError) as exc:
            self._file.close()
            raise SheetError(
                f"is not an xlsx workbook that can be written back ({exc})", path=self.path
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
    ) -> None:
        """Give ``part`` new content: bytes, text, or a function returning chunks (run at save).

        ``level`` is the deflate level (default 6; ``FAST_LEVEL`` for large streamed parts).
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
        self._removed.discard(part)
        if content_type is not None and self.content_types.of(part) != content_type:
            self.content_types.overrides[part] = content_type

    def remove(self, part: str) -> None:
        """Drop ``part`` and its content-type override."""
        self._removed.add(part)
        self._new.pop(part, None)
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

    def sheets(self) -> list[SheetRef]:
        """The workbook's sheets in tab order."""
        root = SafeET.fromstring(self.workbook_text)
        wb_rels = self.rels(self.workbook_part)
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

    def find_sheet(self, name: str) -> SheetRef | None:
        """The sheet named ``name``, compared ignoring case as Excel does."""
        folded = name.casefold()
        return next((s for s in self.sheets() if s.name.casefold() == folded), None)

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
        if existing is not None:
            if existing.part is None:
                raise SheetError(
                    f"has a sheet '{existing.name}' that is not a worksheet (a chart sheet?)",
                    path=self.path,
                    fix="Rename that sheet and run again.",
                )
            self._drop_related(existing.part)
            self.put(existing.part, content, WORKSHEET_TYPE, level=level)
            self._edit_sheet_entry(existing, name)
            self._drop_calc_chain()
            return SheetRef(name, existing.sheet_id, existing.rid, existing.part, existing.index)
        part = self.new_part_name("xl/worksheets/sheet{}.xml")
        self.put(part, content, WORKSHEET_TYPE, level=level)
        rid = wb_rels.add(RT + "worksheet", part)
        sheets = self.sheets()
        sheet_id = max((s.sheet_id for s in sheets), default=0) + 1
        r = prefix_for(self.workbook_text, REL_NS)
        rattr = f'{r}id="{rid}"' if r else f'xmlns:r="{REL_NS}" r:id="{rid}"'
        p = root_prefix(self.workbook_text, "workbook")
        entry = f'<{p}sheet name="{escape_text(name)}" sheetId="{sheet_id}" {rattr}/>'
        close = self.workbook_text.rindex(f"</{p}sheets>")
        self.workbook_text = self.workbook_text[:close] + entry + self.workbook_text[close:]
        self._app_titles_add(name)
        return SheetRef(name, sheet_id, rid, part, len(sheets))

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
        text = re.sub(
            r"(<vt:lpstr>Worksheets</vt:lpstr>\s*</vt:variant>\s*<vt:variant>\s*<vt:i4>)(\d+)",
            lambda m: m.group(1) + str(int(m.group(2)) + 1),
            text,
            count=1,
        )
        text = re.sub(
            r"(<TitlesOfParts>\s*<vt:vector\b[^>]*\bsize=\")(\d+)",
            lambda m: m.group(1) + str(len(items) + 1),
            text,
            count=1,
        )
        self.put("docProps/app.xml", text)

    def _app_titles_rename(self, old: str, new: str) -> None:
        text = self._app_text()
        if text is not None:
            old_item = f"<vt:lpstr>{escape_text(old)}</vt:lpstr>"
            if old_item in text:
                self.put(
                    "docProps/app.xml", text.replace(old_item, f"<vt:lpstr>{escape_text(new)}</vt:lpstr>", 1)
                )

    # saving

    def save(self, dest: str | Path | None = None) -> Path:
        """Write the edited package to ``dest`` (default: over the source), atomically; closes the source."""
        target = Path(dest) if dest is not None else self.path
        check_writable(target)
        self.put(self.workbook_part, self.workbook_text)
        if self._styles is not None:
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

        def write(f: BinaryIO) -> None:
            out = RawZipWriter(f)
            for name, info in self._infos.items():
                if name in self._removed:
                    continue
                if name in self._new:
                    out.write(name, self._new[name](), level=self._levels.get(name))
                else:
                    out.copy(self._zip, info)
            for name, source in self._new.items():
                if name not in self._infos:
                    out.write(name, source(), level=self._levels.get(name))
            out.close()

        try:
            return save_atomically(target, write, like=self.path, before_replace=self.close)
        except ZipLimitError as exc:
            raise SheetError(f"is too large to be written back ({exc})", path=self.path) from exc
        finally:
            self.close()


# --- the report sheet ------------------------------------------------------------------------


def put_report_sheet(
    package: Package,
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[float] | None = None,
) -> SheetRef:
    """Add or replace report sheet ``name`` in ``package`` (written when the package is saved)."""
    styles = add_cell_styles(package.styles())
    return package.set_sheet(name, lambda: sheet_xml(headers, rows, styles, widths))


def add_sheet(
    path: str | Path,
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    widths: Sequence[float] | None = None,
    dest: str | Path | None = None,
) -> Path:
    """Write a report sheet (Results, Plan, ...) into the workbook at ``path``; one atomic save.

    ``rows`` is streamed (an iterator is fine); a ``Link`` value becomes an internal hyperlink. The
    file is replaced unless ``dest`` names another. Raises ``WorkbookLocked`` when the target cannot
    be written and ``SheetError`` when ``path`` is not an xlsx workbook.
    """
    check_writable(Path(dest) if dest is not None else Path(path))
    with Package(path) as package:
        put_report_sheet(package, name, headers, rows, widths)
        return package.save(dest)


def write_report(
    path: str | Path,
    *,
    sheet_name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    marks_on: str | None = None,
    marks: Sequence[Any] | None = None,
    widths: Sequence[float] | None = None,
    dest: str | Path | None = None,
) -> Path:
    """Write a report sheet and replace the cell marks on sheet ``marks_on``, in one atomic save.

    This is what ``validate`` needs: the Errors sheet plus highlighted, commented cells. The marks of
    an earlier run are removed first, so an empty ``marks`` just clears them. See ``marks.CellMark``.
    """
    from .marks import apply_marks  # marks builds on this module

    if marks_on is not None and marks_on.casefold() == sheet_name.casefold():
        raise ValueError("the report sheet cannot replace the sheet it marks")
    check_writable(Path(dest) if dest is not None else Path(path))
    with Package(path) as package:
        if marks_on is not None:
            apply_marks(package, marks_on, list(marks or ()))
        put_report_sheet(package, sheet_name, headers, rows, widths)
        return package.save(dest)
