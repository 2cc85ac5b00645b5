"""Queries: text, image, both, minus a description, within a folder or a date range.

A query becomes one unit vector: the weighted sum of its text and image vectors, minus a
share of the ``--not`` description's vector, normalised again. Scores are the cosine
similarity between that vector and each photo's.

A video is found by its best moment: the search index holds a key for each of its moments
(core.store.catalog_videos.frame_key) beside its poster's, and a list shows the video once,
scored by the moment nearest the query and pointing at that moment's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import UsageError
from core.search.calibration import Scale
from core.store.catalog_videos import photo_of
from core.types import Hits, SearchHit, Vector
from core.words import keywords

if TYPE_CHECKING:
    from core.store.catalog import Catalog
    from core.store.index_base import AnyIndex

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each part of a combined query counts."""

    text: float = 1.0
    image: float = 1.0
    negative: float = 0.5


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on which photos a query may return (None: no restriction).

    ``folder`` is an absolute folder path; ``after`` (inclusive) and ``before`` (exclusive)
    are ISO dates as :func:`parse_date` returns them.
    """

    folder: str | None = None
    after: str | None = None
    before: str | None = None
    place: str | None = None
    """An FTS5 expression on the ``place`` words (a place named in the query)."""
    near: tuple[float, float, float] | None = None
    """``(lat, lon, km)``: taken within ``km`` of the position."""
    place_label: str | None = None
    """A place as the library names it ("Sevilla, Andalusia, Spain"): taken there."""

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.folder, self.after, self.before, self.place,
                                           self.near, self.place_label))

    def where(self) -> dict[str, Any]:
        """The keyword arguments of the catalog's filtered queries."""
        return {"folder": self.folder, "after": self.after, "before": self.before,
                "place": self.place, "near": self.near, "place_label": self.place_label}


