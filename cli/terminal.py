"""Text for a terminal: file names and words read from files, shown so they cannot drive it.

A file name may hold any character but ``/`` and NUL, and a photo's own words anything at
all: printed raw, an escape sequence (``ESC[31m``) would colour the terminal, ``\\r``
overwrite a row, ``\\n`` split one, a bidirectional override reverse what follows. Like
``ls -b``, :func:`printable` shows such characters as escapes instead; ``--json`` output
stays exact (JSON escapes them itself).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Final

# Each escape reads one way: \n, \r, \t as in C; \xNN one byte (another C0 control or
# DEL, or a byte that is not UTF-8); \uNNNN a character (a C1 control, a line or paragraph
# separator, a bidirectional embedding, override or isolate); \\ a backslash itself.
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_SPECIAL: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
    # Windows names cannot hold a backslash (it separates folders): none to tell apart.
    + ("\\\\" if os.sep == "/" else "") + "]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal, every special character escaped:
    ``caf\\xe9.jpg`` (a Latin-1 name), ``red\\x1b[31m.jpg``, ``two\\nlines.jpg``,
    ``a\\\\b.jpg`` (a backslash, on POSIX)."""
    return _SPECIAL.sub(_escape, text)


class PrintableFormatter(logging.Formatter):
    """Log lines with their message escaped (a warning may name a file); a traceback
    appended to one stays as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))
