"""The rules of the house, read from the source: the library never imports the CLI; reading and writing
sheets and talking HTTP stay apart; each API limit is written once, in the catalogue. Each checker is first
shown to catch a planted breach, so that a rule cannot pass by checking nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

from house_rules import PACKAGE, ImportGraph, against_the_layers, forbidden, limits_written_again

from batchops.catalogue import OPERATIONS

FRONT_ENDS = ("batchops.cli", "batchops.__main__")
"""The command line and its entry point: the only modules that may import ``batchops.cli``."""
HTTP_MODULES = ("batchops.http", "batchops.remote.readers")
"""The HTTP side: the ``http`` folder (requests, auth, retrying, pacing, sending), and reading records over HTTP."""
HTTP_CODE = (*HTTP_MODULES, "httpx", "aiohttp", "tenacity", "h11", "anyio")
SHEET_CODE = ("batchops.sheets", "batchops.checking", "batchops.reports", "openpyxl", "xlsxwriter", "python_calamine",
              "pandas", "pandera", "defusedxml")
"""Reading and writing workbooks, checking their rows, and the reports written from them."""

def planted(tmp_path: Path, files: dict[str, str]) -> ImportGraph:
    """A package ``batchops`` of ``files`` (relative path → source) in ``tmp_path``, and its import graph."""
    root = tmp_path / "batchops"
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return ImportGraph.of(root)


def test_the_import_checker_sees_imports_in_functions_and_through_other_modules_but_not_type_checking(tmp_path):
    graph = planted(tmp_path, {
        "__init__.py": "",
        "cli/__init__.py": "",
        "cli/app.py": "",
        "journal/__init__.py": "",
        "journal/db.py": "def f():\n    from ..cli.app import run\n",
        "plan.py": "from .journal import db\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cli import app\n",
        "sheets/__init__.py": "",
        "sheets/reader.py": "import httpx\n",
    })
    assert forbidden(graph, [m for m in graph.imports if not m.startswith("batchops.cli")], ["batchops.cli"]) == [
        "batchops.journal.db → batchops.cli.app", "batchops.plan → batchops.journal.db → batchops.cli.app"]
    assert forbidden(graph, graph.modules("batchops.sheets"), ["httpx"]) == ["batchops.sheets.reader → httpx"]


def test_no_library_module_imports_the_cli():
    graph = ImportGraph.of()
    library = [m for m in graph.imports if not m.startswith(FRONT_ENDS)]
    assert len(library) > 50
    assert forbidden(graph, library, ["batchops.cli"]) == []


def test_the_sheet_side_imports_no_http_code():
    graph = ImportGraph.of()
    assert len(graph.modules("batchops.sheets")) >= 10
    assert forbidden(graph, graph.modules("batchops.sheets"), HTTP_CODE) == []


def test_the_http_side_imports_no_sheet_code():
    graph = ImportGraph.of()
    modules = [m for name in HTTP_MODULES for m in graph.modules(name)]
    assert len(modules) >= 10 and all(m in graph.imports for m in HTTP_MODULES)
    assert forbidden(graph, modules, SHEET_CODE) == []


LAYERS = [("sheets", "http", "journal"), ("checking",), ("remote",), ("apply",), ("reports",), ("workflow",),
          ("web",), ("cli",)]
"""The folders of ``batchops``, lowest first: each imports only from the layers before it (and the top-level
modules: the catalogue, errors, settings, secrets). The sandbox stands alone (``test_sandbox_independent``)."""


def test_the_layer_checker_finds_an_import_upwards_or_sideways(tmp_path):
    graph = planted(tmp_path, {
        "__init__.py": "", "catalogue.py": "",
        "http/__init__.py": "", "http/client.py": "from ..catalogue import x\n",
        "sheets/__init__.py": "", "sheets/reader.py": "from ..http.client import Client\n",
        "checking/__init__.py": "", "checking/coerce.py": "from ..sheets import reader\n",
        "remote/__init__.py": "", "remote/readers.py": "def f():\n    from ..reports.plan import Plan\n",
        "reports/__init__.py": "", "reports/plan.py": "from ..remote.readers import f\n",
    })
    assert against_the_layers(graph, [("sheets", "http"), ("checking",), ("remote",), ("reports",)]) == [
        "batchops.remote.readers → batchops.reports.plan", "batchops.sheets.reader → batchops.http.client"]


def test_the_folders_depend_one_way():
    graph = ImportGraph.of()
    folders = {m.split(".")[1] for m in graph.imports if m.count(".") >= 2}
    assert folders == {name for layer in LAYERS for name in layer} | {"sandbox"}  # a new folder gets a layer
    assert against_the_layers(graph, LAYERS) == []


def catalogue_limits() -> tuple[set[tuple[int, int]], set[int]]:
    """Every field's range (minimum, maximum), and the limits distinctive enough to spot alone (>= 1000)."""
    ranges, values = set(), set()
    for op in OPERATIONS.values():
        for f in op.fields:
            if f.minimum is not None and f.maximum is not None:
                ranges.add((f.minimum, f.maximum))
            values.update(v for v in (f.max_length, f.max_items, f.minimum, f.maximum) if v is not None and v >= 1000)
    return ranges, values


def test_the_limit_checker_finds_a_range_or_a_limit_written_again():
    ranges, values = catalogue_limits()
    assert (1, 9999) in ranges and 2_147_483_647 in values
    source = ("import click\n"
              "vdn = click.option('--vdn', type=click.IntRange(1, 9999))\n"
              "def ok(n):\n    return 1 <= n <= 9999 or n < 2147483647\n"
              "fine = click.IntRange(1, 256)\n")
    assert limits_written_again(source, ranges, values) == [
        (2, "the limit 9999"), (2, "the range 1..9999"), (4, "the limit 2147483647"), (4, "the limit 9999"),
        (4, "the range 1..9999")]


def test_each_api_limit_is_written_once_in_the_catalogue():
    ranges, values = catalogue_limits()
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative == "batchops/catalogue.py" or relative.startswith("batchops/sandbox/"):
            continue  # the sandbox reads the API pages on its own, on purpose
        found.update((relative, what) for _, what in limits_written_again(path.read_text(encoding="utf-8"),
                                                                           ranges, values))
    assert sorted(found) == []
