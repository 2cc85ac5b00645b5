"""Pictor's entry point.

``python main.py COMMAND ...`` runs the command line (without importing Qt);
``python main.py`` alone opens the window once the desktop front exists, and until then
prints the command line's help.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv:
        from core.cli import main as cli_main

        return cli_main(argv)
    try:
        from desktop.app import main as window_main  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        from core.cli import main as cli_main

        return cli_main([])
    return int(window_main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
