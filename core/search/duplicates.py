"""Duplicates in a library: groups of copies (the same picture) and of similar shots.

Never all pairs. Candidates come from the photo vectors: photos whose cosine reaches a floor
among a photo's ``NEIGHBOURS`` nearest, plus identical files (the same content hash). Only
candidates are verified, by their picture prints (core.photos.likeness), which tell a copy
(re-saved, resized, converted, cropped a little, colour-corrected) from another shot of the
same scene that cosine alone cannot.

The nearest neighbours are found exactly within cells: the vectors are split by k-means
(FAISS) into about sqrt(n) cells, every vector goes into its two nearest cells, and each cell
is one matrix product. Two vectors at cosine 0.85 or more share a cell almost always. Measured
by bench/duplicates.py at 100k clustered vectors on two busy cores: every planted pair found,
in 10.5 s, where a USearch graph built for the purpose (i8, expansion 64, both cores) took
39 s and found 98.9%; the whole grouping took 13 s (3 ms per pair of prints compared).

Copies are transitive: the groups are the connected components of verified pairs and
identical files. Similar shots are not: a group holds a seed and the photos close to it, in
meaning (``SIMILAR_FLOOR``) and in time (``SIMILAR_WINDOW`` when both dates are known), so a
library of a thousand beach photos does not chain into one group.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from core.photos.likeness import Print, parse, same_picture
from core.types import Progress

COPY_FLOOR = 0.85
"""Cosine from which two photos are candidate copies. A CLIP model puts a re-saved or
resized copy at 0.95-0.99 and a cropped or colour-corrected one at 0.88-0.95 (published
near-duplicate figures for ViT-B/32; no real weights are available here to measure), so
0.85 misses none; what it lets in, the prints reject."""
SIMILAR_FLOOR = 0.90
"""Cosine from which two shots taken close in time are similar (a burst, the scene again)."""
UNTIMED_FLOOR = 0.94
"""... and when either date is unknown: closer in meaning, with no time to go by."""
SIMILAR_WINDOW = 600.0
"""Seconds between two shots of one similar group (from its seed)."""
SIMILAR_MAX = 50
"""The most photos one similar group holds."""
NEIGHBOURS = 10
"""Candidates per photo (its nearest above the floor)."""
EXACT_MAX = 4096
"""Up to this many photos, one cell: every pair is compared exactly."""
_ROWS = 1024
"""Rows of a cell's similarity matrix computed at once (bounds memory for large cells)."""

Ids = Sequence[int]
PrintFor = Callable[[int], bytes | None]
TakenAt = Mapping[int, str | None] | Callable[[int], str | None]


@dataclass(frozen=True, slots=True)
class Group:
    """Photos that show the same picture (``copies``) or are shots of one moment
    (``similar``); ``members`` are photo ids, in ascending order (core.search.keepers ranks
    them). A similar group names one photo per picture: a copies group takes part through
    one of its members."""

    kind: Literal["copies", "similar"]
    members: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "members": list(self.members)}


@dataclass(frozen=True, slots=True)
class Pairs:
    """Candidate pairs: rows ``(i, j)`` of positions in the input, ``i < j``, and cosines."""

    index: npt.NDArray[np.int64]
    cosine: npt.NDArray[np.float32]


def group_duplicates(ids: Ids, vectors: npt.ArrayLike, hashes: Sequence[str | None],
                     print_for: PrintFor, *, taken_at: TakenAt | None = None,
                     similar: bool = False, floor: float = COPY_FLOOR,
                     neighbours: int = NEIGHBOURS,
                     on_progress: Callable[[Progress], None] | None = None) -> list[Group]:
    """:func:`find_groups` run to the end, its progress handed to ``on_progress``."""
    run = find_groups(ids, vectors, hashes, print_for, taken_at=taken_at, similar=similar,
                      floor=floor, neighbours=neighbours)
    while True:
        try:
            progress = next(run)
        except StopIteration as done:
            groups: list[Group] = done.value
            return groups
        if on_progress is not None:
            on_progress(progress)


