"""The catalog's photo vectors (one per photo and model, float16) and the automatic tags
a model's vectors gave each photo.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import sqlite_utils

from core.store.catalog_models import next_seq
from core.types import Vector
from core.words import keywords


def vector_to_blob(vector: Vector) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def blob_to_vectors(blobs: Sequence[bytes], dim: int) -> Vector:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)


# -- which photos have vectors -------------------------------------------------------------


def ids_with_embedding(db: sqlite_utils.Database, model_id: int) -> set[int]:
    rows = db.execute("SELECT photo_id FROM embeddings WHERE model_id = ?", [model_id])
    return {int(r[0]) for r in rows}


def embedding_count(db: sqlite_utils.Database, model_id: int) -> int:
    """How many photos have a vector of the model."""
    return int(db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?",
                          [model_id]).fetchone()[0])


def find_embedded_by_hash(db: sqlite_utils.Database, content_hash: str,
                          model_id: int) -> int | None:
    """A photo with this content that already has a vector for the model."""
    row = db.execute(
        "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id "
        "WHERE p.content_hash = ? AND e.model_id = ? LIMIT 1",
        [content_hash, model_id],
    ).fetchone()
    return None if row is None else int(row[0])


def copy_embeddings(db: sqlite_utils.Database, source_id: int, target_id: int) -> None:
    """Give ``target`` the vectors of ``source`` (same content, another path)."""
    for model_id, blob in db.execute(
        "SELECT model_id, vector FROM embeddings WHERE photo_id = ?", [source_id]
    ).fetchall():
        db.execute(
            "INSERT OR REPLACE INTO embeddings(photo_id, model_id, vector, seq) "
            "VALUES (?, ?, ?, ?)",
            [target_id, model_id, blob, next_seq(db, int(model_id))],
        )


# -- reading vectors -----------------------------------------------------------------------


def iter_vectors(db: sqlite_utils.Database, model_id: int, dim: int, *, since_seq: int = 0,
                 chunk: int = 4096) -> Iterator[tuple[np.ndarray, Vector]]:
    """``(ids, vectors)`` chunks of a model's embeddings changed after ``since_seq``."""
    cursor = db.execute(
        "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND seq > ? "
        "ORDER BY photo_id",
        [model_id, since_seq],
    )
    while rows := cursor.fetchmany(chunk):
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, blob_to_vectors([r[1] for r in rows], dim)


def vectors_by_id(db: sqlite_utils.Database, model_id: int, dim: int, ids: Iterable[int], *,
                  chunk: int = 500) -> Iterator[tuple[np.ndarray, Vector]]:
    """``(ids, vectors)`` chunks of the model's embeddings of these photos (those that
    have one)."""
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        rows = db.execute(
            f"SELECT photo_id, vector FROM embeddings WHERE model_id = ? "
            f"AND photo_id IN ({','.join('?' * len(part))}) ORDER BY photo_id",
            [model_id, *part]).fetchall()
        if rows:
            found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield found, blob_to_vectors([r[1] for r in rows], dim)


def vector_of(db: sqlite_utils.Database, photo_id: int, model_id: int,
              dim: int) -> Vector | None:
    row = db.execute(
        "SELECT vector FROM embeddings WHERE photo_id = ? AND model_id = ?",
        [photo_id, model_id],
    ).fetchone()
    return None if row is None else blob_to_vectors([row[0]], dim)[0]


def vectors_of(db: sqlite_utils.Database, ids: Sequence[int], model_id: int,
               dim: int) -> dict[int, Vector]:
    """The model's vectors of these photos (those that have one), keyed by id."""
    out: dict[int, Vector] = {}
    for start in range(0, len(ids), 500):
        chunk = [int(i) for i in ids[start : start + 500]]
        rows = db.execute(
            "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND photo_id IN "
            f"({','.join('?' * len(chunk))})", [model_id, *chunk]).fetchall()
        if rows:
            vectors = blob_to_vectors([r[1] for r in rows], dim)
            out.update({int(r[0]): v for r, v in zip(rows, vectors, strict=True)})
    return out


def sample_vectors(db: sqlite_utils.Database, model_id: int, dim: int, n: int) -> Vector:
    """Up to ``n`` of the model's vectors, picked at random (for calibration)."""
    rows = db.execute(
        "SELECT vector FROM embeddings WHERE model_id = ? ORDER BY random() LIMIT ?",
        [model_id, n]).fetchall()
    return blob_to_vectors([r[0] for r in rows], dim)


# -- automatic tags ------------------------------------------------------------------------


def iter_untagged(db: sqlite_utils.Database, model_id: int, dim: int, *,
                  chunk: int = 2048) -> Iterator[tuple[np.ndarray, Vector]]:
    """``(ids, vectors)`` of the model's photos that have no tags for it yet."""
    last = -1
    while True:
        rows = db.execute(
            "SELECT e.photo_id, e.vector FROM embeddings e LEFT JOIN photo_tags t "
            "ON t.photo_id = e.photo_id AND t.model_id = e.model_id "
            "WHERE e.model_id = ? AND t.photo_id IS NULL AND e.photo_id > ? "
            "ORDER BY e.photo_id LIMIT ?", [model_id, last, chunk]).fetchall()
        if not rows:
            return
        last = int(rows[-1][0])
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, blob_to_vectors([r[1] for r in rows], dim)


def count_untagged(db: sqlite_utils.Database, model_id: int) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM embeddings e LEFT JOIN photo_tags t "
        "ON t.photo_id = e.photo_id AND t.model_id = e.model_id "
        "WHERE e.model_id = ? AND t.photo_id IS NULL", [model_id]).fetchone()
    return int(row[0])


def write_tags(db: sqlite_utils.Database, model_id: int,
               rows: Sequence[tuple[int, list[tuple[str, float]], str]]) -> None:
    """Store ``(photo id, [(tag, score)...], words for the full-text table)`` rows; a photo
    deleted meanwhile is skipped."""
    for photo_id, tags, words in rows:
        cursor = db.execute(
            "INSERT OR REPLACE INTO photo_tags(photo_id, model_id, tags) "
            "SELECT id, ?, ? FROM photos WHERE id = ?",
            [model_id, json.dumps(tags, ensure_ascii=False), photo_id])
        if cursor.rowcount:
            keywords.write_tags(db, photo_id, words)


def clear_tags(db: sqlite_utils.Database, model_id: int) -> None:
    """Forget a model's tags (its tag vocabulary or calibration changed)."""
    db.execute("DELETE FROM photo_tags WHERE model_id = ?", [model_id])


def tags_of(db: sqlite_utils.Database, photo_id: int,
            model_id: int) -> list[tuple[str, float]] | None:
    """A photo's stored tags for the model, best first (None: not tagged yet)."""
    row = db.execute("SELECT tags FROM photo_tags WHERE photo_id = ? AND model_id = ?",
                     [photo_id, model_id]).fetchone()
    return None if row is None else [(str(t), float(s)) for t, s in json.loads(row[0])]
