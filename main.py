"""Pictor's entry point.

``python main.py`` alone opens the window (``--in-tray``: only its tray icon, as at login);
``python main.py COMMAND ...`` runs the command line, which never imports Qt (so it works on
a server without a display or PySide6).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv and argv != ["--in-tray"]:
        from cli.app import finish
        from cli.app import main as cli_main

        return finish(cli_main(argv))
    from desktop.app import main as window_main

    return int(window_main(in_tray=bool(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
