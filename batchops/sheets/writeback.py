"""Every write into a user's workbook, in one place: edit, check, replace, or put the report beside it.

The Errors, Plan and Results reports go into the workbook the user gave, which is often their only
copy. So each write here is one ``Package`` edit saved once, and the save is checked before the
original is replaced (``batchops.sheets.verify``). When the report cannot go into the workbook, for
whatever reason, the workbook is left byte for byte as it was and the report goes beside it
(``FILE.errors.xlsx``, ``FILE.plan.xlsx``, ``FILE.results.xlsx``) with one line saying why:

* the file is not an xlsx package batchops edits (.xls, .xlsb, .ods, Strict Open XML);
* it is open in Excel or LibreOffice, read-only, or in a folder that cannot be written;
* the written workbook failed its check.

``ReportFile`` says where a report went and what was removed, for the front end to tell the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchops.errors import SheetError, WorkbookLocked, WriteCheckFailed

from .book_reader import FORMATS
from .marks import CellMark, apply_marks
from .xlsx_package import Package, check_writable, put_report_sheet

__all__ = [
    "IN_PLACE_KINDS",
    "ReportFile",
    "add_sheet",
    "claim_sheet",
    "edit_workbook",
    "is_ours",
    "remove_report_sheet",
    "remove_stale",
    "write_beside_or_into",
    "write_report",
]

IN_PLACE_KINDS = ("xlsx",)
"""Input kinds a report is written into; any other workbook (.xls, .xlsb, .ods) gets it beside."""



@dataclass(frozen=True)
class ReportFile:
    """Where a report went (``path`` is None when nothing had to be written) and what to tell the user."""

    path: Path | None
    sheet: str | None = None
    """The report's sheet inside ``path`` (None for a CSV report)."""
    in_place: bool = False
    """Whether the report is in the user's own workbook."""
    reason: str | None = None
    """Why the report is not in the workbook itself (one line), when it went beside it."""
    removed: tuple[str, ...] = ()
    """What of an earlier run was removed from the workbook, each a phrase ("the Errors sheet and the cell
    marks of an earlier run")."""

    def where(self) -> str:
        """``book.xlsx (sheet 'Results')`` or ``book.results.csv``; empty when nothing was written."""
        if self.path is None:
            return ""
        return f"{self.path} (sheet '{self.sheet}')" if self.sheet else str(self.path)

    def warning(self, source: Path) -> str | None:
        """Why the report is not in ``source`` itself and where it went, as one line; None when it is."""
        if not self.reason:
            return None
        if self.path is not None:
            return f"{source.name}: {self.reason}; the report was written to {self.path.name} instead."
        return f"{source.name}: {self.reason}."

    def note(self, source: Path) -> str | None:
        """What stale report was taken out of ``source``, as one line; None when nothing was."""
        if not self.removed:
            return None
        return f"Removed from {source.name}: {'; '.join(self.removed)}."


def edit_workbook(path: str | Path, edit: Callable[[Package], bool], *, dest: str | Path | None = None) -> bool:
    """Open the workbook at ``path``, let ``edit`` change it, and save it once, checked.

    ``edit`` returns whether it changed anything; when not, nothing is written. Raises
    ``WorkbookLocked`` (open elsewhere, read-only), ``SheetError`` (not an xlsx package batchops
    edits) or ``WriteCheckFailed``; in each case the workbook is left as it was.
    """
    check_writable(Path(dest) if dest is not None else Path(path))
    with Package(path) as package:
        if not edit(package):
            return False
        package.save(dest)
        return True


def add_sheet(
    path: str | Path,
    name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    widths: Sequence[float] | None = None,
    dest: str | Path | None = None,
    row_count: int | None = None,
) -> Path:
    """Write a report sheet (Results, Plan, ...) into the workbook at ``path``; one checked, atomic save.

    ``rows`` is streamed (an iterator is fine); a ``Link`` value becomes an internal hyperlink. The
    file is replaced unless ``dest`` names another. Raises as ``edit_workbook`` does.
    """

    def edit(package: Package) -> bool:
        put_report_sheet(package, name, headers, rows, widths, row_count=row_count)
        return True

    edit_workbook(path, edit, dest=dest)
    return Path(dest) if dest is not None else Path(path)


