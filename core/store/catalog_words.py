"""The catalog's side of full-text search: each photo's row of words (core.words.keywords
splits the text) kept in step with its path, root and own words, and the queries that
filter photos by folder, date and words.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import sqlite_utils

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
        keywords.write_user_words(db, photo_id, user_words)
    if sidecars is not None:
        db.execute("UPDATE photos SET sidecars = ? WHERE id = ?", [sidecars, photo_id])


def set_user_words(db: sqlite_utils.Database, rows: Iterable[tuple[int, str, str]]) -> None:
    """Store ``(photo id, own words, sidecar signature)`` rows re-read after a sidecar
    changed; the photos' vectors and tags stay."""
    for photo_id, words, sidecars in rows:
        keywords.write_user_words(db, photo_id, words)
        db.execute("UPDATE photos SET sidecars = ? WHERE id = ?", [sidecars, photo_id])


# -- queries -------------------------------------------------------------------------------


def filtered_ids(db: sqlite_utils.Database, model_id: int, *, folder: str | None = None,
                 after: str | None = None, before: str | None = None) -> np.ndarray:
    """Ids with a vector for the model that pass the folder and date filters."""
    where, params = _filter_where(model_id, folder=folder, after=after, before=before)
    rows = db.execute(
        "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id "
        f"WHERE {' AND '.join(where)}",
        params,
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def word_matches(db: sqlite_utils.Database, match: str, model_id: int, *, limit: int,
                 folder: str | None = None, after: str | None = None,
                 before: str | None = None) -> list[int]:
    """Ids whose words match an FTS5 expression (:func:`keywords.match_expression`),
    best first (bm25), among photos with a vector for the model that pass the filters."""
    where, params = _filter_where(model_id, folder=folder, after=after, before=before)
    rows = db.execute(
        f"SELECT p.id FROM {keywords.TABLE} w JOIN photos p ON p.id = w.rowid "
        "JOIN embeddings e ON e.photo_id = p.id "
        f"WHERE {keywords.TABLE} MATCH ? AND {' AND '.join(where)} "
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


def _filter_where(model_id: int, *, folder: str | None, after: str | None,
                  before: str | None) -> tuple[list[str], list[Any]]:
    where = ["e.model_id = ?"]
    params: list[Any] = [model_id]
    if folder is not None:
        # A prefix range instead of LIKE: paths may hold % and _ characters.
        prefix = folder.rstrip("/\\") + "/"
        where.append("p.path >= ? AND p.path < ?")
        params += [to_db(prefix), to_db(prefix[:-1] + chr(ord("/") + 1))]
    if after is not None:
        where.append("p.date >= ?")
        params.append(after)
    if before is not None:
        where.append("p.date < ?")
        params.append(before)
    return where, params
