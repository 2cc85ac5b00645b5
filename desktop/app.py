"""Start the window: ``python main.py`` with no command (its options: desktop/options.py).

Only Qt and the window's own modules load before the first paint; the library opens and
torch loads on the engine's thread afterwards (the window paints before they load). Once
the library is open, the local API answers too (desktop/api_host.py; Settings turns it off).
Set ``PICTOR_EXIT_AFTER_PAINT=1`` to print the wall-clock time of the first paint and quit
(bench/startup.py compares it with the time it spawned the process).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

EXIT_AFTER_PAINT = "PICTOR_EXIT_AFTER_PAINT"


def _no_display() -> bool:
    """On Linux without X11 or Wayland, Qt would abort with a long plugin message."""
    return (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    """``argv``: the window's options (``--in-tray``: start with only the tray icon, what
    the login entry runs; where the desktop has no tray, the window opens as usual)."""
    from desktop import options as window_options

    try:
        options = window_options.parse(list(argv or []))
    except window_options.OptionsError as error:
        return window_options.refuse(error)
    if _no_display():
        print("pictor: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
              "not set); start it from a desktop session, or use the command line: "
              "python main.py --help", file=sys.stderr)
        return 2
    missing = _missing_qt_libraries()
    if missing:
        print(f"pictor: {missing}", file=sys.stderr)
        return 1
    _log_to_stderr(options.verbose)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.api_host import ApiHost
    from desktop.engine import Engine
    from desktop.settings import Settings
    from desktop.single_instance import SingleInstance, server_name
    from desktop.tray import app_icon
    from desktop.window import MainWindow

    app = QApplication([sys.argv[0]])  # the options are ours, not Qt's
    app.setApplicationName("Pictor")
    app.setOrganizationName("pictor")
    app.setDesktopFileName("pictor")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # hidden in the tray is not closed; see below
    settings = Settings()
    settings.use_for_this_run(
        data_dir=str(Path(options.data_dir).expanduser().absolute())
        if options.data_dir else None, model=options.model, device=options.device)
    config = settings.engine_config()
    data_dir = _data_dir(config.data_dir)
    instance = SingleInstance(server_name(data_dir))
    if not instance.claim():
        print("pictor: already running on this library; its window is shown",
              file=sys.stderr)
        return 0
    engine = Engine(config)
    api = ApiHost(engine, settings)
    window = MainWindow(engine, settings, data_dir=data_dir, api=api)
    if window.tray is not None:
        tray = window.tray
        api.changed.connect(lambda: tray.show_api(api.url))
    instance.activated.connect(window.bring_back)
    window.closedForGood.connect(app.quit)
    if os.environ.get(EXIT_AFTER_PAINT):
        window.firstPainted.connect(lambda: _report_and_quit(app))
    else:
        window.firstPainted.connect(engine.start)
    if options.in_tray and window.tray is not None:
        window.start_in_tray()  # no paint to wait for: the engine starts now
        QTimer.singleShot(0, engine.start)
    else:
        window.show()
    _close_on_signals(window)
    code = app.exec()
    api.stop()
    engine.shutdown()
    return int(code)


def _missing_qt_libraries() -> str:
    """Why Qt's X11 plugin would not load ("" when it would, or X11 is not used): said
    before Qt starts, which would name just one library and abort."""
    from desktop import qt_libs

    qt = qt_libs.qt_folder() if qt_libs.uses_xcb() else None
    missing = qt_libs.missing_libraries(qt) if qt is not None else []
    return qt_libs.explain(missing) if missing else ""


def _log_to_stderr(verbose: bool) -> None:
    """As the command line logs: warnings (and with -v what happens) on stderr."""
    import logging

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _data_dir(configured: Path | None) -> Path:
    from core.config import default_data_dir

    return configured or default_data_dir()


def _report_and_quit(app: object) -> None:
    print(f"first-paint {time.time():.6f}", flush=True)  # the wall clock: compare with spawn
    app.quit()  # type: ignore[attr-defined]


def _close_on_signals(window: Any) -> None:
    """Ctrl-C in the terminal or SIGTERM closes the window as its close button would
    (the index is saved, the library closed). Python only sees signals while it runs
    bytecode, so a timer wakes it now and then."""
    from PySide6.QtCore import QTimer

    def close(*_: object) -> None:
        window.quit_app()  # not to the tray: the user asked the process to end

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, close)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(300)
