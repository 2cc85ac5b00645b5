"""Which files are photos, by name alone: the extensions Pictor indexes, camera RAW names,
and a RAW's developed sibling (the JPEG a camera writes beside it).

Import-light on purpose: the scanner, the watcher and the window's file dialog need these
names without loading Pillow, pillow-heif or LibRaw, so optional decoders are detected by
whether their package is installed (``find_spec``), not by importing them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from importlib.util import find_spec


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing or half-installed
        return False


RAW_EXTENSIONS: frozenset[str] = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf",
    ".rw2", ".raf", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".mos", ".mrw",
    ".kdc", ".dcr", ".rwl",
})
DEVELOPED_EXTENSIONS = (".jpg", ".jpeg", ".heic", ".heif", ".hif")
"""What a camera writes beside its RAW in RAW+JPEG mode (HEIF on recent Canon and Sony)."""

HEIF_EXTENSIONS = (".heic", ".heif", ".hif")
HEIF_INSTALLED = _installed("pillow_heif")
AVIF_INSTALLED = _installed("PIL._avif")  # Pillow's own AVIF plugin, when built with libavif
RAW_INSTALLED = _installed("rawpy")

PHOTO_EXTENSIONS: frozenset[str] = frozenset(
    [".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"]
    + (list(HEIF_EXTENSIONS) if HEIF_INSTALLED else [])
    + ([".avif"] if AVIF_INSTALLED else [])
    + (sorted(RAW_EXTENSIONS) if RAW_INSTALLED else [])
)
"""Every extension the scanner and the watcher take for a photo (lower case)."""


def is_raw(name: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(name))[1].lower() in RAW_EXTENSIONS


def listing(folder: str) -> dict[str, str]:
    """A folder's entries by lower-cased name (empty when it cannot be listed): list a
    folder once for several of these questions."""
    try:
        return {name.lower(): name for name in os.listdir(folder or ".")}
    except OSError:
        return {}


def has_developed_sibling(path: str, names: Collection[str] | None = None) -> bool:
    """Whether the RAW ``path`` has a JPEG/HEIF of the same name in its folder (``names``:
    the folder's entries, lower-cased, when the caller has listed it already)."""
    folder, base = os.path.split(path)
    stem = os.path.splitext(base)[0].lower()
    if names is None:
        names = listing(folder).keys()
    return any(stem + extension in names for extension in DEVELOPED_EXTENSIONS)


def raw_siblings(path: str, names: dict[str, str] | None = None) -> list[str]:
    """The RAW files in ``path``'s folder with its name (``IMG_1.CR2`` for ``IMG_1.JPG``);
    ``names``: the folder's :func:`listing`, when the caller has it already."""
    folder, base = os.path.split(path)
    stem = os.path.splitext(base)[0].lower()
    names = listing(folder) if names is None else names
    return [os.path.join(folder, name) for lower, name in names.items()
            if is_raw(lower) and os.path.splitext(lower)[0] == stem]
