"""Each picture once in a list of results: a hit that is a copy of a better-placed hit (the
same file, or the same picture by its print: re-saved, resized, converted) leaves the list
and is named in that hit's ``copies``.

Only the hits themselves are compared (a page of results: at most a few thousand pairs, most
ruled out by their vectors), with the prints the indexer stored; a photo indexed before
prints existed is folded only with exact copies of its file until the duplicate finder has
made its print.
"""

from __future__ import annotations

import dataclasses
import threading
import zlib
from collections import OrderedDict

import numpy as np

from core.photos.likeness import same_picture
from core.store.catalog import Catalog
from core.types import Hits, SearchHit

COPY_COSINE = 0.90
"""Hits whose vectors are less alike than this are not compared (a copy re-saved or resized
sits at 0.95-0.99 with a CLIP model; one cropped or colour-corrected at 0.88-0.95 may stay
unfolded here, shown beside its original: the duplicate finder, at 0.85, still groups it)."""
REMEMBERED = 50_000
"""Pair decisions kept between searches (a refined query lists mostly the same photos)."""

_decisions: OrderedDict[tuple[int, int, int, int], bool] = OrderedDict()
_decisions_lock = threading.Lock()


def fold_copies(hits: Hits, catalog: Catalog, model_id: int, dim: int) -> Hits:
    """``hits`` with each copy folded into the first hit of its picture."""
    if len(hits) < 2:
        return hits
    ids = [hit.photo_id for hit in hits]
    hashes = catalog.hashes_of(ids)
    prints = catalog.prints_of(ids)
    vectors = catalog.vectors_of(ids, model_id, dim)
    kept: list[SearchHit] = []
    copies: list[list[str]] = []
    for hit in hits:
        owner = _first_copy_of(hit.photo_id, kept, hashes, prints, vectors)
        if owner is None:
            kept.append(hit)
            copies.append([])
        else:
            copies[owner].append(hit.path)
    if len(kept) == len(hits):
        return hits
    folded = Hits(dataclasses.replace(hit, copies=(*hit.copies, *more)) if more else hit
                  for hit, more in zip(kept, copies, strict=True))
    folded.hidden, folded.best_hidden, folded.ranked = hits.hidden, hits.best_hidden, \
        hits.ranked
    return folded


def _first_copy_of(photo_id: int, kept: list[SearchHit], hashes: dict[int, str | None],
                   prints: dict[int, bytes], vectors: dict[int, np.ndarray]) -> int | None:
    """The position in ``kept`` of the first hit showing the same picture, if any."""
    mine = hashes.get(photo_id)
    for position, other in enumerate(kept):
        if mine is not None and hashes.get(other.photo_id) == mine:
            return position
        a, b = prints.get(photo_id), prints.get(other.photo_id)
        va, vb = vectors.get(photo_id), vectors.get(other.photo_id)
        if a is None or b is None or va is None or vb is None:
            continue
        if float(np.dot(va.astype(np.float32), vb.astype(np.float32))) >= COPY_COSINE \
                and _same(photo_id, a, other.photo_id, b):
            return position
    return None


def _same(id_a: int, a: bytes, id_b: int, b: bytes) -> bool:
    """:func:`same_picture`, remembered per pair of photos and prints (about 1-2 ms each:
    a page of look-alike results compares hundreds of pairs)."""
    key = (id_a, id_b, zlib.crc32(a), zlib.crc32(b))
    with _decisions_lock:
        known = _decisions.get(key)
        if known is not None:
            _decisions.move_to_end(key)
            return known
    decided = same_picture(a, b)
    with _decisions_lock:
        _decisions[key] = decided
        while len(_decisions) > REMEMBERED:
            _decisions.popitem(last=False)
    return decided
