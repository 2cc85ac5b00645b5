"""Sidecar files that hold a photo's own words, and a signature to notice their edits.

:mod:`core.words.user_words` reads ``IMG_1.jpg.xmp`` / ``IMG_1.xmp`` and ``IMG_1.jpg.txt`` /
``IMG_1.txt`` next to a photo. A tool that edits them (Lightroom, darktable, a text editor)
leaves the photo itself untouched, so its size and mtime cannot tell a scan that the words
changed. The catalog therefore keeps, per photo, a :func:`signature` of its sidecars (name,
size, mtime); a scan that finds another one re-reads the photo's words, without a new
vector. Nothing here opens a file: directory listings and ``stat`` only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable
from typing import Final

from core.photos.formats import PHOTO_EXTENSIONS
from core.photos.video_names import VIDEO_EXTENSIONS

SUFFIXES: Final = (".xmp", ".txt")


def sidecar_names(name: str, suffix: str) -> list[str]:
    """For the photo ``name``: ``IMG_1.jpg.xmp`` (darktable) then ``IMG_1.xmp``
    (Lightroom), without repeats."""
    names = [name + suffix]
    stem, extension = os.path.splitext(name)
    if extension and stem + suffix not in (names[0], name):
        names.append(stem + suffix)
    return names


def is_sidecar(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in SUFFIXES


def signature(path: str, listed: Collection[str] | None = None) -> str:
    """The photo's sidecars as ``name:size:mtime_ns``, joined by ``/`` (``""``: none).

    ``listed`` holds the case-folded names of the folder's sidecar files when the caller
    has just listed the folder: only those are looked up, so a folder without sidecars
    costs nothing. The names tried are the ones :mod:`core.words.user_words` opens, so both agree
    on a case-insensitive disk too.
    """
    if listed is not None and not listed:
        return ""
    folder, name = os.path.split(path)
    parts: list[str] = []
    for suffix in SUFFIXES:
        for candidate in sidecar_names(name, suffix):
            if listed is not None and candidate.casefold() not in listed:
                continue
            try:
                info = os.stat(os.path.join(folder, candidate))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                parts.append(f"{candidate}:{info.st_size}:{info.st_mtime_ns}")
    return "/".join(parts)  # "/" is in no file name


def photos_of(sidecars: Iterable[str]) -> list[str]:
    """The photos, as named on disk, whose words these sidecar paths hold (``IMG_1.jpg``
    for ``IMG_1.jpg.xmp``, any ``IMG_1.*`` photo for ``IMG_1.xmp``): one listing per
    folder, so a tool rewriting a thousand sidecars costs one listing per hand-over."""
    wanted: dict[str, set[str]] = {}
    for path in sidecars:
        folder, name = os.path.split(path)
        wanted.setdefault(folder, set()).add(name.casefold())
    found: list[str] = []
    for folder, names in wanted.items():
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    extension = os.path.splitext(entry.name)[1].lower()
                    if ((extension in PHOTO_EXTENSIONS or extension in VIDEO_EXTENSIONS)
                            and not entry.name.startswith(".") and entry.is_file()
                            and any(candidate.casefold() in names for suffix in SUFFIXES
                                    for candidate in sidecar_names(entry.name, suffix))):
                        found.append(entry.path)
        except OSError:  # the folder went away: its photos' own events say so
            continue
    return sorted(found)


def photo_paths(paths: Iterable[str]) -> list[str]:
    """``paths`` (files and folders that changed) with each sidecar file replaced by the
    photos whose words it holds; a ``.txt`` that belongs to no photo is dropped."""
    paths = list(paths)
    notes = {p for p in paths if is_sidecar(p) and not os.path.isdir(p)}
    return list(dict.fromkeys([*(p for p in paths if p not in notes), *photos_of(notes)]))
