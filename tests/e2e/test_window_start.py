"""Starting the window through main.py, as a user does: the command line's global options
(for this run, over the saved settings), --help saying so, and the system libraries Qt's
X11 plugin lacks named before Qt starts (with the line that installs them)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.cli import MAIN, ROOT

# Runs main.py's main() and, once the window has painted, starts its engine and says what
# it opened (the data folder, the model, the device, the log level), then quits.
OPEN_AND_REPORT = """
import logging, sys
import main
from desktop import app

def report(application):
    from PySide6.QtWidgets import QApplication
    window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")
    engine = window.engine

    def ready(name, device):
        print("OPENED", engine.config.data_dir, "|", name, "|", device, "|",
              logging.getLogger().level, flush=True)
        window.quit_app()

    engine.modelReady.connect(ready)
    engine.modelMissing.connect(lambda message: (print("MISSING", message), window.quit_app()))
    engine.start()

app._report_and_quit = report
sys.exit(main.main(sys.argv[1:]))
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1",
           "PICTOR_DATA_DIR": str(tmp_path / "default-data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), **extra}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _saved_settings(tmp_path: Path) -> Path:
    """The window's settings file (QSettings, INI, user scope) under XDG_CONFIG_HOME."""
    return tmp_path / "config" / "pictor" / "pictor.ini"


def test_the_window_takes_the_command_lines_options_for_this_run_only(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    saved = _saved_settings(tmp_path)
    saved.parent.mkdir(parents=True)
    saved.write_text(f"[library]\ndata_dir={tmp_path / 'saved-data'}\nmodel=nobody/saved-model"
                     "\ndevice=cuda\n")
    data = tmp_path / "this-run"
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AND_REPORT, "--data-dir", str(data), "--model",
         str(tiny_clip_dir), "--device", "cpu", "-v"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env=_env(tmp_path, PICTOR_EXIT_AFTER_PAINT="1"))
    assert done.returncode == 0, done.stderr
    opened = [line for line in done.stdout.splitlines() if line.startswith("OPENED")]
    assert opened == [f"OPENED {data} | {tiny_clip_dir} | cpu | 20"], done.stdout  # INFO
    assert (data / "library.db").is_file()
    assert not (tmp_path / "saved-data").exists()
    text = saved.read_text()  # the saved settings are left as they were
    assert "model=nobody/saved-model" in text and "device=cuda" in text
    assert f"data_dir={tmp_path / 'saved-data'}" in text


def test_main_opens_the_window_with_options_instead_of_refusing_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(MAIN), "--data-dir", str(tmp_path / "d"), "--model",
         "some/model", "--device", "cpu", "-v"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env=_env(tmp_path, PICTOR_EXIT_AFTER_PAINT="1"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("first-paint ")
    assert "invalid choice" not in done.stderr


def test_a_bad_window_option_is_refused_in_one_line_with_the_usage(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(MAIN), "--device", "gpu"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=_env(tmp_path))
    assert done.returncode == 2
    *usage, message = done.stderr.strip().splitlines()
    assert usage[0].startswith("usage: pictor") and "--data-dir" in usage[0]
    assert message.startswith("pictor: argument --device: invalid choice: 'gpu'")


def test_help_says_how_to_open_the_window_with_options(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(MAIN), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=_env(tmp_path))
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "With no command, main.py opens the window" in text
    assert "main.py [--data-dir D] [--model M] [--device DEV] [-v] [--in-tray]" in text
    assert "saved settings for this run only" in text


def test_the_windows_options_are_the_command_lines_global_ones() -> None:
    import argparse

    import main
    from cli.parser import build_parser
    from desktop.options import build_parser as window_parser

    def options(parser: argparse.ArgumentParser) -> dict[str, tuple[object, ...]]:
        return {action.option_strings[-1]: (tuple(action.option_strings), action.choices,
                                            action.metavar, action.nargs)
                for action in parser._actions if action.option_strings}

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    command_line = options(commands.choices["status"])  # the global options and no more
    window = options(window_parser())
    del command_line["--json"], window["--in-tray"]
    assert window == command_line
    takes_value = {name for name, (_, _, _, nargs) in window.items() if nargs != 0}
    assert set(main.WINDOW_VALUE_OPTIONS) == takes_value


def _fake_ldd(folder: Path) -> Path:
    """An ``ldd`` that reports what the issue's machine had: libxcb-cursor0 installed,
    libxcb-icccm4 and libxcb-keysyms1 missing."""
    folder.mkdir()
    ldd = folder / "ldd"
    ldd.write_text("#!/bin/sh\n"
                   "echo '\tlibxcb-cursor.so.0 => /usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0'\n"
                   "echo '\tlibxcb-icccm.so.4 => not found'\n"
                   "echo '\tlibxcb-keysyms.so.1 => not found'\n")
    ldd.chmod(ldd.stat().st_mode | stat.S_IXUSR)
    return folder


def test_missing_x11_libraries_are_named_with_the_install_line_before_qt_starts(
        tmp_path: Path) -> None:
    env = _env(tmp_path, DISPLAY=":99",
               PATH=f"{_fake_ldd(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}")
    del env["QT_QPA_PLATFORM"]
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, str(MAIN)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("pictor: Qt's window system plugin (X11) is missing 2 "
                                  "system libraries: libxcb-icccm.so.4, libxcb-keysyms.so.1.")
    if shutil.which("apt-get"):
        assert done.stderr.rstrip().endswith(
            "\n  sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1")
    assert "cursor" not in done.stderr  # the one that is there is not blamed


def test_make_run_checks_with_the_same_code(tmp_path: Path) -> None:
    """desktop/qt-system-libs.sh (``make run``) runs desktop/qt_libs.py; without apt-get
    on the PATH it prints what is missing and fails rather than installing."""
    fake = _fake_ldd(tmp_path / "bin")
    done = subprocess.run(["/bin/sh", str(ROOT / "desktop" / "qt-system-libs.sh"),
                           sys.executable], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": str(fake), "HOME": str(tmp_path)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "missing 2 system libraries: libxcb-icccm.so.4, libxcb-keysyms.so.1" in done.stderr
    assert "package manager" in done.stderr  # no apt-get here: no apt-get line