def write_report(
    path: str | Path,
    *,
    sheet_name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    marks_on: str | None = None,
    marks: Sequence[CellMark] | None = None,
    widths: Sequence[float] | None = None,
    dest: str | Path | None = None,
) -> Path:
    """Write a report sheet and replace the cell marks on sheet ``marks_on``, in one checked save.

    This is what ``validate`` needs: the Errors sheet plus highlighted, commented cells. The marks of
    an earlier run are removed first, so an empty ``marks`` just clears them. See ``marks.CellMark``.
    """
    if marks_on is not None and marks_on.casefold() == sheet_name.casefold():
        raise ValueError("the report sheet cannot replace the sheet it marks")

    def edit(package: Package) -> bool:
        if marks_on is not None:
            apply_marks(package, marks_on, list(marks or ()))
        put_report_sheet(package, sheet_name, headers, rows, widths)
        return True

    edit_workbook(path, edit, dest=dest)
    return Path(dest) if dest is not None else Path(path)


def write_beside_or_into(
    path: Path,
    kind: str,
    *,
    sheet: str,
    edit: Callable[[Package], tuple[str, ...]],
    beside: Path,
    write_beside: Callable[[Path], object],
) -> ReportFile:
    """Put report sheet ``sheet`` into the workbook at ``path`` with ``edit``, else beside it at ``beside``.

    ``edit`` adds the sheet (and removes what is stale) and returns what it removed, for the user.
    ``write_beside`` writes a new workbook holding the report at the path it is given; it is used
    when ``kind`` is not an xlsx package or the workbook cannot be written (locked, Strict Open XML,
    or the written file failed its check). A report in the workbook makes a report left beside it
    by an earlier run stale, so that one is deleted.
    """
    if kind not in IN_PLACE_KINDS:
        reason = f"is {FORMATS.get(kind, 'not an xlsx workbook')}, which batchops does not write into"
        write_beside(beside)
        return ReportFile(beside, sheet, in_place=False, reason=reason)
    removed: tuple[str, ...] = ()

    def changed(package: Package) -> bool:
        nonlocal removed
        removed = edit(package)
        return True

    try:
        edit_workbook(path, changed)
    except (WorkbookLocked, SheetError, WriteCheckFailed) as exc:
        reason = _reason(exc)
        write_beside(beside)
        return ReportFile(beside, sheet, in_place=False, reason=reason)
    beside.unlink(missing_ok=True)
    return ReportFile(path, sheet, in_place=True, removed=removed)


def remove_stale(path: Path, kind: str, edit: Callable[[Package], tuple[str, ...]], beside: Path) -> ReportFile:
    """Take an earlier run's report out of the workbook (``edit`` says what it removed), and its file beside.

    Nothing is written when there is nothing stale. When the workbook cannot be written, it is left as
    it was and ``reason`` says why the stale report is still in it.
    """
    beside.unlink(missing_ok=True)
    if kind not in IN_PLACE_KINDS:
        return ReportFile(None)
    try:
        package = Package(path)
    except SheetError:  # not a package batchops edits: it holds nothing batchops wrote
        return ReportFile(None)
    with package:
        removed = edit(package)
        if not removed:
            return ReportFile(None)
        try:
            package.save()
        except (WorkbookLocked, SheetError, WriteCheckFailed) as exc:
            return ReportFile(None, reason=f"{'; '.join(removed)} could not be removed: {_reason(exc)}")
    return ReportFile(None, in_place=True, removed=removed)


def is_ours(package: Package, name: str, headers: Sequence[str]) -> bool | None:
    """Whether sheet ``name`` was written by batchops (its first row starts with ``headers``' first two);
    None when there is no such sheet.

    A user may well have a sheet of their own called "Plan" or "Results": batchops must neither
    replace nor remove that one.
    """
    sheet = package.find_sheet(name)
    if sheet is None:
        return None
    if sheet.part is None:
        return False
    return package.first_row(sheet.part)[:2] == list(headers[:2])


def claim_sheet(package: Package, name: str, headers: Sequence[str]) -> None:
    """Raise ``SheetError`` when the workbook has a sheet ``name`` that batchops did not write."""
    if is_ours(package, name, headers) is False:
        found = package.find_sheet(name)
        raise SheetError(
            f"has a sheet '{found.name if found else name}' of its own, which batchops does not overwrite",
            path=package.path,
        )


def remove_report_sheet(package: Package, name: str, headers: Sequence[str]) -> bool:
    """Remove batchops' report sheet ``name``; False (and nothing removed) when there is none of ours."""
    return bool(is_ours(package, name, headers)) and package.remove_sheet(name)


def _reason(exc: SheetError | WorkbookLocked | WriteCheckFailed) -> str:
    text = exc.message.rstrip(".")
    if isinstance(exc, WriteCheckFailed):
        return f"{text}, so it was left as it was"
    return text
