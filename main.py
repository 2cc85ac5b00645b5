"""Pictor's entry point.

``python main.py`` alone opens the window; ``python main.py COMMAND ...`` runs the command
line, which never imports Qt (so it works on a server without a display or PySide6).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv:
        from cli.app import main as cli_main

        return cli_main(argv)
    from desktop.app import main as window_main

    return int(window_main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
