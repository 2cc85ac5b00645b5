"""How a file path is kept in the catalog's text columns: part of the database format.

File names on Linux are bytes; Python shows undecodable bytes as lone surrogates
(U+DC80..U+DCFF), which SQLite cannot store as text. They are kept as private-use
characters (U+F0080..U+F00FF) instead: lossless both ways, and ordering and prefix
queries on the path column keep working.

Both the catalog and the released migrations (core.store.schema) read and write paths
through this module, so its behaviour must never change: another encoding would be a new
migration that rewrites the stored paths, with its own copy of both encodings.
"""

from __future__ import annotations

_TO_DB = {0xDC00 + b: 0xF0000 + b for b in range(0x80, 0x100)}
_FROM_DB = {v: k for k, v in _TO_DB.items()}


def to_db(path: str) -> str:
    """A path as stored in the catalog (see above)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.translate(_TO_DB)
    return path


def from_db(text: str) -> str:
    """The path a catalog value stands for (the inverse of :func:`to_db`)."""
    if any(0xF0080 <= ord(c) <= 0xF00FF for c in text):
        return text.translate(_FROM_DB)
    return text