def find_groups(ids: Ids, vectors: npt.ArrayLike, hashes: Sequence[str | None],
                print_for: PrintFor, *, taken_at: TakenAt | None = None,
                similar: bool = False, floor: float = COPY_FLOOR,
                neighbours: int = NEIGHBOURS) -> Generator[Progress, None, list[Group]]:
    """Group a library's duplicates; yields progress, returns the groups (copies first).

    ``vectors``: one L2-normalised row per id (float16 or float32); ``hashes``: each photo's
    content hash (None: unknown); ``print_for(id)``: its picture print, None when it cannot
    be decoded (it is then grouped by its hash only); ``taken_at(id)``: its date taken, an
    ISO string or None. Two photos whose dates taken are both known and differ are different
    shots, never copies (a shift by whole quarter hours excepted: a time zone corrected).
    Similar groups are made only when ``similar``.
    """
    started = time.perf_counter()
    matrix = np.asarray(vectors)
    if matrix.ndim != 2 or len(matrix) != len(ids) or len(hashes) != len(ids):
        raise ValueError(f"{len(ids)} ids, {len(hashes)} hashes, vectors {matrix.shape}")
    dates = _dates(ids, taken_at)
    parts = _Components(len(ids))
    firsts = _join_identical(hashes, parts)
    lowest = min(floor, SIMILAR_FLOOR) if similar else floor
    pairs = yield from _neighbours(matrix[firsts], lowest, neighbours, started)
    pairs = Pairs(firsts[pairs.index], pairs.cosine)
    checker = _Checker(ids, print_for, dates)
    yield from checker.verify(pairs, floor, parts, started)
    groups = sorted((Group("copies", tuple(sorted(ids[i] for i in members)))
                     for members in parts.groups() if len(members) > 1),
                    key=lambda group: group.members)
    if similar:
        groups += _similar(ids, matrix, dates, pairs, parts)
    elapsed = time.perf_counter() - started
    yield Progress("done", len(ids), len(ids), elapsed_s=elapsed)
    return groups


def _dates(ids: Ids, taken_at: TakenAt | None) -> list[datetime | None]:
    if taken_at is None:
        return [None] * len(ids)
    get = taken_at.get if isinstance(taken_at, Mapping) else taken_at
    out: list[datetime | None] = []
    for photo in ids:
        text = get(photo)
        try:
            out.append(None if not text else datetime.fromisoformat(text).replace(tzinfo=None))
        except ValueError:
            out.append(None)
    return out


def _join_identical(hashes: Sequence[str | None], parts: _Components) -> npt.NDArray[np.int64]:
    """Join identical files; return the first position of each distinct content (identical
    files share a vector: the others need no search)."""
    first: dict[str, int] = {}
    keep = []
    for i, digest in enumerate(hashes):
        if digest is None or digest not in first:
            keep.append(i)
            if digest is not None:
                first[digest] = i
        else:
            parts.join(first[digest], i)
    return np.asarray(keep, np.int64)


class _Components:
    """Union-find over positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        by_root: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            by_root.setdefault(self.find(i), []).append(i)
        return list(by_root.values())


# --- candidates -------------------------------------------------------------------------


def _neighbours(vectors: npt.NDArray[Any], floor: float, k: int,
                started: float) -> Generator[Progress, None, Pairs]:
    """Each vector's ``k`` nearest at cosine ``floor`` or more, as pairs."""
    cells = list(_cells(vectors))
    found_index, found_cosine = [], []
    for done, members in enumerate(cells, start=1):
        index, cosine = _cell_pairs(vectors, members, floor, k)
        found_index.append(index)
        found_cosine.append(cosine)
        if done % 16 == 0 or done == len(cells):
            yield _progress("scan", done, len(cells), "neighbours", started)
    return _unique_pairs(found_index, found_cosine, len(vectors))