def parse_date(value: str, *, end: bool = False) -> str:
    """``2019``, ``2019-06`` or ``2019-06-30`` as an ISO date for comparisons.

    With ``end`` the first day *after* the period is returned, so ``--before 2019`` keeps
    photos up to 31 December 2018 and ``--after 2019`` starts on 1 January 2019.
    """
    match = _DATE.match(value.strip())
    if match is None:
        raise UsageError(f"not a date: {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        start = date(year, month or 1, day or 1)
    except ValueError as error:
        raise UsageError(f"not a date: {value!r} ({error})") from error
    if not end:
        return start.isoformat()
    try:
        if day is not None:
            return date.fromordinal(start.toordinal() + 1).isoformat()
        if month is not None:
            return date(year + (month == 12), month % 12 + 1, 1).isoformat()
        return date(year + 1, 1, 1).isoformat()
    except (ValueError, OverflowError):  # the period ends after 9999: no upper bound
        return "10000-01-01"


def compose(
    *,
    text: Vector | None = None,
    image: Vector | None = None,
    negative: Vector | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Vector:
    """One normalised query vector from its parts (at least one of text or image)."""
    parts = []
    if text is not None:
        parts.append(weights.text * text)
    if image is not None:
        parts.append(weights.image * image)
    if not parts:
        raise UsageError("a search needs a text, an image, or both")
    query = np.sum(parts, axis=0)
    if negative is not None:
        query = query / np.linalg.norm(query) - weights.negative * negative
    norm = float(np.linalg.norm(query))
    if norm < 1e-9:
        raise UsageError("the query cancels itself out (is --not the same as the text?)")
    result: Vector = (query / norm).astype(np.float32)
    return result


def nearest(
    catalog: Catalog,
    index: AnyIndex,
    model_id: int,
    query: Vector,
    k: int,
    *,
    filters: Filters = Filters(),
    exclude: frozenset[int] = frozenset(),
    words: str | None = None,
    text: str = "",
    scale: Scale | None = None,
    min_score: float = 0.0,
    parts: dict[str, Vector] | None = None,
) -> Hits:
    """The ``k`` best photos for a query vector, with the catalog's details.

    With ``words`` (an FTS5 expression from :func:`core.words.keywords.match_expression`) the
    vector ranking and the photos' word ranking are fused by reciprocal-rank fusion:
    each list gives ``1 / (RRF_K + rank)``, summed; ties go to word matches.

    ``scale`` turns cosines into 0-100 scores (without it the score is the cosine);
    photos found by meaning alone that score under ``min_score`` are left out, while a
    photo whose words match is kept whatever the model thinks of it.
    """
    if k <= 0:
        raise UsageError("the number of results must be at least 1")
    allowed = None
    if filters.active:
        allowed = catalog.filtered_ids(model_id, **filters.where())
        if len(allowed) == 0:
            return Hits()
        moments = catalog.frame_keys_among(model_id, allowed)  # the allowed videos' moments
        if len(moments):
            allowed = np.concatenate([allowed, moments])
    depth = k if words is None else max(k, FUSION_DEPTH)
    ranked = _ranked(index, query, depth, allowed=allowed, exclude=exclude)
    if words is None:
        wanted: list[tuple[int, float, Match]] = [(key, s, "meaning") for key, s in ranked[:k]]
    else:
        wanted = _fuse(catalog, model_id, query, ranked, words, k=k, depth=depth,
                       filters=filters, exclude=exclude)
    hits = Hits()
    kept = []
    cosines = [cosine for _, cosine, _ in wanted]
    scores = np.round(scale.score(cosines), 1) if scale is not None else np.round(cosines, 4)
    for (key, cosine, match), score in zip(wanted, scores.tolist(), strict=True):
        if match == "meaning" and score < min_score:
            hits.hidden += 1
            hits.best_hidden = max(score, hits.best_hidden or score)
            continue
        kept.append((key, cosine, score, match))
    details = catalog.photo_details([key for key, _, _, _ in kept])
    words_found = _matched_words(catalog, [key for key, _, _, m in kept if m != "meaning"],
                                 text)
    videos = catalog.videos_among([key for key, _, _, _ in kept])
    best = best_moments(catalog, model_id, query, list(videos))
    part_cosines = _part_cosines(catalog, model_id, [key for key, _, _, _ in kept], parts,
                                 {key: vector for key, (_, _, vector) in best.items()})
    for key, cosine, score, match in kept:
        row = details.get(key)
        if row is None:  # the index is a cache: a photo removed since it was saved
            continue
        found = tuple(words_found.get(key, {}))
        why = {"meaning": {"similarity": round(cosine, 4), "score": score},
               "parts": part_cosines.get(key, {}), "words": words_found.get(key, {})}
        # Text read in the photo, or its place, is named: the user wonders where it came from
        if "text" in found:
            match = "text"
        elif "place" in found:
            match = "place"
        position = (row["lat"], row["lon"]) if row["lat"] is not None else None
        moment = best.get(key)
        hits.append(SearchHit(photo_id=key, path=row["path"], score=score,
                              similarity=round(cosine, 4), taken_at=row["taken_at"],
                              date=row["date"],
                              date_source="exif" if row["taken_at"] else "file",
                              width=row["width"], height=row["height"], match=match,
                              fields=found, place=row["place"], position=position,
                              kind="video" if key in videos else "photo",
                              time_s=moment[0] if moment is not None else
                              (0.0 if key in videos else None),
                              duration_s=videos.get(key), why=why))
    return hits


def _ranked(index: AnyIndex, query: Vector, depth: int, *, allowed: np.ndarray | None,
            exclude: frozenset[int]) -> list[tuple[int, float]]:
    """The ``depth`` best photos and videos as ``(id, cosine)``, best first: a video at
    its best key (a moment, or its poster), once. The index is asked again for more while
    the moments of a few videos fill the list."""
    asked = depth + len(exclude)
    while True:
        keys, scores = index.search(query, asked, allowed=allowed)
        ranked: dict[int, float] = {}
        for key, score in zip(keys.tolist(), scores.tolist(), strict=True):
            photo = photo_of(int(key))
            if photo not in exclude and photo not in ranked:
                ranked[photo] = float(score)
        if len(ranked) >= depth or len(keys) < asked:
            return list(ranked.items())[:depth]
        asked = 2 * asked + depth - len(ranked)


def best_moments(catalog: Catalog, model_id: int, query: Vector,
                 ids: list[int]) -> dict[int, tuple[float, float, Vector]]:
    """Each video's moment nearest the query: ``(time_s, cosine, vector)`` by id (videos
    without moments for the model are left out)."""
    if not ids:
        return {}
    out: dict[int, tuple[float, float, Vector]] = {}
    for key, (times, vectors) in catalog.moments_of(ids, model_id,
                                                    int(query.shape[-1])).items():
        cosines = vectors @ query
        best = int(np.argmax(cosines))
        out[key] = float(times[best]), float(cosines[best]), vectors[best]
    return out



def _matched_words(catalog: Catalog, ids: list[int], text: str) -> dict[int, dict[str, list[str]]]:
    """Which word columns of each photo hold words of the query's ``text``, and which."""
    if not ids or not text:
        return {}
    rows = catalog.word_rows(ids)
    return {key: keywords.matched_words(row, text) for key, row in rows.items()}


def _part_cosines(catalog: Catalog, model_id: int, ids: list[int],
                  parts: dict[str, Vector] | None,
                  moments: dict[int, Vector]) -> dict[int, dict[str, float]]:
    """Each photo's cosine with each part of a composed query (one read of their vectors;
    a video's ``moments`` vector, its best moment's, where given)."""
    if not parts or not ids:
        return {}
    dim = int(next(iter(parts.values())).shape[-1])
    vectors = {**catalog.vectors_of(ids, model_id, dim), **moments}
    return {key: {name: round(float(np.dot(vector, part)), 4) for name, part in parts.items()}
            for key, vector in vectors.items()}


RRF_K = 60
"""Reciprocal-rank fusion's constant: how gently a lower rank loses weight."""
FUSION_DEPTH = 100
"""How far down each ranking fusion looks."""

Match = Literal["meaning", "words", "both", "text", "place"]


def _fuse(
    catalog: Catalog,
    model_id: int,
    query: Vector,
    ranked: list[tuple[int, float]],
    words: str,
    *,
    k: int,
    depth: int,
    filters: Filters,
    exclude: frozenset[int],
) -> list[tuple[int, float, Match]]:
    """``(id, cosine, match)`` of the ``k`` best by reciprocal-rank fusion."""
    matched = [i for i in catalog.word_matches(words, model_id, limit=depth + len(exclude),
                                               **filters.where())
               if i not in exclude][:depth]
    cosine = dict(ranked)
    fused = {key: 1.0 / (RRF_K + rank) for rank, (key, _) in enumerate(ranked, 1)}
    for rank, key in enumerate(matched, 1):
        fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
    # Found by words only: their cosine still tells how close they are (one query).
    by_words_only = [key for key in matched if key not in cosine]
    vectors = catalog.vectors_of(by_words_only, model_id, int(query.shape[-1]))
    moments = best_moments(catalog, model_id, query, list(catalog.videos_among(by_words_only)))
    for key in by_words_only:
        vector = vectors.get(key)
        cosine[key] = float(np.dot(vector, query)) if vector is not None else 0.0
        if key in moments:  # a video: by its best moment, as the vector search scores it
            cosine[key] = max(cosine[key], moments[key][1])
    by_words = set(matched)
    by_meaning = {key for key, _ in ranked}
    best = sorted(fused, key=lambda key: (-fused[key], key not in by_words, -cosine[key]))
    out: list[tuple[int, float, Match]] = []
    for key in best[:k]:
        match: Match = ("both" if key in by_meaning else "words") if key in by_words \
            else "meaning"
        out.append((key, cosine[key], match))
    return out
