"""Exceptions raised by the engine.

Every error a user can cause or meet (a missing folder, an unreadable photo, a model that
is not on disk) is a :class:`PictorError` whose message is one readable sentence. Fronts
show that message; they never show a traceback for these.
"""

from __future__ import annotations

import errno
import sqlite3


class PictorError(Exception):
    """Base class of the expected errors; ``str(error)`` is meant for the user."""


class UsageError(PictorError):
    """The request itself is wrong (bad argument, bad date, empty query)."""


class PathNotFoundError(UsageError):
    """A path named by the user does not exist."""

    def __init__(self, path: object) -> None:
        super().__init__(f"no such file or folder: {path}")
        self.path = path


class ModelUnavailableError(PictorError):
    """The model cannot be loaded (not cached and offline, not a CLIP-family model, ...)."""


class ImageError(PictorError):
    """A file could not be turned into pixels; ``reason`` is short and human-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedFormatError(ImageError):
    """The file is not in one of the allowed image formats."""


class CorruptImageError(ImageError):
    """The file claims to be an image but cannot be decoded (truncated, damaged, not an image)."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than the decoder accepts (decompression-bomb guard)."""


class TextReadingError(PictorError):
    """The text in one photo could not be read: the OCR runtime failed on its pixels."""


class CatalogError(PictorError):
    """The library database cannot be opened or is from a newer version of Pictor."""


class DiskFullError(PictorError):
    """The disk that holds the data folder (or a file being written) has no space left."""


_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# SQLite's primary result codes (the low byte of an extended code), for core.store.connection too.
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_AUTH, SQLITE_NOTADB = 11, 13, 14, 23, 26


def sqlite_code(error: BaseException) -> int:
    """The primary SQLite result code of ``error`` (0 when it carries none)."""
    return int(getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF


def disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, means no space
    was left: SQLite's SQLITE_FULL or an OSError ENOSPC/EDQUOT. A failure while saving after
    the disk filled can hide the first error, so the whole chain is looked at."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, sqlite3.Error) and (
                sqlite_code(current) == SQLITE_FULL
                or "disk is full" in str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def explain(error: BaseException) -> PictorError | None:
    """A :class:`PictorError` for failures that come from the machine, not from a bug (a
    full disk), so that fronts show a sentence, not a traceback; None for anything else."""
    if isinstance(error, PictorError):
        return error
    if isinstance(error, sqlite3.Error):
        code = sqlite_code(error)
        if code in (SQLITE_BUSY, SQLITE_LOCKED):
            return LibraryBusyError(BUSY_MESSAGE.format(detail=error))
        if code == SQLITE_READONLY:
            return ReadOnlyLibraryError(READ_ONLY_MESSAGE.format(where="its data folder",
                                                                 detail=error))
    if disk_full(error):
        return DiskFullError(
            "the disk is full: Pictor could not write its data (the library database, the "
            "search index or a model). Free some space and run it again; what was done "
            "before is kept")
    return None


class LibraryBusyError(PictorError):
    """Another program holds the library database locked for longer than Pictor waits."""


class ReadOnlyLibraryError(PictorError):
    """The library can be searched but not changed (a read-only folder, file or disk)."""


BUSY_MESSAGE = ("another program has kept the library busy for too long ({detail}); what was "
                "done is saved: run the command again once it is done")
READ_ONLY_MESSAGE = ("the library at {where} is read-only ({detail}): searching works, but "
                     "indexing needs write access to that folder")
