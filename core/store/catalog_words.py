"""The catalog's side of full-text search: each photo's row of words (core.words.keywords
splits the text) kept in step with its path, root and own words, and the queries that
filter photos by folder, date and words.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from core.store.catalog_copies import with_carried
from core.store.catalog_failures import STATUS_OK
from core.store.stored_paths import from_db, to_db
from core.words import keywords


def write_photo_words(db: sqlite_utils.Database, photo_id: int, path: str, root_id: int,
                      user_words: str | None = None, sidecars: str | None = None) -> None:
    """Keep the photo's row in the full-text table in step with its path and root, and
    with its own words and their sidecars' signature when given."""
    row = db.execute("SELECT path FROM roots WHERE id = ?", [root_id]).fetchone()
    keywords.write_words(db, photo_id, path, None if row is None else from_db(row[0]))
    if user_words is not None:
        keywords.write_user_words(db, photo_id, with_carried(db, photo_id, user_words))
    if sidecars is not None:
        db.execute("UPDATE photos SET sidecars = ? WHERE id = ?", [sidecars, photo_id])


def set_user_words(db: sqlite_utils.Database, rows: Iterable[tuple[int, str, str]]) -> None:
    """Store ``(photo id, own words, sidecar signature)`` rows re-read after a sidecar
    changed; the photos' vectors and tags stay."""
    for photo_id, words, sidecars in rows:
        keywords.write_user_words(db, photo_id, with_carried(db, photo_id, words))
        db.execute("UPDATE photos SET sidecars = ? WHERE id = ?", [sidecars, photo_id])


# -- queries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """Filters of a query (None: no restriction): a folder (absolute path), dates (ISO;
    ``after`` inclusive, ``before`` exclusive), ``place`` (an FTS5 expression on the place
    words) and ``near`` (``lat, lon, km``)."""

    folder: str | None = None
    after: str | None = None
    before: str | None = None
    place: str | None = None
    near: tuple[float, float, float] | None = None
    place_label: str | None = None  # the photos.place column, exactly


def filtered_ids(db: sqlite_utils.Database, model_id: int,
                 filters: Where = Where()) -> np.ndarray:
    """Ids with a vector for the model that pass the filters."""
    where, params = _filter_where(model_id, filters)
    rows = db.execute(
        "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id "
        f"WHERE {' AND '.join(where)}",
        params,
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def word_matches(db: sqlite_utils.Database, match: str, model_id: int, *, limit: int,
                 where: Where = Where()) -> list[int]:
    """Ids whose words match an FTS5 expression (:func:`keywords.match_expression`),
    best first (bm25), among photos with a vector for the model that pass the filters."""
    where_sql, params = _filter_where(model_id, where)
    rows = db.execute(
        f"SELECT p.id FROM {keywords.TABLE} w JOIN photos p ON p.id = w.rowid "
        "JOIN embeddings e ON e.photo_id = p.id "
        f"WHERE {keywords.TABLE} MATCH ? AND {' AND '.join(where_sql)} "
        f"ORDER BY {keywords.BM25}, p.id LIMIT ?",
        [match, *params, limit],
    ).fetchall()
    return [int(r[0]) for r in rows]


def photos_with_words(db: sqlite_utils.Database, phrase: str) -> list[str]:
    """Paths of readable photos whose own words (keywords, titles, captions, sidecars)
    hold ``phrase`` as a phrase (case, accents and punctuation ignored)."""
    match = keywords.phrase_expression(phrase, "words")
    if match is None:
        return []
    rows = db.execute(
        f"SELECT p.path FROM {keywords.TABLE} w JOIN photos p ON p.id = w.rowid "
        f"WHERE {keywords.TABLE} MATCH ? AND p.status = ? ORDER BY p.path",
        [match, STATUS_OK],
    ).fetchall()
    return [from_db(r[0]) for r in rows]


def word_rows(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """The full-text rows of photos (each column's words as stored), keyed by id."""
    out: dict[int, dict[str, str]] = {}
    columns = ", ".join(keywords.COLUMNS)
    for start in range(0, len(ids), 500):
        chunk = [int(i) for i in ids[start : start + 500]]
        for row in db.execute(f"SELECT rowid, {columns} FROM {keywords.TABLE} "
                              f"WHERE rowid IN ({','.join('?' * len(chunk))})", chunk):
            out[int(row[0])] = dict(zip(keywords.COLUMNS, (v or "" for v in row[1:]),
                                        strict=True))
    return out


def has_place_words(db: sqlite_utils.Database, match: str) -> bool:
    """Whether some photo's place words match an FTS5 expression."""
    return db.execute(f"SELECT 1 FROM {keywords.TABLE} WHERE {keywords.TABLE} MATCH ? "
                      "LIMIT 1", [f"place : ({match})"]).fetchone() is not None


_KM_PER_DEGREE = 111.195  # on a sphere of the Earth's mean radius


def _filter_where(model_id: int, filters: Where) -> tuple[list[str], list[Any]]:
    where = ["e.model_id = ?"]
    params: list[Any] = [model_id]
    if filters.folder is not None:
        # A prefix range instead of LIKE: paths may hold % and _ characters.
        prefix = filters.folder.rstrip("/\\") + "/"
        where.append("p.path >= ? AND p.path < ?")
        params += [to_db(prefix), to_db(prefix[:-1] + chr(ord("/") + 1))]
    if filters.after is not None:
        where.append("p.date >= ?")
        params.append(filters.after)
    if filters.before is not None:
        where.append("p.date < ?")
        params.append(filters.before)
    if filters.place is not None:
        where.append(f"p.id IN (SELECT rowid FROM {keywords.TABLE} "
                     f"WHERE {keywords.TABLE} MATCH ?)")
        params.append(f"place : ({filters.place})")
    if filters.place_label is not None:
        where.append("p.place = ?")
        params.append(filters.place_label)
    if filters.near is not None:
        # Flat-Earth distance around the point: exact enough within a few hundred km.
        lat, lon, km = filters.near
        squeeze = max(math.cos(math.radians(lat)), 1e-6)
        where.append("p.lat IS NOT NULL AND "
                     "((p.lat - ?) * (p.lat - ?) + (p.lon - ?) * (p.lon - ?) * ?) <= ?")
        params += [lat, lat, lon, lon, squeeze * squeeze, (km / _KM_PER_DEGREE) ** 2]
    return where, params
