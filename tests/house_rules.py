"""Reading batchops' own source for the house rules: who imports whom, and where an API limit is written.

Imports are read from the source (``ast``), so an import inside a function counts as much as one at the top
(it runs as soon as that function does); an import under ``if TYPE_CHECKING:`` does not (it never runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "batchops"


def module_name(path: Path, root: Path) -> str:
    """``batchops.journal.db`` for ``ROOT/journal/db.py`` (``root`` is the package folder itself)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: the bodies of ``if TYPE_CHECKING:`` are left out (their ``else`` is kept)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(path: Path, root: Path) -> set[str]:
    """Every module (and ``module.name``) that ``path`` imports at run time, relative imports resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@dataclass
class ImportGraph:
    """The run-time imports of every module of a package, by module name."""

    root: Path
    imports: dict[str, set[str]]

    @classmethod
    def of(cls, root: Path = PACKAGE) -> ImportGraph:
        return cls(root, {module_name(p, root): imported_names(p, root) for p in sorted(root.rglob("*.py"))})

    def _own(self, name: str) -> str | None:
        """The package module ``name`` is or lives in (``a.b.func`` → ``a.b``), or None for another package's."""
        while name and name not in self.imports:
            name = name.rpartition(".")[0]
        return name or None

    def direct(self, module: str) -> set[str]:
        """What ``module`` imports: the package's own modules, and other packages by top-level name."""
        out: set[str] = set()
        for name in self.imports[module]:
            own = self._own(name)
            if own is not None:
                if own != module:
                    out.add(own)
            elif not name.startswith(self.root.name + "."):
                out.add(name.partition(".")[0])
        return out

    def reach(self, module: str) -> dict[str, list[str]]:
        """Everything ``module`` imports, directly or through its own modules, each with one chain to it."""
        chains: dict[str, list[str]] = {}
        queue = [(module, [module])]
        while queue:
            current, chain = queue.pop(0)
            for dep in sorted(self.direct(current)):
                if dep not in chains:
                    chains[dep] = [*chain, dep]
                    if dep in self.imports:
                        queue.append((dep, chains[dep]))
        return chains

    def modules(self, prefix: str) -> list[str]:
        """The package's modules named ``prefix`` or under it."""
        return [m for m in self.imports if m == prefix or m.startswith(prefix + ".")]


def forbidden(graph: ImportGraph, modules: Iterable[str], banned: Iterable[str]) -> list[str]:
    """``a → b → c`` for every chain from one of ``modules`` to a module named in (or under) ``banned``."""
    banned = tuple(banned)

    def is_banned(name: str) -> bool:
        return any(name == b or name.startswith(b + ".") for b in banned)

    found = []
    for module in modules:
        for dep, chain in graph.reach(module).items():
            if is_banned(dep) and not any(is_banned(link) for link in chain[:-1]):  # the first step in
                found.append(" → ".join(chain))
    return sorted(found)


def int_literals(node: ast.AST) -> list[int]:
    """The whole-number literals written directly in ``node``: a call's arguments, a comparison's operands, a
    tuple's or list's items (``-5`` included)."""
    values: list[ast.expr] = []
    if isinstance(node, ast.Call):
        values = [*node.args, *(k.value for k in node.keywords)]
    elif isinstance(node, ast.Compare):
        values = [node.left, *node.comparators]
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values = list(node.elts)
    out = []
    for value in values:
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) and isinstance(value.operand, ast.Constant):
            value = ast.Constant(-value.operand.value) if isinstance(value.operand.value, int) else value
        if isinstance(value, ast.Constant) and type(value.value) is int:
            out.append(value.value)
    return out


def limits_written_again(source: str, ranges: Iterable[tuple[int, int]], values: Iterable[int]) -> list[tuple[int, str]]:
    """Where ``source`` writes a limit again: ``(line, what)`` for a range's both ends as literals in one call,
    comparison or tuple (``IntRange(1, 9999)``, ``1 <= n <= 9999``), or for one of ``values`` anywhere."""
    ranges, values = set(ranges), set(values)
    found = []
    for node in ast.walk(ast.parse(source)):
        literals = set(int_literals(node))
        for low, high in sorted(ranges):
            if low in literals and high in literals:
                found.append((node.lineno, f"the range {low}..{high}"))  # type: ignore[attr-defined]
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in values:
            found.append((node.lineno, f"the limit {node.value}"))
    return sorted(set(found))


def folder_of(module: str, folders: Iterable[str]) -> str | None:
    """The folder of the package ``module`` lives in (``batchops.http.client`` → ``http``), None at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in set(folders) else None


def against_the_layers(graph: ImportGraph, layers: list[tuple[str, ...]]) -> list[str]:
    """``a → b`` for every import from a folder to a folder of its own layer or a later one (listed lowest
    first): folders depend one way, so each can be read, and tested, with only the ones below it."""
    rank = {name: i for i, layer in enumerate(layers) for name in layer}
    found = []
    for module in graph.imports:
        here = folder_of(module, rank)
        if here is None:
            continue
        for dep in graph.direct(module):
            there = folder_of(dep, rank)
            if there is not None and there != here and rank[there] >= rank[here]:
                found.append(f"{module} → {dep}")
    return sorted(found)
