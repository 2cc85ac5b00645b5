"""Warnings raised while reading one file become at most one log line naming that file.

Pillow warns through :mod:`warnings` about damaged metadata, once per damaged tag: a JPEG
with thousands of broken EXIF tags prints thousands of warnings (two stderr lines each)
that do not even say which file they are about. Inside :func:`one_line_per_file`, the
warnings of the calling thread are collected instead and summed up in one INFO record of
this module's logger (hidden unless the front shows INFO, e.g. ``--verbose``). Decoding runs
on several threads at once, and ``warnings.catch_warnings`` swaps process-wide state, so the
collection is per thread, behind one ``showwarning`` hook that passes every warning raised
outside a collection on to the hook it replaced.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any, TextIO

from PIL import Image

log = logging.getLogger(__name__)

_local = threading.local()
_install_lock = threading.Lock()
_previous: Any = None

_SKIPPED = (Image.DecompressionBombWarning,)
"""Pillow's size warning (from 89 MP): core.photos.imaging applies its own pixel limit first."""


def _show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
          file: TextIO | None = None, line: str | None = None) -> None:
    collected: list[str] | None = getattr(_local, "collected", None)
    if collected is None:
        _previous(message, category, filename, lineno, file, line)
    elif not issubclass(category, _SKIPPED):
        collected.append(f"{category.__name__}: {message}")


def _install() -> None:
    """Put the hook in place (again, if a ``catch_warnings`` block restored the old one)."""
    global _previous
    with _install_lock:
        if warnings.showwarning is not _show:
            _previous = warnings.showwarning
            warnings.showwarning = _show


@contextmanager
def not_about_the_file() -> Iterator[None]:
    """Inside :func:`one_line_per_file`, work whose warnings are not the file's (a model
    loading on the decode thread): they go where warnings go outside a collection."""
    collected = getattr(_local, "collected", None)
    _local.collected = None
    try:
        yield
    finally:
        _local.collected = collected


@contextmanager
def one_line_per_file(path: str | PathLike[str]) -> Iterator[None]:
    """Collect this thread's warnings while reading ``path``; log them as one line.

    Nested blocks (decoding inside indexing) leave the line to the outermost one.
    """
    if getattr(_local, "collected", None) is not None:
        yield
        return
    _install()
    collected: list[str] = []
    _local.collected = collected
    try:
        yield
    finally:
        _local.collected = None
        if collected:
            more = f" (and {len(collected) - 1} more)" if len(collected) > 1 else ""
            log.info("%s: warning while reading it: %s%s", path, collected[0], more)
