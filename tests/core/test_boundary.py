"""core/ is the engine: it must import and work with no Qt installed (checked here, not
by review)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "desktop")

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {forbidden!r}:
            raise ImportError('core imported ' + name)
        return None
sys.meta_path.insert(0, Block())
import pkgutil, importlib, core
for module in pkgutil.walk_packages(core.__path__, 'core.'):
    importlib.import_module(module.name)
from cli.app import main
assert main(['status', '--data-dir', {data!r}, '--json']) == 0
print('ok')
"""


def test_core_sources_never_import_qt_or_desktop() -> None:
    offenders = []
    for source in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source.name}: {n}" for n in names
                          if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_every_core_module_imports_and_runs_with_qt_blocked(tmp_path: Path) -> None:
    code = BLOCKER.format(forbidden=set(FORBIDDEN), data=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_core_never_prints() -> None:
    """The engine reports through return values, progress objects and logging; only the
    fronts (cli/, desktop/) talk to the user."""
    offenders = []
    for source in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "print":
                offenders.append(f"{source.name}:{node.lineno} print()")
            if isinstance(node, ast.Attribute) and node.attr in {"stdout", "stderr"} \
                    and isinstance(node.value, ast.Name) and node.value.id == "sys":
                offenders.append(f"{source.name}:{node.lineno} sys.{node.attr}")
    assert offenders == []
