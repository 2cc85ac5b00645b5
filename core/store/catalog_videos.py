"""The catalog's videos: a video is a row of ``photos`` (``kind`` 'video', its length in
``duration_s``) whose poster vector sits in ``embeddings`` like a photo's, so that
everything made for photos (tags, calibration, filters, similar, copies) works on it; and
each of its moments has a vector of its own in ``video_frames``, with its time.

In a model's search index a moment's key is :func:`frame_key`: the video's photo id plus
``(frame + 1) << 40``. Photo ids are SQLite rowids, far below 2**40, so a key tells at once
whether it is a photo (or a video's poster) or a moment, and of which video
(:func:`photo_of`).

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import sqlite_utils

from core.store.catalog_models import max_seq
from core.store.catalog_photos import PhotoFacts, write_batch
from core.store.catalog_vectors import blob_to_vectors, vector_to_blob
from core.store.stored_paths import to_db
from core.types import Vector

FRAME_SHIFT: Final = 40
"""A moment's key is its video's id plus ``(frame + 1) << FRAME_SHIFT``."""
PHOTO_MASK: Final = (1 << FRAME_SHIFT) - 1
KIND_PHOTO: Final = "photo"
KIND_VIDEO: Final = "video"
_CHUNK: Final = 500  # ids per IN (...) list: under SQLite's variable limit
_KEY_SQL: Final = f"photo_id + ((frame + 1) << {FRAME_SHIFT})"

Moments = tuple[npt.NDArray[np.float64], Vector]
"""A video's moments for one model: their times (seconds) and vectors, in frame order."""


def frame_key(photo_id: int, frame: int) -> int:
    """The search index's key of moment ``frame`` (from 0) of video ``photo_id``."""
    return photo_id + ((frame + 1) << FRAME_SHIFT)


def photo_of(key: int) -> int:
    """The photo (or video) a search index key belongs to."""
    return key & PHOTO_MASK


def frame_of(key: int) -> int | None:
    """The moment a key stands for (None: a photo's or a video's poster key)."""
    frame = (key >> FRAME_SHIFT) - 1
    return None if frame < 0 else frame


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start:start + _CHUNK]


# -- writing -------------------------------------------------------------------------------


def write_video(db: sqlite_utils.Database, fact: PhotoFacts, *, duration_s: float | None,
                poster: Vector | None, moments: Sequence[tuple[float, Vector]],
                model_id: int) -> tuple[int, list[int]]:
    """Insert or update a video's row, its poster vector and its moments for the model;
    returns its id and the index keys of moments it no longer has (to drop from an open
    index). A failed video (``fact.error``) keeps no poster and no moments; a video whose
    content changed loses every model's."""
    before = db.execute("SELECT id, content_hash FROM photos WHERE path = ?",
                        [to_db(fact.path)]).fetchone()
    old = [] if before is None else [int(r[0]) for r in db.execute(
        "SELECT frame FROM video_frames WHERE photo_id = ? AND model_id = ?",
        [int(before[0]), model_id])]
    photo_id = write_batch(db, [fact], [poster], model_id)[0]
    if fact.error or (before is not None and before[1] != fact.content_hash):
        db.execute("DELETE FROM video_frames WHERE photo_id = ?", [photo_id])
    else:
        db.execute("DELETE FROM video_frames WHERE photo_id = ? AND model_id = ?",
                   [photo_id, model_id])
    db.execute("UPDATE photos SET kind = ?, duration_s = ? WHERE id = ?",
               [KIND_VIDEO, duration_s, photo_id])
    kept = [] if fact.error else moments
    seq = max_seq(db, model_id)  # the change write_batch just counted
    db.conn.executemany(
        "INSERT INTO video_frames(photo_id, model_id, frame, time_s, vector, seq) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(photo_id, model_id, frame, float(time_s), vector_to_blob(vector), seq)
         for frame, (time_s, vector) in enumerate(kept)])
    return photo_id, [frame_key(photo_id, frame) for frame in old if frame >= len(kept)]


# -- the search index's keys ------------------------------------------------------------------


