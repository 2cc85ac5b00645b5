"""Start-up: the window paints before torch loads; commands never import Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FIRST_PAINT = """
import sys
from desktop import app

def report(application):
    loaded = [m for m in ("torch", "transformers", "usearch", "core.library") if m in sys.modules]
    print("LOADED", loaded, flush=True)
    application.quit()

app._report_and_quit = report
sys.exit(app.main([]))
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PICTOR_DATA_DIR=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), HF_HUB_OFFLINE="1", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def test_the_window_paints_before_torch_or_the_library_load(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", FIRST_PAINT], cwd=REPO, capture_output=True,
                          text=True, timeout=120,
                          env=_env(tmp_path, PICTOR_EXIT_AFTER_PAINT="1"))
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout + done.stderr


def test_main_without_a_command_reports_first_paint(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "main.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=_env(tmp_path, PICTOR_EXIT_AFTER_PAINT="1"))
    assert done.returncode == 0, done.stderr
    _, painted = done.stdout.split()
    assert 0 < time.time() - float(painted) < 60


def test_a_command_runs_without_importing_qt(tmp_path: Path) -> None:
    code = ("import sys, main\n"
            f"rc = main.main(['status', '--json', '--data-dir', {str(tmp_path / 'd')!r}])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith(('PySide6', 'desktop'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"
    assert json.loads(done.stdout[: done.stdout.rindex("0 []")])["photos"] == 0


def test_without_a_display_the_window_says_so_instead_of_aborting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
    env["PICTOR_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "main.py")],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no display" in result.stderr and "--help" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
