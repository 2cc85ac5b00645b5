"""The engine's floor plan, checked: core/'s modules are grouped into parts, each part
imports only from the parts listed before it, and no import cycle exists, imports inside
functions included (napari keeps such contracts with import-linter; this walks the AST).

Imports under ``if TYPE_CHECKING:`` are not counted: they name types for the checker and
never run (the watcher and fine-tuning annotate with the facade they are handed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"

LEAVES = {"errors", "types", "config", "files", "units", "memory", "defaults"}
"""core/'s top-level modules that import nothing else of core/."""

PARTS: list[str] = ["leaves", "photos", "words", "store", "models", "search", "sync",
                    "finetune", "facade"]
"""Lowest first: each part imports only from itself and the parts before it. Every
subpackage of core/ is the part of its name; ``library`` is the facade."""

def _modules() -> dict[str, Path]:
    """Every module of core/ by its dotted name below ``core`` (``store.catalog``)."""
    found = {}
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE).with_suffix("")
        if relative.name == "__init__":
            relative = relative.parent
        if relative.parts:
            found[".".join(relative.parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def _resolve(dotted: str) -> str:
    """The core module an import of ``core.<dotted>`` loads."""
    return dotted if (CORE / (dotted.replace(".", "/") + ".py")).exists() \
        or (CORE / dotted.replace(".", "/")).is_dir() else dotted.rsplit(".", 1)[0]


def core_imports(path: Path) -> Iterator[tuple[str, int]]:
    """``(module, line)`` of every core module ``path`` imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    typing_only = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "core" and len(parts) > 1:
                    yield _resolve(".".join(parts[1:])), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "core":
                continue
            base = ".".join(parts[1:])
            for alias in node.names:  # from core.store import catalog / from core import errors
                yield _resolve(f"{base}.{alias.name}" if base else alias.name), node.lineno


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {dep for dep, _ in core_imports(path) if dep != name}
            for name, path in modules.items()}


def part_of(module: str) -> str | None:
    top = module.split(".")[0]
    if "." in module or (CORE / top).is_dir():
        return top
    return "leaves" if top in LEAVES else "facade" if top == "library" else None


def test_every_core_module_belongs_to_one_part() -> None:
    unplaced = sorted(m for m in _modules() if part_of(m) not in PARTS)
    assert unplaced == [], f"put these modules in a part (a subpackage, or LEAVES): {unplaced}"


def test_core_has_few_modules_at_its_top() -> None:
    """The parts are subpackages; core/ itself holds only the leaves and the facade."""
    top = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")
    assert len(top) <= 8, top
    assert len([d for d in CORE.iterdir() if (d / "__init__.py").exists()]) >= 5


def test_no_part_imports_from_a_part_above_it() -> None:
    rank = {name: position for position, name in enumerate(PARTS)}
    upward = []
    for name, path in sorted(_modules().items()):
        mine = part_of(name)
        for dep, line in core_imports(path):
            theirs = part_of(dep)
            if mine is None or theirs is None or dep == name:
                continue
            where = f"core/{path.relative_to(CORE)}:{line} ({mine})"
            if rank[theirs] > rank[mine]:
                upward.append(f"{where} imports core.{dep} ({theirs})")
            elif mine == "leaves":
                upward.append(f"{where}: a leaf imports core.{dep}")
    assert upward == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, in any number of
    steps (only groups of two or more, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles() -> None:
    cycles = sorted(sorted(group) for group in strongly_connected(_graph()))
    assert cycles == [], "core/ modules that import each other, in any number of steps"


def test_the_checks_see_an_upward_import_and_a_cycle() -> None:
    """The checks themselves: a function-level import is seen, a cycle is found."""
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        {"a", "b", "c"}]
    source = CORE / "sync" / "scanner.py"
    found = dict(core_imports(source))
    assert "store.catalog" in found and "photos.formats" in found