def iter_frame_vectors(db: sqlite_utils.Database, model_id: int, dim: int, *,
                       since_seq: int = 0,
                       chunk: int = 4096) -> Iterator[tuple[npt.NDArray[np.int64], Vector]]:
    """``(keys, vectors)`` chunks of a model's moments changed after ``since_seq``."""
    cursor = db.execute(
        f"SELECT {_KEY_SQL}, vector FROM video_frames WHERE model_id = ? AND seq > ? "
        "ORDER BY photo_id, frame", [model_id, since_seq])
    while rows := cursor.fetchmany(chunk):
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield keys, blob_to_vectors([r[1] for r in rows], dim)


def frame_count(db: sqlite_utils.Database, model_id: int) -> int:
    return int(db.execute("SELECT COUNT(*) FROM video_frames WHERE model_id = ?",
                          [model_id]).fetchone()[0])


def frame_keys(db: sqlite_utils.Database, model_id: int) -> set[int]:
    """The index keys of every moment of the model."""
    rows = db.execute(f"SELECT {_KEY_SQL} FROM video_frames WHERE model_id = ?", [model_id])
    return {int(r[0]) for r in rows}


def frame_vectors_by_key(db: sqlite_utils.Database, model_id: int, dim: int,
                         keys: Iterable[int]) -> Iterator[tuple[npt.NDArray[np.int64], Vector]]:
    """``(keys, vectors)`` chunks of these moments (those that still exist)."""
    for chunk in _chunks(keys):
        pairs = [(photo_of(k), frame_of(k)) for k in chunk]
        where = " OR ".join("(photo_id = ? AND frame = ?)" for _ in pairs)
        rows = db.execute(
            f"SELECT {_KEY_SQL}, vector FROM video_frames WHERE model_id = ? AND ({where})",
            [model_id, *(v for pair in pairs for v in pair)]).fetchall()
        if rows:
            found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield found, blob_to_vectors([r[1] for r in rows], dim)


def frame_keys_among(db: sqlite_utils.Database, model_id: int,
                     ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The moments' keys of the videos among ``ids`` (a filter's allowed photos)."""
    videos = np.fromiter((int(r[0]) for r in db.execute(
        "SELECT DISTINCT photo_id FROM video_frames WHERE model_id = ?", [model_id])),
        dtype=np.int64)
    wanted = np.intersect1d(videos, np.asarray(ids, dtype=np.int64))
    keys: list[int] = []
    for chunk in _chunks(wanted.tolist()):
        keys += [int(r[0]) for r in db.execute(
            f"SELECT {_KEY_SQL} FROM video_frames WHERE model_id = ? AND photo_id IN "
            f"({','.join('?' * len(chunk))})", [model_id, *chunk])]
    return np.asarray(keys, dtype=np.int64)


# -- reading videos ------------------------------------------------------------------------


def moments_of(db: sqlite_utils.Database, ids: Iterable[int], model_id: int,
               dim: int) -> dict[int, Moments]:
    """The model's moments of these videos (those that have some), keyed by id."""
    out: dict[int, Moments] = {}
    for chunk in _chunks(ids):
        rows = db.execute(
            "SELECT photo_id, time_s, vector FROM video_frames WHERE model_id = ? AND "
            f"photo_id IN ({','.join('?' * len(chunk))}) ORDER BY photo_id, frame",
            [model_id, *chunk]).fetchall()
        by_video: dict[int, list[tuple[float, bytes]]] = {}
        for photo_id, time_s, blob in rows:
            by_video.setdefault(int(photo_id), []).append((float(time_s), blob))
        for photo_id, found in by_video.items():
            times = np.asarray([t for t, _ in found], dtype=np.float64)
            out[photo_id] = times, blob_to_vectors([b for _, b in found], dim)
    return out


def videos_among(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, float | None]:
    """The videos among these photos, with their length in seconds (None: unknown)."""
    out: dict[int, float | None] = {}
    for chunk in _chunks(ids):
        for photo_id, duration in db.execute(
                f"SELECT id, duration_s FROM photos WHERE kind = ? AND id IN "
                f"({','.join('?' * len(chunk))})", [KIND_VIDEO, *chunk]):
            out[int(photo_id)] = None if duration is None else float(duration)
    return out


def video_count(db: sqlite_utils.Database) -> tuple[int, int]:
    """``(videos, of which failed)``."""
    row = db.execute("SELECT COUNT(*), COALESCE(SUM(status != 'ok'), 0) FROM photos "
                     "WHERE kind = ?", [KIND_VIDEO]).fetchone()
    return int(row[0]), int(row[1])
