"""The user's own words for a photo: titles, captions, keywords, comments and album names.

:func:`read_user_texts` gathers them from the file's metadata and its surroundings, read-only:

* the file's embedded metadata, EXIF, XMP, IPTC and PNG text (:mod:`core.words.embedded`,
  :mod:`core.words.xmp`);
* sidecars next to the photo: ``IMG_1.jpg.xmp`` / ``IMG_1.xmp`` (darktable, Lightroom),
  read like embedded XMP, and ``IMG_1.txt`` / ``IMG_1.jpg.txt`` (one "sidecar" text);
* album names: the folders between the library root and the photo.

Every source is independent: a damaged one is skipped, logged at debug level, and never
raises. Each text is cleaned, and noise (camera defaults, tools' placeholders, generic
folders) dropped, by :mod:`core.words.cleaning`.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final

from core.words.cleaning import SOURCES, Add, Source, album_name, clean, is_junk
from core.words.embedded import guarded, open_regular, read_embedded, read_file
from core.words.sidecars import sidecar_names
from core.words.xmp import MAX_XMP_BYTES, read_xmp

log = logging.getLogger(__name__)

MAX_TEXTS: Final = 200
"""At most this many texts per photo (a file with thousands of keywords is cut short)."""
MAX_TXT_BYTES: Final = 10 * 1024
"""Only the start of a ``.txt`` sidecar is read."""


@dataclass(frozen=True, slots=True)
class UserText:
    """One text the user wrote about a photo, or named its album."""

    text: str
    """Cleaned: NFC, whitespace collapsed, stripped, at most
    :data:`core.words.cleaning.MAX_CHARS` characters."""
    source: str
    """One of :data:`core.words.cleaning.SOURCES`."""


def read_user_texts(
    path: Path, *, data: bytes | None = None, root: Path | None = None
) -> list[UserText]:
    """Everything the user wrote about the photo at ``path``, best sources first.

    ``data`` is the file's content when the caller has already read it (the file is then
    not read again). ``root`` is the library folder holding the photo: the folders below it
    (and its own name unless generic) become album names; without it, only the photo's
    own folder does. Texts are de-duplicated case-insensitively, keeping the first in the
    order of :data:`~core.words.cleaning.SOURCES`. Never raises, never writes.
    """
    buckets: dict[Source, list[str]] = {source: [] for source in SOURCES}
    # A title repeating the file's name is a tool's doing, not the user's ("Rosa.jpg" is
    # titled "Rosa" by the user, maybe; "IMG_1.jpg" is never titled "IMG_1" by one).
    own_names = {path.name.casefold()}
    if any(ch.isdigit() for ch in path.stem):
        own_names.add(path.stem.casefold())

    def add(source: Source, value: object) -> None:
        bucket = buckets[source]
        text = clean(value) if len(bucket) < MAX_TEXTS else None
        if text is not None and not is_junk(text, own_names):
            bucket.append(text)

    if data is not None:
        guarded("embedded metadata", path, partial(read_embedded, io.BytesIO(data), add))
    else:
        guarded("embedded metadata", path, partial(read_file, path, add))
    guarded("sidecars", path, lambda: _sidecars(path, root, add))
    guarded("album names", path, lambda: _albums(path, root, buckets["album"]))
    return _merge(buckets)


def _merge(buckets: dict[Source, list[str]]) -> list[UserText]:
    seen: set[str] = set()
    out: list[UserText] = []
    for source in SOURCES:
        for text in buckets[source]:
            key = text.casefold()
            if key not in seen:
                seen.add(key)
                out.append(UserText(text, source))
                if len(out) >= MAX_TEXTS:
                    return out
    return out


# --- sidecars ---------------------------------------------------------------------------


def _read_start(path: Path, limit: int, within: Path) -> bytes | None:
    """Up to ``limit + 1`` bytes of ``path``; None when it is absent or unreadable, or a
    link to a file outside the folder ``within``."""
    handle = open_regular(path)
    if handle is None:
        return None
    with handle:
        if path.is_symlink() and not _leads_inside(path, handle, within):
            log.debug("user words: %s links out of %s: not read", path, within)
            return None
        return handle.read(limit + 1)  # an OSError here skips the sidecars (logged)


def _leads_inside(link: Path, handle: BinaryIO, within: Path) -> bool:
    """Whether the file opened through ``link`` lies inside ``within`` (links resolved on
    both sides): the file ``link`` resolves to must be the one open, else the link changed
    in between."""
    target = os.path.realpath(link)
    if not Path(target).is_relative_to(os.path.realpath(within)):
        return False
    opened, found = os.fstat(handle.fileno()), os.stat(target)
    return (opened.st_dev, opened.st_ino) == (found.st_dev, found.st_ino)


def _sidecars(path: Path, root: Path | None, add: Add) -> None:
    # A sidecar may be a link, but not out of the library: IMG_1.txt -> ~/.ssh/id_rsa would
    # put that file's text into the catalog. Without the root, only the photo's own folder
    # (and below) is known to be in the library.
    within = root if root is not None and path.is_relative_to(root) else path.parent
    # The names core.words.sidecars signs: an edit of one of them gets its photo's words re-read.
    for candidate in (path.with_name(n) for n in sidecar_names(path.name, ".xmp")):
        packet = _read_start(candidate, MAX_XMP_BYTES, within)
        if packet is not None:
            guarded("sidecar XMP", candidate, partial(read_xmp, packet, add))
    for candidate in (path.with_name(n) for n in sidecar_names(path.name, ".txt")):
        raw = _read_start(candidate, MAX_TXT_BYTES, within)
        if raw is not None:
            text = raw[:MAX_TXT_BYTES].decode("utf-8", errors="replace")
            if len(raw) > MAX_TXT_BYTES:
                text = text.rstrip("\ufffd")  # a character cut in half at the limit
            add("sidecar", text.removeprefix("\ufeff"))


# --- album names ------------------------------------------------------------------------


def _albums(path: Path, root: Path | None, out: list[str]) -> None:
    folders = [path.parent.name]
    if root is not None and path.parent.is_relative_to(root):  # else: its own folder only
        folders = [root.name, *path.parent.relative_to(root).parts]
    for name in folders:
        album = album_name(name)
        if album is not None:
            out.append(album)
