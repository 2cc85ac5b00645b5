"""The albums a fine-tuning run learns: folders of the library, or photos tagged with a name.

An album is a folder of the library, whose name is the words to learn ("Grandma Rosa"), or
the photos whose own words (keywords and captions written in Lightroom, digiKam, a
sidecar...) hold a name that no folder has. :func:`resolve_albums` turns what the user gave
(folder paths, folder names, tags) into albums, checked but not decoded; a photo in two
chosen albums teaches neither and is left out of both. :func:`album_choices` lists the
folders a window offers to pick from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import PathNotFoundError, UsageError
from core.words.cleaning import album_name

if TYPE_CHECKING:
    from core.library import Library

MIN_PHOTOS = 4
"""Photos an album needs at least (some are held out to measure the gain)."""


@dataclass(frozen=True, slots=True)
class Album:
    name: str
    folder: str  # "" for an album of photos tagged with its name
    photos: tuple[str, ...]
    shared: int = 0  # photos left out: they are in another chosen album too

    @property
    def source(self) -> Literal["folder", "words"]:
        return "folder" if self.folder else "words"


@dataclass(frozen=True, slots=True)
class AlbumChoice:
    name: str
    folder: str
    photos: int


def resolve_albums(library: Library, names: Sequence[str]) -> list[Album]:
    """Albums from folder paths, folder names, or words of the library's photos (checked,
    not decoded)."""
    if len(set(names)) < 2:
        raise UsageError("fine-tuning needs at least two albums (folders of the library, or "
                         "words your photos are tagged with), so it can tell them apart")
    rows = library.catalog.photos_under(rid for rid, _ in library.catalog.roots())
    roots = [Path(p) for _, p in library.catalog.roots()]
    albums = [_album(library, name, rows, roots) for name in dict.fromkeys(names)]
    seen: dict[str, str] = {}
    for album in albums:
        key = album.name.casefold()
        if key in seen:
            raise UsageError(f"two albums are named {album.name!r} ({seen[key]} and "
                             f"{album.folder or 'tagged photos'}); choose one")
        seen[key] = album.folder or "tagged photos"
    folders = [a for a in albums if a.folder]
    for a in folders:
        for b in folders:
            if a is not b and Path(a.folder).is_relative_to(b.folder):
                raise UsageError(f"album {a.folder} lies inside album {b.folder}; choose "
                                 "folders that do not overlap")
    counts: dict[str, int] = {}
    for album in albums:
        for photo in album.photos:
            counts[photo] = counts.get(photo, 0) + 1
    albums = [replace(a, photos=tuple(p for p in a.photos if counts[p] == 1),
                      shared=sum(counts[p] > 1 for p in a.photos)) for a in albums]
    for album in albums:
        if len(album.photos) < MIN_PHOTOS:
            shared = (f" ({album.shared} more are in another chosen album too, and such "
                      "photos teach neither)" if album.shared else "")
            raise UsageError(
                f"album {album.name!r} has {len(album.photos)} indexed photos{shared}; "
                f"fine-tuning needs at least {MIN_PHOTOS} per album (some are held out to "
                "measure the gain). Add photos, or run `pictor index` if they are not "
                "indexed yet")
    return albums


def album_choices(library: Library) -> list[AlbumChoice]:
    """Folders of the library that can be albums (what a window offers to pick from): a
    library folder or one below it, holding at least :data:`MIN_PHOTOS` readable photos
    (directly or further down), and named by more than a date, a camera's folder scheme or
    a generic word ("Pictures")."""
    roots = {rid: Path(p) for rid, p in library.catalog.roots()}
    counts: dict[Path, int] = {}
    for path, row in library.catalog.photos_under(roots).items():
        if row.status != "ok":
            continue
        root = roots[row.root_id]
        for parent in Path(path).parents:  # up to its library folder, which counts too
            counts[parent] = counts.get(parent, 0) + 1
            if parent == root:
                break
    return sorted((AlbumChoice(folder.name, str(folder), n) for folder, n in counts.items()
                   if n >= MIN_PHOTOS and album_name(folder.name) is not None),
                  key=lambda c: (c.name.casefold(), c.folder))


def _album(library: Library, name: str, rows: dict[str, Any], roots: list[Path]) -> Album:
    folder = _album_folder(name, rows, roots)
    if folder is not None:
        photos = tuple(sorted(p for p, row in rows.items()
                              if row.status == "ok" and Path(p).is_relative_to(folder)))
        return Album(name=folder.name, folder=str(folder), photos=photos)
    tagged = tuple(library.catalog.photos_with_words(name))
    if not tagged:
        raise UsageError(f"no library folder is named {name!r}, and no photo has "
                         f"{name.strip()!r} among its own words (keywords, titles, captions)"
                         "; give a folder name or path of the library, or a tag you used")
    return Album(name=" ".join(name.split()), folder="", photos=tagged)


def _album_folder(name: str, rows: dict[str, Any], roots: list[Path]) -> Path | None:
    """The library folder ``name`` points to (a path, or a folder's name); None: no folder
    has that name (it may be a tag)."""
    given = Path(name).expanduser()
    if given.is_dir():
        folder = given.resolve()
        if not any(folder.is_relative_to(root) for root in roots):
            raise UsageError(f"{name} is not in the library; add it with `pictor index "
                             f"{name}` first")
        return folder
    if given.is_absolute() or "/" in name or "\\" in name:
        raise PathNotFoundError(name)
    wanted = name.strip().casefold()
    matches = sorted({str(parent) for path in rows for parent in Path(path).parents
                      if parent.name.casefold() == wanted
                      and any(parent.is_relative_to(root) for root in roots)})
    if len(matches) > 1:
        raise UsageError(f"several library folders are named {name!r}: "
                         f"{', '.join(matches)}; give the path of the one you mean")
    return Path(matches[0]) if matches else None