def _cells(vectors: npt.NDArray[Any]) -> Iterator[npt.NDArray[np.int64]]:
    """Positions in each cell: all, for a small library; else k-means cells, every vector
    in its two nearest (in its nearest only, 6% of pairs at cosine 0.86-0.99 planted among
    100k clustered vectors fell in different cells; in two, none)."""
    n = len(vectors)
    if n <= EXACT_MAX:
        yield np.arange(n, dtype=np.int64)
        return
    import faiss  # imported here: a small library never needs it

    lists = int(math.sqrt(n))
    sample = np.random.default_rng(0).choice(n, min(n, 64 * lists), replace=False)
    kmeans = faiss.Kmeans(vectors.shape[1], lists, niter=10, seed=1, spherical=True,
                          max_points_per_centroid=64)
    kmeans.train(np.ascontiguousarray(vectors[np.sort(sample)], np.float32))
    owners = np.empty((n, 2), np.int64)
    for start in range(0, n, 65_536):  # float16 input is never copied whole as float32
        chunk = np.ascontiguousarray(vectors[start:start + 65_536], np.float32)
        owners[start:start + len(chunk)] = kmeans.index.search(chunk, 2)[1]
    order = np.argsort(owners.ravel(), kind="stable")
    bounds = np.searchsorted(owners.ravel()[order], np.arange(lists + 1))
    for cell in range(lists):
        yield order[bounds[cell]:bounds[cell + 1]] // 2


