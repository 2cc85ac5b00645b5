"""Start Pictor at login, in the tray (File → Start at login).

Each platform's own per-user mechanism, so that the user can see and remove it with the
desktop's usual tools, and nothing needs root:

- Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/pictor.desktop``
  (the XDG Autostart specification; GNOME, KDE, Xfce and others read it);
- macOS: a LaunchAgent, ``~/Library/LaunchAgents/org.pictor.autostart.plist``;
- Windows: the ``Pictor`` value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

The entry runs this Python with this ``main.py`` and ``--in-tray``, and carries the
``PICTOR_DATA_DIR`` and ``PICTOR_CACHE_DIR`` variables when they are set (so it opens the
same library). Qt-free: the window calls it, the tests call it with a home folder of their
own.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import CACHE_DIR_ENV, DATA_DIR_ENV
from core.files import write_atomic
from desktop import ICON

IN_TRAY = "--in-tray"
MAIN = Path(__file__).resolve().parents[1] / "main.py"
LAUNCH_AGENT = "org.pictor.autostart"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Pictor"


class AutostartError(Exception):
    """The login entry could not be written or removed; the message says where and why."""


@dataclass(frozen=True)
class Launch:
    """What the login entry runs."""

    args: list[str]
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def this_program(cls) -> Launch:
        python = Path(sys.executable)
        windowless = python.with_name("pythonw.exe")  # no console window at login
        if sys.platform == "win32" and windowless.exists():
            python = windowless
        carried = {name: os.environ[name] for name in (DATA_DIR_ENV, CACHE_DIR_ENV)
                   if os.environ.get(name)}
        return cls([str(python), str(MAIN), IN_TRAY], carried)


def _desktop_quote(arg: str) -> str:
    """One argument of a .desktop file's Exec key (Desktop Entry spec, "The Exec key"):
    quoted where needed, with the string-value escaping applied on top."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    quoted = arg
    if any(char in reserved for char in arg):
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return quoted.replace("%", "%%").replace("\\", "\\\\")


def desktop_entry(launch: Launch) -> str:
    args = [_desktop_quote(arg) for arg in launch.args]
    if launch.environment:
        args = ["env", *(_desktop_quote(f"{name}={value}")
                         for name, value in launch.environment.items()), *args]
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Pictor",
        "Comment=Keep watching your photo folders (Pictor, in the tray)",
        f"Exec={' '.join(args)}",
        f"Icon={ICON}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def launch_agent(launch: Launch) -> bytes:
    agent: dict[str, Any] = {"Label": LAUNCH_AGENT, "ProgramArguments": launch.args,
                             "RunAtLoad": True, "ProcessType": "Interactive"}
    if launch.environment:
        agent["EnvironmentVariables"] = launch.environment
    return plistlib.dumps(agent)


@dataclass
class Autostart:
    """The login entry of one user (``home`` and ``platform`` are for tests)."""

    home: Path = field(default_factory=Path.home)
    platform: str = sys.platform
    registry: Any = None  # winreg, or a stand-in with its functions

    @property
    def where(self) -> str:
        """Where the entry lives, in words for the user."""
        if self.platform == "win32":
            return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"
        return str(self._file())

    def _file(self) -> Path:
        if self.platform == "darwin":
            return self.home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT}.plist"
        configured = os.environ.get("XDG_CONFIG_HOME")
        config = Path(configured) if configured and Path(configured).is_absolute() \
            else self.home / ".config"
        return config / "autostart" / "pictor.desktop"

    def _winreg(self) -> Any:
        if self.registry is None:
            import winreg  # Windows only

            self.registry = winreg
        return self.registry

    def is_enabled(self) -> bool:
        if self.platform != "win32":
            return self._file().is_file()
        reg = self._winreg()
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                reg.QueryValueEx(key, RUN_VALUE)
        except OSError:
            return False
        return True

    def enable(self, launch: Launch | None = None) -> None:
        launch = launch or Launch.this_program()
        try:
            if self.platform == "win32":
                reg = self._winreg()
                with reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                    reg.SetValueEx(key, RUN_VALUE, 0, reg.REG_SZ,
                                   subprocess.list2cmdline(launch.args))
                return
            path = self._file()
            path.parent.mkdir(parents=True, exist_ok=True)
            content = launch_agent(launch) if self.platform == "darwin" \
                else desktop_entry(launch).encode()
            write_atomic(path, content)
        except OSError as error:
            raise AutostartError(f"could not add Pictor to the programs started at login "
                                 f"({self.where}): {error.strerror or error}") from error

    def disable(self) -> None:
        try:
            if self.platform == "win32":
                reg = self._winreg()
                with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                    reg.DeleteValue(key, RUN_VALUE)
                return
            self._file().unlink()
        except FileNotFoundError:
            return  # already gone: what the user asked for
        except OSError as error:
            raise AutostartError(f"could not remove Pictor from the programs started at "
                                 f"login ({self.where}): {error.strerror or error}") from error
