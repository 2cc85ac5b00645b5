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

PARTS: list[tuple[str, set[str]]] = [
    ("leaves", {"errors", "types", "config", "files", "units", "memory"}),
    ("photos", {"imaging", "raw", "reading", "image_sizes", "file_warnings", "inflight"}),
    ("words", {"keywords", "user_words", "sidecars"}),
    ("store", {"catalog", "schema", "backup", "connection", "vector_index", "ivf_index",
               "index_keeper"}),
    ("models", {"embedder", "fast_images", "model_files"}),
    ("search", {"search", "calibration", "captions", "vocabulary"}),
    ("sync", {"scanner", "indexer", "watch_events", "watch_roots", "watcher"}),
    ("finetune", {"finetune", "finetune_train"}),
    ("facade", {"library"}),
]
"""Lowest first. A leaf imports nothing else of core/."""

KNOWN_CYCLES: set[frozenset[str]] = {
    # To be taken apart (issue "The engine's floor plan"); any other cycle fails:
    # the RAW decoder develops a RAW's embedded JPEG with Pillow's decoder, and the photo
    # decoder sends RAW files to it (and the safe reader asks whether a name is a RAW);
    frozenset({"imaging", "raw", "reading"}),
    # migration 3 fills the full-text table with the catalog's live path decoding;
    frozenset({"catalog", "schema"}),
    # the int8 tower's exporter reads the model's output as the embedder does;
    frozenset({"embedder", "fast_images"}),
    # opening an index file of either kind lives beside the graph, which the inverted
    # file reuses for its checks.
    frozenset({"vector_index", "ivf_index"}),
}
"""Cycles that exist today and are being taken apart; any other cycle fails."""


def _modules() -> dict[str, Path]:
    return {p.stem: p for p in CORE.glob("*.py") if p.stem != "__init__"}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


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
                    yield parts[1], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "core":
                continue
            if len(parts) > 1:
                yield parts[1], node.lineno
            else:  # from core import a, b
                for alias in node.names:
                    yield alias.name, node.lineno


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {dep for dep, _ in core_imports(path) if dep != name}
            for name, path in modules.items()}


def _part_of() -> dict[str, int]:
    return {module: rank for rank, (_, members) in enumerate(PARTS) for module in members}


def test_every_core_module_belongs_to_one_part() -> None:
    placed = [m for _, members in PARTS for m in members]
    assert len(placed) == len(set(placed)), "a module is in two parts"
    unplaced = sorted(set(_modules()) - set(placed))
    assert unplaced == [], f"put these modules in a part of PARTS: {unplaced}"


def test_no_part_imports_from_a_part_above_it() -> None:
    rank = _part_of()
    upward = []
    for name, path in sorted(_modules().items()):
        for dep, line in core_imports(path):
            if dep in rank and name in rank and rank[dep] > rank[name]:
                upward.append(f"core/{name}.py:{line} ({PARTS[rank[name]][0]}) imports "
                              f"core.{dep} ({PARTS[rank[dep]][0]})")
            if rank.get(name) == 0 and dep in rank and dep != name:
                upward.append(f"core/{name}.py:{line}: a leaf imports core.{dep}")
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


def test_no_import_cycles_beyond_the_known_ones() -> None:
    cycles = {frozenset(group) for group in strongly_connected(_graph())}
    assert cycles - KNOWN_CYCLES == set(), "new import cycles"
    assert KNOWN_CYCLES - cycles == set(), "a known cycle is gone: drop it from KNOWN_CYCLES"


def test_the_checks_see_an_upward_import_and_a_cycle() -> None:
    """The checks themselves: a function-level import is seen, a cycle is found."""
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        {"a", "b", "c"}]
    source = CORE / "scanner.py"
    found = dict(core_imports(source))
    assert "catalog" in found and "imaging" in found
