"""The duplicate finder over a library: the copies of each picture (and similar shots), the
one to keep first, and moving the others to the Trash when the user asks.

Grouping (core.search.duplicates) works from the catalog's vectors, content hashes and
picture prints; a photo indexed before prints existed gets its print from its file the
first time it is a candidate (a small decode), stored for the next time. Listing never
changes a file. Moving goes through core.sync.trash, one file at a time; the catalog and
the vector index forget each moved copy at once, and its words move to the kept photo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PIL import Image

from core.errors import ImageError
from core.photos import reading
from core.photos.imaging import decode_path
from core.photos.likeness import jpeg_quality, picture_print, sharpness_of
from core.search import duplicates, keepers
from core.store.catalog import Catalog
from core.store.catalog_copies import CopyFacts
from core.store.index_base import AnyIndex
from core.sync.trash import TrashResult, move_to_trash
from core.types import Progress

log = logging.getLogger(__name__)

PRINT_DECODE_SIDE = 256
"""The short side a photo without a print is decoded at to make one (a JPEG decodes at 1/8
scale or so: a few milliseconds)."""
_WRITE_EVERY = 200


@dataclass(frozen=True, slots=True)
class CopyMember:
    """One photo of a group, as the user sees it."""

    photo_id: int
    path: str
    keep: bool
    reason: str
    width: int | None
    height: int | None
    bytes: int
    format: str | None
    taken_at: str | None
    mtime: float

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "keep": self.keep, "reason": self.reason,
                "width": self.width, "height": self.height, "bytes": self.bytes,
                "format": self.format, "taken_at": self.taken_at}


@dataclass(frozen=True, slots=True)
class CopyGroup:
    """Copies of one picture, or similar shots of one scene; the one to keep first."""

    kind: Literal["copies", "similar"]
    photos: tuple[CopyMember, ...]

    @property
    def keeper(self) -> CopyMember:
        return self.photos[0]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "photos": [m.to_json() for m in self.photos],
                "bytes_not_kept": sum(m.bytes for m in self.photos if not m.keep)}


@dataclass(slots=True)
class TrashReport:
    moved: list[TrashResult] = field(default_factory=list)
    failed: list[TrashResult] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.moved)

    def to_json(self) -> dict[str, Any]:
        return {"moved": [r.path for r in self.moved], "bytes": self.bytes,
                "failed": [{"path": r.path, "reason": r.reason} for r in self.failed]}


class FindDuplicates:
    """Iterate for :class:`Progress`; then :attr:`groups` holds the groups, the largest
    waste of space first. Closing it early stops between steps (prints made are kept)."""

    def __init__(self, catalog: Catalog, model_id: int, dim: int, *,
                 similar: bool = False) -> None:
        self._catalog = catalog
        self._model_id, self._dim = model_id, dim
        self._similar = similar
        self._new_prints: list[tuple[int, bytes]] = []
        self._stored: dict[int, bytes] = {}
        self._steps: Iterator[Progress] | None = None
        self.groups: list[CopyGroup] = []

    def __iter__(self) -> Iterator[Progress]:
        if self._steps is None:
            self._steps = self._run()
        return self._steps

    def close(self) -> None:
        """Stop between steps (the prints made so far are kept)."""
        if isinstance(self._steps, Generator):
            self._steps.close()

    def _run(self) -> Iterator[Progress]:
        ids, vectors = self._vectors()
        if not len(ids):
            return
        listed = [int(i) for i in ids]
        hashes = self._catalog.hashes_of(listed)
        self._stored = self._catalog.prints_of(listed)
        try:
            found = yield from duplicates.find_groups(
                listed, vectors, [hashes.get(i) for i in listed], self._print_for,
                taken_at=self._catalog.times_of(listed), similar=self._similar)
        finally:
            self._flush_prints()
        self.groups = self._ranked(found)

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        id_parts, vector_parts = [], []
        for ids, vectors in self._catalog.iter_vectors(self._model_id, self._dim):
            id_parts.append(np.asarray(ids, dtype=np.int64))
            vector_parts.append(np.asarray(vectors))
        if not id_parts:
            return np.zeros(0, np.int64), np.zeros((0, self._dim), np.float32)
        return np.concatenate(id_parts), np.concatenate(vector_parts)

    def _print_for(self, photo_id: int) -> bytes | None:
        """A photo's print: stored, or made now from its file (None: it cannot be read)."""
        stored = self._stored.get(photo_id)
        if stored is not None:
            return stored
        facts = self._catalog.copy_facts([photo_id]).get(photo_id)
        if facts is None:
            return None
        try:
            image, _ = decode_path(facts.path, min_side=PRINT_DECODE_SIDE)
        except (ImageError, OSError) as error:
            log.info("no print for %s: %s", facts.path, error)
            return None
        made = picture_print(image)
        self._stored[photo_id] = made
        self._new_prints.append((photo_id, made))
        if len(self._new_prints) >= _WRITE_EVERY:
            self._flush_prints()
        return made

    def _flush_prints(self) -> None:
        if self._new_prints and not self._catalog.read_only:  # else made again next time
            self._catalog.write_prints(self._new_prints)
            self._new_prints = []

    def _ranked(self, found: Sequence[duplicates.Group]) -> list[CopyGroup]:
        facts = self._catalog.copy_facts({i for g in found for i in g.members})
        groups: list[CopyGroup] = []
        keeper_of: dict[int, int] = {}  # a copy's id -> its picture's keeper
        for group in sorted(found, key=lambda g: g.kind != "copies"):
            members = [facts[i] for i in group.members if i in facts]
            if group.kind == "similar":  # a picture takes part through its kept copy
                chosen = {keeper_of.get(m.photo_id, m.photo_id) for m in members}
                members = [facts[i] for i in sorted(chosen) if i in facts]
            if len(members) < 2:
                continue
            ranked = CopyGroup(group.kind, _members(members, self._stored, group.kind))
            if group.kind == "copies":
                keeper_of.update((m.photo_id, ranked.keeper.photo_id) for m in ranked.photos)
            groups.append(ranked)
        groups.sort(key=lambda g: (g.kind != "copies",
                                   -sum(m.bytes for m in g.photos if not m.keep)))
        return groups


