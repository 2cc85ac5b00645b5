"""Does Qt's X11 (xcb) platform plugin find the system libraries it links to?

Qt itself, when one is missing, aborts with a message that names one library (often
``libxcb-cursor0``, even when that one is installed and others are not). Checked before Qt
starts, every missing library is named with the exact line that installs it. Two fronts
use this: the window at start-up (desktop/app.py) and ``make run`` (through
desktop/qt-system-libs.sh, which runs ``python -m desktop.qt_libs --install``). Nothing here
imports Qt: PySide6's folder is found without loading it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PLUGIN = Path("plugins") / "platforms" / "libqxcb.so"


def qt_folder() -> Path | None:
    """PySide6's Qt folder (its libraries and plugins), or None without PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def uses_xcb(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Qt will open its windows through X11 here: Linux with a DISPLAY, and no
    other platform asked for (a Wayland session gets Qt's Wayland plugin)."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    if platform:
        return platform.split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def missing_libraries(qt: Path) -> list[str]:
    """The libraries the xcb plugin (and Qt's xcb library) link to that the system's
    loader cannot find, as ldd names them (``libxcb-icccm.so.4``); [] when the plugin
    or ldd is not there (not Linux/X11: nothing to check)."""
    plugin = qt / PLUGIN
    ldd = shutil.which("ldd")
    if not plugin.is_file() or ldd is None:
        return []
    files = [str(plugin), *sorted(str(p) for p in (qt / "lib").glob("libQt6XcbQpa.so.*"))]
    try:
        listing = subprocess.run([ldd, *files], capture_output=True, text=True, timeout=30,
                                 check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split()[0] for line in listing.splitlines() if "not found" in line})


def debian_package(library: str) -> str:
    """The Debian/Ubuntu package that ships a library: ``libxcb-icccm.so.4`` ->
    ``libxcb-icccm4``, ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``."""
    if library.startswith("libglib-2.0.so."):
        return "libglib2.0-0"
    match = re.fullmatch(r"(.+?)\.so\.(\d+).*", library.lower())
    if match is None:
        return library.lower()
    name, version = match.groups()
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def install_line(missing: list[str]) -> str:
    packages = " ".join(sorted({debian_package(library) for library in missing}))
    return f"sudo apt-get install -y {packages}"


def explain(missing: list[str]) -> str:
    """What to tell the user: the libraries, and the line that installs them."""
    text = (f"Qt's window system plugin (X11) is missing {len(missing)} system "
            f"librar{'y' if len(missing) == 1 else 'ies'}: {', '.join(missing)}.")
    if shutil.which("apt-get"):
        return f"{text} Install them, then start Pictor again:\n  {install_line(missing)}"
    return (f"{text} Install the packages that provide them with your system's package "
            "manager, then start Pictor again.")


def main(argv: list[str]) -> int:
    """``python -m desktop.qt_libs [--install]``: 0 when nothing is missing; with
    ``--install``, as root on a system with apt-get, installs what is missing."""
    qt = qt_folder()
    missing = missing_libraries(qt) if qt is not None else []
    if not missing:
        return 0
    if "--install" in argv and os.geteuid() == 0 and shutil.which("apt-get"):
        packages = install_line(missing).split()[4:]
        print(f"Qt's window system plugin is missing {', '.join(missing)}; "
              f"installing: {' '.join(packages)}", flush=True)
        command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
        if subprocess.run(command, check=False).returncode == 0:
            return 0
        subprocess.run(["apt-get", "update"], check=False)
        return subprocess.run(command, check=False).returncode
    print(explain(missing), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
