"""The shape of ``batchops.sheets``: no two of its modules import each other, and each fact of the file
format is written once (namespaces in ``namespaces.py``, column letters in ``table.py``)."""

from __future__ import annotations

import re

from house_rules import PACKAGE, ImportGraph


def cycles(graph: ImportGraph, modules: list[str]) -> list[str]:
    """``a → b → a`` for every module that reaches itself through the others (imports in functions count)."""
    found = []
    for module in modules:
        chain = graph.reach(module).get(module)
        if chain is not None:
            found.append(" → ".join(chain))
    return sorted(found)


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    root = tmp_path / "batchops"
    (root / "sheets").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sheets" / "__init__.py").write_text("")
    (root / "sheets" / "marks.py").write_text("from .xlsx_package import Package\n")
    (root / "sheets" / "xlsx_package.py").write_text("def f():\n    from .marks import apply_marks\n")
    graph = ImportGraph.of(root)
    assert cycles(graph, ["batchops.sheets.marks"]) == [
        "batchops.sheets.marks → batchops.sheets.xlsx_package → batchops.sheets.marks"]


def test_no_two_sheet_modules_import_each_other():
    graph = ImportGraph.of()
    modules = [m for m in graph.modules("batchops.sheets") if m != "batchops.sheets"]  # the package re-exports
    assert len(modules) >= 20
    assert cycles(graph, modules) == []


def test_namespaces_and_column_letters_are_written_once():
    sheets = PACKAGE / "sheets"
    uri = re.compile(r"""["'](?:https?://|urn:)""")
    letters = re.compile(r"ord\(\w+\)\s*-\s*64|divmod\(\w+ - 1, 26\)")
    for path in sorted(sheets.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name != "namespaces.py":
            assert not uri.search(text), f"{path.name} writes a namespace URI: take it from namespaces.py"
        if path.name != "table.py":
            assert not letters.search(text), f"{path.name} turns column letters itself: use table.py"
