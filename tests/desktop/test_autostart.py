"""Start at login: the entry each platform reads, written, read back, run and removed."""

from __future__ import annotations

import configparser
import os
import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop.autostart import IN_TRAY, MAIN, Autostart, AutostartError, Launch
from tests.desktop.qt_helpers import wait_idle
from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]


def exec_args(entry: Path) -> list[str]:
    """The Exec key as a launcher reads it (Desktop Entry spec: string escapes, then
    shell-like double quotes with backslash escapes, then %% for a literal %)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(entry.read_text())
    value = parser["Desktop Entry"]["Exec"].replace("\\\\", "\\")
    args, arg, quoted, chars = [], "", False, iter(value)
    for char in chars:
        if quoted and char == "\\":
            arg += next(chars)  # one of " ` $ \\
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            args.append(arg)
            arg = ""
        else:
            arg += char
    return [a.replace("%%", "%") for a in [*args, arg] if a]


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("PICTOR_DATA_DIR", raising=False)
    monkeypatch.delenv("PICTOR_CACHE_DIR", raising=False)
    return tmp_path / "config"


def test_linux_entry_runs_this_pictor_in_the_tray(config_home: Path, tmp_path: Path) -> None:
    autostart = Autostart(home=tmp_path / "home", platform="linux")
    assert not autostart.is_enabled()
    autostart.enable()
    entry = config_home / "autostart" / "pictor.desktop"
    assert autostart.is_enabled() and autostart.where == str(entry)
    assert exec_args(entry) == [sys.executable, str(MAIN), IN_TRAY]
    fields = entry.read_text()
    assert "Type=Application" in fields and "Terminal=false" in fields
    assert f"Icon={ROOT / 'resources' / 'pictor.png'}" in fields

    autostart.disable()
    assert not entry.exists() and not autostart.is_enabled()
    autostart.disable()  # already off: nothing to do, no error


def test_awkward_paths_and_the_data_folder_survive_the_exec_quoting(
        config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / 'my "photos" $HOME 100% \\ `x`'
    monkeypatch.setenv("PICTOR_DATA_DIR", str(data))
    launch = Launch.this_program()
    assert launch.environment == {"PICTOR_DATA_DIR": str(data)}
    odd = Launch(["/opt/py thon/bin/python3", "/home/a b/pictor/main.py", IN_TRAY],
                 launch.environment)
    Autostart(home=tmp_path, platform="linux").enable(odd)
    args = exec_args(config_home / "autostart" / "pictor.desktop")
    assert args == ["env", f"PICTOR_DATA_DIR={data}", *odd.args]


def test_macos_launch_agent(config_home: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOR_DATA_DIR", "/Volumes/Photos/pictor")
    autostart = Autostart(home=tmp_path, platform="darwin")
    autostart.enable()
    path = tmp_path / "Library" / "LaunchAgents" / "org.pictor.autostart.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["ProgramArguments"] == [sys.executable, str(MAIN), IN_TRAY]
    assert agent["RunAtLoad"] is True and agent["Label"] == "org.pictor.autostart"
    assert agent["EnvironmentVariables"] == {"PICTOR_DATA_DIR": "/Volumes/Photos/pictor"}
    autostart.disable()
    assert not path.exists()


class FakeRegistry:
    """The part of winreg that the Run key needs, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    class Key:
        def __init__(self, values: dict[str, Any]) -> None:
            self.values = values

        def __enter__(self) -> FakeRegistry.Key:
            return self

        def __exit__(self, *_: object) -> None:
            pass

    def OpenKey(self, root: str, path: str, *_: object) -> Key:  # winreg names these
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.Key(self.keys[path])

    def CreateKey(self, root: str, path: str) -> Key:
        return self.Key(self.keys.setdefault(path, {}))

    def SetValueEx(self, key: Key, name: str, _: int, kind: int, value: str) -> None:
        key.values[name] = (kind, value)

    def QueryValueEx(self, key: Key, name: str) -> Any:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    def DeleteValue(self, key: Key, name: str) -> None:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]


def test_windows_run_key() -> None:
    registry = FakeRegistry()
    autostart = Autostart(platform="win32", registry=registry)
    assert not autostart.is_enabled()
    autostart.enable(Launch([r"C:\Program Files\Python\pythonw.exe", r"C:\pictor\main.py",
                             IN_TRAY]))
    run = registry.keys[r"Software\Microsoft\Windows\CurrentVersion\Run"]
    assert run["Pictor"] == (registry.REG_SZ,
                             r'"C:\Program Files\Python\pythonw.exe" C:\pictor\main.py --in-tray')
    assert autostart.is_enabled()
    autostart.disable()
    assert not autostart.is_enabled()
    autostart.disable()


def test_a_folder_that_cannot_be_written_is_named(config_home: Path, tmp_path: Path) -> None:
    config_home.mkdir()
    (config_home / "autostart").write_text("a file where the folder should be")
    autostart = Autostart(home=tmp_path, platform="linux")
    with pytest.raises(AutostartError, match=r"programs started at login .*autostart"):
        autostart.enable()
    assert (config_home / "autostart").read_text() == "a file where the folder should be"


def test_the_entrys_command_starts_pictor(config_home: Path, tmp_path: Path) -> None:
    """Run what the login entry runs. The offscreen platform has no tray, so ``--in-tray``
    falls back to opening the window (which paints, and quits on being told to)."""
    Autostart(home=tmp_path, platform="linux").enable()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PICTOR_EXIT_AFTER_PAINT": "1",
           "PICTOR_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home")}
    done = subprocess.run(exec_args(config_home / "autostart" / "pictor.desktop"), env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("first-paint ")


def test_file_menu_switches_start_at_login(make_window: Any, tmp_path: Path) -> None:
    window = make_window(tmp_path / "data", start=False)
    entry = tmp_path / "config" / "autostart" / "pictor.desktop"  # make_window's config
    assert not window.autostart_action.isChecked()
    window.autostart_action.trigger()
    assert entry.is_file() and window.autostart_action.isChecked()
    assert "start at login" in window.message.text()
    window.autostart_action.trigger()
    assert not entry.exists() and not window.autostart_action.isChecked()

    entry.parent.rmdir()
    entry.parent.write_text("")  # now the folder cannot be made
    window.autostart_action.trigger()
    assert not window.autostart_action.isChecked()
    assert window.message.text().startswith("Could not add Pictor")


def test_started_in_the_tray_pictor_indexes_without_a_window(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    from desktop.tray import Tray

    folder = tmp_path / "album"
    toyworld.write_photos(folder, toyworld.random_scenes(3, seed=31), seed=31)
    first = make_window(tmp_path / "data")  # a first run adds the folder
    with qtbot.waitSignal(first.engine.indexFinished, timeout=60_000):
        first.add_folders([str(folder)])
    first.quit_app()

    tray = Tray()
    window = make_window(tmp_path / "data", start=False, tray=tray)
    window.hide()  # as at login: never shown
    window.start_in_tray()
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.engine.start()
    window.engine.start()  # a later first paint does not open the library again
    assert tray.icon.isVisible() and not window.isVisible()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.watcher.modes()), timeout=10_000)  # observed
    indexed: list[int] = []  # the watcher may hand the two photos over one by one
    window.engine.indexFinished.connect(lambda last, _cancelled: indexed.append(last.indexed))
    toyworld.write_photos(folder, toyworld.random_scenes(2, seed=32), seed=32, prefix="new-")
    qtbot.waitUntil(lambda: sum(indexed) == 2, timeout=20_000)
    wait_idle(qtbot, window)
