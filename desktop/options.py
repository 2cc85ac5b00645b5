"""The window's command-line options: the command line's global ones, for this run.

``python main.py --data-dir D --model M --device cpu -v`` opens the window on library D
with model M: what is given overrides the window's saved settings for this run only
(desktop/settings.py keeps them apart). ``--in-tray`` starts it with only its tray icon,
as the login entry does. Nothing here imports Qt: main.py parses before Qt starts.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

DEVICES = ("auto", "cpu", "cuda", "mps")
USAGE_ERROR = 2


@dataclass(frozen=True, slots=True)
class WindowOptions:
    data_dir: str | None = None
    model: str | None = None
    device: str | None = None  # None: the saved setting
    verbose: bool = False
    in_tray: bool = False


class OptionsError(Exception):
    """Arguments the window refused: ``str()`` is argparse's message, ``usage`` the usage."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise OptionsError(message, self.format_usage())


def build_parser() -> argparse.ArgumentParser:
    """The command line's global options (cli/parser.py; a test keeps them alike), without
    their defaults: what is not given comes from the window's settings."""
    parser = _Parser(prog="pictor", description="Open Pictor's window. The options override "
                     "the window's saved settings for this run only.")
    parser.add_argument("--data-dir", metavar="D",
                        help="library data folder (default: the one in Settings, else the "
                             "user data folder, or $PICTOR_DATA_DIR)")
    parser.add_argument("--model", metavar="M",
                        help="model folder or Hugging Face id (default: the one in Settings; "
                             "with --data-dir, that library's model)")
    parser.add_argument("--device", choices=list(DEVICES))
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--in-tray", action="store_true",
                        help="start with only the tray icon, as at login")
    return parser


def parse(argv: list[str]) -> WindowOptions:
    """Parse the window's options; raises :class:`OptionsError` on a bad one."""
    args: Any = build_parser().parse_args(argv)
    return WindowOptions(args.data_dir, args.model, args.device, args.verbose, args.in_tray)


def refuse(error: OptionsError) -> int:
    """Say what was wrong as the command line does: the usage, then one line."""
    print(f"{error.usage.rstrip()}\npictor: {error}", file=sys.stderr)
    return USAGE_ERROR