def _members(members: list[CopyFacts], prints: dict[int, bytes],
             kind: Literal["copies", "similar"]) -> tuple[CopyMember, ...]:
    ranked = keepers.rank_group([_candidate(m, prints.get(m.photo_id)) for m in members],
                                kind=kind)
    by_id = {m.photo_id: m for m in members}
    return tuple(
        CopyMember(photo_id=r.facts.photo_id, path=r.facts.path, keep=r.keep,
                   reason=r.reason, width=by_id[r.facts.photo_id].width,
                   height=by_id[r.facts.photo_id].height, bytes=r.facts.bytes,
                   format=by_id[r.facts.photo_id].format, taken_at=r.facts.taken_at,
                   mtime=by_id[r.facts.photo_id].mtime)
        for r in ranked)


def _candidate(facts: CopyFacts, picture: bytes | None) -> keepers.CopyFacts:
    return keepers.CopyFacts(
        photo_id=facts.photo_id, path=facts.path, width=facts.width or 0,
        height=facts.height or 0, bytes=facts.size, format=facts.format or "",
        taken_at=facts.taken_at, camera=facts.camera, has_position=facts.has_position,
        mtime=facts.mtime, sharpness=None if picture is None else sharpness_of(picture),
        jpeg_quality=_jpeg_quality(facts), content_hash=facts.content_hash)


def _jpeg_quality(facts: CopyFacts) -> int | None:
    """The quality a JPEG was saved at, from its header alone (None: not a JPEG, or
    unreadable now): a copy re-saved lower loses to the original."""
    if (facts.format or "").upper() not in ("JPEG", "MPO"):
        return None
    try:
        with reading.open_photo(facts.path) as file, Image.open(file) as image:
            return jpeg_quality(getattr(image, "quantization", None))
    except (ImageError, OSError, ValueError) as error:
        log.info("no JPEG quality for %s: %s", facts.path, error)
        return None


def trash_copies(catalog: Catalog, index: AnyIndex, groups: Sequence[CopyGroup], *,
                 chosen: Callable[[CopyMember], bool] = lambda m: not m.keep,
                 save: Callable[[], None] = lambda: None) -> TrashReport:
    """Move each group's chosen members (by default every one not kept) to the Trash; the
    catalog and the index follow each group at once. A group whose every member is chosen
    keeps its first one anyway: a picture is never cleared whole by this command."""
    report = TrashReport()
    for group in groups:
        going = [m for m in group.photos if chosen(m)]
        staying = [m for m in group.photos if m not in going]
        if not staying:
            staying, going = [going[0]], going[1:]
        moved = []
        for member in going:
            result = move_to_trash(member.path, size=member.bytes, mtime=member.mtime)
            (report.moved if result.moved else report.failed).append(result)
            if result.moved:
                moved.append(member.photo_id)
        if moved:
            catalog.remove_copies(staying[0].photo_id, moved)
            index.remove(moved)
    if report.moved:
        save()
    return report