def _cell_pairs(vectors: npt.NDArray[Any], members: npt.NDArray[np.int64], floor: float,
                k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Within one cell, each member's ``k`` nearest others at ``floor`` or more."""
    if len(members) < 2:
        return np.empty((0, 2), np.int64), np.empty(0, np.float32)
    x = np.asarray(vectors[members], np.float32)
    keep = min(k, len(members) - 1)
    pairs, cosines = [], []
    for start in range(0, len(members), _ROWS):
        sims = x[start:start + _ROWS] @ x.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -2.0  # not itself
        top = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
        values = np.take_along_axis(sims, top, axis=1)
        hit = values >= floor
        i = np.broadcast_to(rows[:, None] + start, top.shape)[hit]
        pairs.append(np.stack([members[i], members[top[hit]]], axis=1))
        cosines.append(values[hit])
    return np.concatenate(pairs), np.concatenate(cosines).astype(np.float32)


def _unique_pairs(index: list[npt.NDArray[np.int64]], cosine: list[npt.NDArray[np.float32]],
                  n: int) -> Pairs:
    """Pairs found in several cells (or both ways) once, ``i < j``, most alike first."""
    both = np.concatenate(index) if index else np.empty((0, 2), np.int64)
    values = np.concatenate(cosine) if cosine else np.empty(0, np.float32)
    low, high = np.minimum(both[:, 0], both[:, 1]), np.maximum(both[:, 0], both[:, 1])
    codes, first = np.unique(low * n + high, return_index=True)
    order = np.argsort(-values[first], kind="stable")
    pairs = np.stack([codes // n, codes % n], axis=1)[order]
    return Pairs(pairs.astype(np.int64), values[first][order].astype(np.float32))


# --- verifying --------------------------------------------------------------------------


class _Checker:
    """Verifies candidate pairs with their prints (each asked for once and kept as its 1 KB
    of bytes, parsed again when used: 4 KB parsed, 100k candidates would hold 400 MB)."""

    def __init__(self, ids: Ids, print_for: PrintFor, dates: list[datetime | None]) -> None:
        self.ids, self.print_for, self.dates = ids, print_for, dates
        self.prints: dict[int, bytes | None] = {}

    def verify(self, pairs: Pairs, floor: float, parts: _Components,
               started: float) -> Generator[Progress, None, None]:
        """Join the candidates at ``floor`` or more that are copies (most alike first; a
        pair already in one group needs no test)."""
        todo = int((pairs.cosine >= floor).sum())
        for done, (i, j) in enumerate(pairs.index[:todo].tolist(), start=1):
            if parts.find(i) != parts.find(j) and self.copies(i, j):
                parts.join(i, j)
            if done % 256 == 0 or done == todo:
                yield _progress("scan", done, todo, "prints", started)

    def copies(self, i: int, j: int) -> bool:
        if _different_shots(self.dates[i], self.dates[j]):
            return False
        a, b = self.print_of(i), self.print_of(j)
        return a is not None and b is not None and same_picture(a, b)

    def print_of(self, i: int) -> Print | None:
        if i not in self.prints:
            self.prints[i] = self.print_for(self.ids[i])
        data = self.prints[i]
        if data is None:
            return None
        try:
            return parse(data)
        except ValueError:  # a print of another version: as if there were none
            self.prints[i] = None
            return None


def _different_shots(a: datetime | None, b: datetime | None) -> bool:
    """Both dates known and apart: two shots (but a whole number of quarter hours apart is a
    copy whose time zone was corrected)."""
    if a is None or b is None:
        return False
    seconds = abs((a - b).total_seconds())
    return seconds >= 1 and seconds % 900 != 0


def _progress(phase: Literal["scan"], done: int, total: int, what: str,
              started: float) -> Progress:
    elapsed = time.perf_counter() - started
    return Progress(phase, done, total, current=what, elapsed_s=round(elapsed, 3))


# --- similar shots ----------------------------------------------------------------------


def _similar(ids: Ids, vectors: npt.NDArray[Any], dates: list[datetime | None], pairs: Pairs,
             parts: _Components) -> list[Group]:
    """Similar groups over pictures: a copies group counts as one, through its first member,
    with its members' mean vector and its earliest date."""
    unit = [parts.find(i) for i in range(len(ids))]
    when: dict[int, datetime] = {}
    for i, date in enumerate(dates):
        if date is not None and (unit[i] not in when or date < when[unit[i]]):
            when[unit[i]] = date
    links: dict[int, dict[int, float]] = {}
    for (i, j), cosine in zip(pairs.index.tolist(), pairs.cosine.tolist(), strict=True):
        a, b = unit[i], unit[j]
        if a != b and _close(cosine, when.get(a), when.get(b)):
            for x, y in ((a, b), (b, a)):
                near = links.setdefault(x, {})
                near[y] = max(cosine, near.get(y, -1.0))
    members: dict[int, list[int]] = {}
    for i, u in enumerate(unit):
        if u in links:
            members.setdefault(u, []).append(i)
    centres = {u: _centre(vectors, rows) for u, rows in members.items()}
    taken: set[int] = set()
    groups = []
    for seed in sorted(links, key=lambda u: (-len(links[u]), u)):
        if seed not in taken:
            found = _grow(seed, links, taken, centres, when)
            if len(found) > 1:
                taken.update(found)
                groups.append(Group("similar", tuple(sorted(ids[u] for u in found))))
    return sorted(groups, key=lambda group: group.members)


def _centre(vectors: npt.NDArray[Any], rows: list[int]) -> npt.NDArray[np.float32]:
    mean = np.asarray(vectors[rows], np.float32).mean(axis=0)
    return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-9), np.float32)


def _close(cosine: float, a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return cosine >= UNTIMED_FLOOR
    return cosine >= SIMILAR_FLOOR and abs((a - b).total_seconds()) <= SIMILAR_WINDOW


def _grow(seed: int, links: dict[int, dict[int, float]], taken: set[int],
          centres: dict[int, npt.NDArray[np.float32]], when: dict[int, datetime]) -> list[int]:
    """The seed and the pictures reached through links that are each close to the seed itself
    (in meaning and in time): a group never chains away from its seed."""
    found, queue, seen = [seed], [seed], {seed}
    while queue and len(found) < SIMILAR_MAX:
        for other in sorted(links[queue.pop(0)]):
            if other in seen or other in taken or len(found) >= SIMILAR_MAX:
                continue
            seen.add(other)
            cosine = max(links[seed].get(other, -1.0), float(centres[other] @ centres[seed]))
            if _close(cosine, when.get(seed), when.get(other)):
                found.append(other)
                queue.append(other)
    return found
