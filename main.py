"""Pictor's entry point.

``python main.py`` opens the window, with the command line's global options if given
(``--data-dir D --model M --device DEV -v``: for this run, over the window's saved
settings; ``--in-tray``: only its tray icon, as at login). ``python main.py COMMAND ...``
runs the command line, which never imports Qt (so it works on a server without a display
or PySide6), nor desktop/.
"""

from __future__ import annotations

import sys

WINDOW_VALUE_OPTIONS = ("--data-dir", "--model", "--device")
"""The window's options that take a value (desktop/options.py; a test keeps them alike)."""


def names_a_command(argv: list[str]) -> bool:
    """Whether ``argv`` is for the command line: a command (the first word that is neither
    an option nor an option's value), or --help; otherwise it is the window's options."""
    value_next = False
    for arg in argv:
        if value_next:
            value_next = False
        elif arg in ("-h", "--help"):
            return True
        elif arg in WINDOW_VALUE_OPTIONS:
            value_next = True
        elif not arg.startswith("-"):
            return True
    return False


def main(argv: list[str]) -> int:
    if names_a_command(argv):
        from cli.app import finish
        from cli.app import main as cli_main

        return finish(cli_main(argv))
    from desktop.app import main as window_main

    return int(window_main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
