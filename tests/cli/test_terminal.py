"""cli.terminal.printable: every character that could drive a terminal is escaped, and
each escape reads one way (the command-line cases are tests/e2e/test_terminal_escapes_cli.py)."""

from __future__ import annotations

import io
import logging
import os

import pytest

from cli.terminal import PrintableFormatter, printable


@pytest.mark.parametrize(("text", "shown"), [
    ("plain café 中文 👨\u200d👩\u200d👧.jpg", "plain café 中文 👨\u200d👩\u200d👧.jpg"),
    ("red\x1b[31m.jpg", "red\\x1b[31m.jpg"),
    ("a\rb\nc\td.jpg", "a\\rb\\nc\\td.jpg"),
    ("bell\x07del\x7f.jpg", "bell\\x07del\\x7f.jpg"),
    ("csi\u009b.jpg", "csi\\u009b.jpg"),  # a C1 control: a character, not the byte 0x9b
    (os.fsdecode(b"caf\xe9.jpg"), "caf\\xe9.jpg"),  # a byte that is not UTF-8
    ("right\u202egpj.exe", "right\\u202egpj.exe"),
    ("line\u2028sep", "line\\u2028sep"),
])
def test_printable_escapes_what_drives_a_terminal(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.skipif(os.sep != "/", reason="a backslash separates folders on Windows")
def test_a_literal_backslash_cannot_pass_for_an_escape() -> None:
    assert printable("a\\x1b.jpg") == "a\\\\x1b.jpg"
    assert printable("a\x1b.jpg") == "a\\x1b.jpg"


def test_log_messages_are_escaped_but_not_their_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PrintableFormatter("%(levelname)s: %(message)s"))
    log = logging.getLogger("test_terminal")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("stopped while decoding %s", "x\x1b[2J.jpg")
    finally:
        log.removeHandler(handler)
    first, *trace = stream.getvalue().splitlines()
    assert first == "ERROR: stopped while decoding x\\x1b[2J.jpg"
    assert trace[0] == "Traceback (most recent call last):"
