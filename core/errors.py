"""Exceptions raised by the engine.

Every error a user can cause or meet (a missing folder, an unreadable photo, a model that
is not on disk) is a :class:`PictorError` whose message is one readable sentence. Fronts
show that message; they never show a traceback for these.
"""

from __future__ import annotations


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


class CatalogError(PictorError):
    """The library database cannot be opened or is from a newer version of Pictor."""
