"""Walk library roots and compare what is on disk with what the catalog knows.

Photos and videos alike (core.photos.video_names): a video is a row of the catalog as a
photo is, and the indexer embeds videos after the photos of a run.

The scan only reads directory entries and ``stat`` results: it never opens a photo. The
diff decides what the indexer must do; it never decides that a photo is gone when its
root is offline (an unplugged drive must not empty the library). A photo whose sidecars
changed while it did not (core.words.sidecars) only has its words re-read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.photos.formats import PHOTO_EXTENSIONS, has_developed_sibling, is_raw
from core.photos.video_names import VIDEO_EXTENSIONS
from core.store.catalog import STATUS_FAILED, PhotoRow
from core.words import sidecars


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    size: int
    mtime: float
    sidecars: str = ""  # core.words.sidecars.signature of the photo's sidecar files


@dataclass(slots=True)
class ScanDiff:
    """What changed under the scanned roots since the catalog last saw them."""

    to_embed: list[tuple[FileEntry, PhotoRow | None]] = field(default_factory=list)
    unchanged: int = 0
    failed_unchanged: int = 0
    gone: list[PhotoRow] = field(default_factory=list)
    reread: list[tuple[FileEntry, PhotoRow]] = field(default_factory=list)
    """Unchanged photos (counted in ``unchanged``) whose sidecars changed: words only."""


SCAN_PROBLEMS_SETTING = "scan_problems"
"""Catalog setting: a JSON list of what the last full scan could not read (see walk)."""


def is_online(root: Path) -> bool:
    """A root is online when it is a readable folder with something in it.

    An empty mount point looks exactly like an unplugged drive, so an empty folder counts
    as offline: its photos are kept, never removed.
    """
    try:
        with os.scandir(root) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def walk(root: Path, *, on_error: Callable[[str], None] | None = None) -> Iterator[FileEntry]:
    """Photos and videos under ``root``, recursively; hidden entries and unreadable
    folders skipped.

    Symlinked folders are not followed (they can loop); symlinked files are. Each folder
    that cannot be listed and each photo link that leads nowhere is reported to
    ``on_error`` as one readable line, e.g. ``unreadable folder: /x/y (permission denied)``.
    """
    report = on_error or (lambda _message: None)
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        photos: list[tuple[str, int, float]] = []
        listed: set[str] = set()  # the folder's sidecar names, case-folded
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        extension = os.path.splitext(entry.name)[1].lower()
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif extension in PHOTO_EXTENSIONS or extension in VIDEO_EXTENSIONS:
                            stat = entry.stat()
                            photos.append((entry.path, stat.st_size, stat.st_mtime))
                        elif extension in sidecars.SUFFIXES:
                            listed.add(entry.name.casefold())
                    except OSError as error:  # broken symlink, or vanished mid-scan
                        if entry.is_symlink():
                            report(f"broken link: {entry.path} ({_reason(error)})")
                        continue
        except OSError as error:
            report(f"unreadable folder: {folder} ({_reason(error)})")
        # Yielded once the folder is listed: a photo's sidecars may come after it, and so
        # may the JPEG that stands for a RAW (core.photos.raw).
        names = frozenset(os.path.basename(path).lower() for path, _, _ in photos)
        for path, size, mtime in photos:
            if is_raw(path) and has_developed_sibling(path, names):
                continue
            yield FileEntry(path, size, mtime, sidecars.signature(path, listed))


def _reason(error: OSError) -> str:
    """``permission denied`` for ``[Errno 13] Permission denied: '/x'``."""
    return (error.strerror or str(error)).lower()


def diff(
    on_disk: Iterator[FileEntry] | list[FileEntry],
    known: dict[str, PhotoRow],
    embedded: set[int],
) -> ScanDiff:
    """Sort files into work to do; ``known`` holds the catalog rows of the scanned roots.

    A file is embedded when it is new, changed (size or mtime), or has no vector for the
    current model; a failed file is retried only when it changed. An unchanged photo
    whose sidecars changed is listed in ``reread``.
    """
    result = ScanDiff()
    seen: set[str] = set()
    for entry in on_disk:
        seen.add(entry.path)
        row = known.get(entry.path)
        if row is None:
            result.to_embed.append((entry, None))
        elif row.size != entry.size or row.mtime != entry.mtime:
            result.to_embed.append((entry, row))
        elif row.status == STATUS_FAILED:
            result.failed_unchanged += 1
        elif row.id in embedded:
            result.unchanged += 1
            if row.sidecars != entry.sidecars:
                result.reread.append((entry, row))
        else:
            result.to_embed.append((entry, row))
    result.gone = [row for path, row in known.items() if path not in seen]
    return result
