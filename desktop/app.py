"""Start the window: ``python main.py`` with no command.

Only Qt and the window's own modules load before the first paint; the library opens and
torch loads on the engine's thread afterwards (GUIDE: the window paints before they load).
Set ``PICTOR_EXIT_AFTER_PAINT=1`` to print the seconds from process start to the first
paint and quit (what bench/startup.py measures).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

EXIT_AFTER_PAINT = "PICTOR_EXIT_AFTER_PAINT"


def _process_start() -> float:
    """When this process started (wall clock), from /proc on Linux; else about now."""
    try:
        import psutil  # type: ignore[import-untyped]

        return float(psutil.Process().create_time())
    except ImportError:
        pass
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from PySide6.QtWidgets import QApplication

    from desktop.engine import Engine
    from desktop.settings import Settings
    from desktop.window import MainWindow

    app = QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Pictor")
    app.setOrganizationName("pictor")
    app.setDesktopFileName("pictor")
    settings = Settings()
    config = settings.engine_config()
    engine = Engine(config)
    window = MainWindow(engine, settings, data_dir=_data_dir(config.data_dir))
    if os.environ.get(EXIT_AFTER_PAINT):
        window.firstPainted.connect(lambda: _report_and_quit(app))
    else:
        window.firstPainted.connect(engine.start)
    window.show()
    code = app.exec()
    engine.shutdown()
    return int(code)


def _data_dir(configured: Path | None) -> Path:
    from core.config import default_data_dir

    return configured or default_data_dir()


def _report_and_quit(app: object) -> None:
    print(f"first-paint {time.time():.6f} {_process_start():.6f}", flush=True)
    app.quit()  # type: ignore[attr-defined]
