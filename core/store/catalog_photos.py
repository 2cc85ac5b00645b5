"""The catalog's roots and photos: the folders a library covers, and one row per file with
what the indexer learned of it, written in batches with its vectors, moved, forgotten.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from core.store.catalog_copies import forget_print, write_prints
from core.store.catalog_failures import STATUS_FAILED, STATUS_OK
from core.store.catalog_models import all_changed, next_seq
from core.store.catalog_text import PlaceFacts, forget_text, set_place
from core.store.catalog_vectors import vector_to_blob
from core.store.catalog_words import write_photo_words
from core.store.stored_paths import from_db, to_db
from core.types import Vector


@dataclass(frozen=True, slots=True)
class PhotoRow:
    """The catalog's view of one file, as the scanner needs it to diff."""

    id: int
    root_id: int
    path: str
    size: int
    mtime: float
    content_hash: str | None
    status: str
    sidecars: str = ""  # core.words.sidecars.signature when the photo's words were last read


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """Everything the indexer learned about one file, ready to be written."""

    path: str
    root_id: int
    size: int
    mtime: float
    content_hash: str | None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    taken_at: str | None = None
    camera: str | None = None
    error: str | None = None  # set: the file failed to decode and has no vector
    user_words: str | None = None  # the file's own titles/captions/keywords (None: keep)
    sidecars: str | None = None  # the signature of the sidecars read for them (None: keep)
    place: PlaceFacts | None = None  # where it was taken (its GPS position), if it says
    picture_print: bytes | None = None  # core.photos.likeness.picture_print of its pixels


_ROW = "SELECT id, root_id, path, size, mtime, content_hash, status, sidecars FROM photos"


def _photo_row(r: Sequence[Any]) -> PhotoRow:
    """A PhotoRow from a :data:`_ROW` query."""
    return PhotoRow(int(r[0]), int(r[1]), from_db(str(r[2])), int(r[3]), float(r[4]), r[5],
                    str(r[6]), str(r[7]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- roots ---------------------------------------------------------------------------------


def add_root(db: sqlite_utils.Database, path: str) -> int:
    db.execute("INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)",
               [to_db(path), _now()])
    row = db.execute("SELECT id FROM roots WHERE path = ?", [to_db(path)]).fetchone()
    return int(row[0])


def roots(db: sqlite_utils.Database) -> list[tuple[int, str]]:
    rows = db.execute("SELECT id, path FROM roots ORDER BY path").fetchall()
    return [(int(r[0]), from_db(str(r[1]))) for r in rows]


def absorb_root(db: sqlite_utils.Database, inner_id: int, outer_id: int) -> None:
    """Move the photos of a root into a root that contains it, and drop the inner one."""
    db.execute("UPDATE photos SET root_id = ? WHERE root_id = ?", [outer_id, inner_id])
    for photo_id, path in db.execute(  # folder words count from the new root
            "SELECT id, path FROM photos WHERE root_id = ?", [outer_id]).fetchall():
        write_photo_words(db, int(photo_id), from_db(str(path)), outer_id)
    db.execute("DELETE FROM roots WHERE id = ?", [inner_id])


def remove_root(db: sqlite_utils.Database, root_id: int) -> int:
    """Forget a root and its photos' records and vectors (never their files)."""
    all_changed(db)  # vector indexes must resync
    cursor = db.execute("DELETE FROM photos WHERE root_id = ?", [root_id])
    db.execute("DELETE FROM roots WHERE id = ?", [root_id])
    return int(cursor.rowcount or 0)


def root_of(db: sqlite_utils.Database, photo_id: int) -> str | None:
    row = db.execute("SELECT r.path FROM photos p JOIN roots r ON r.id = p.root_id "
                     "WHERE p.id = ?", [photo_id]).fetchone()
    return None if row is None else from_db(str(row[0]))


# -- reading photos ------------------------------------------------------------------------


def photos_under(db: sqlite_utils.Database, root_ids: Iterable[int]) -> dict[str, PhotoRow]:
    ids = list(root_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"{_ROW} WHERE root_id IN ({marks})", ids).fetchall()
    return {row.path: row for row in map(_photo_row, rows)}


def photos_at_or_under(db: sqlite_utils.Database, path: str) -> dict[str, PhotoRow]:
    """Rows for the file ``path`` or for every photo in the folder ``path``."""
    prefix = path.rstrip("/\\") + "/"
    rows = db.execute(
        f"{_ROW} WHERE path = ? OR (path >= ? AND path < ?)",
        [to_db(path), to_db(prefix), to_db(prefix[:-1] + chr(ord("/") + 1))],
    ).fetchall()
    return {row.path: row for row in map(_photo_row, rows)}


def photo_by_path(db: sqlite_utils.Database, path: str) -> PhotoRow | None:
    row = db.execute(f"{_ROW} WHERE path = ?", [to_db(path)]).fetchone()
    return None if row is None else _photo_row(row)


def photo_details(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Rows for result display, keyed by id (chunked under SQLite's variable limit)."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = [int(i) for i in ids[start : start + 500]]
        marks = ",".join("?" * len(chunk))
        for row in db.query(
            "SELECT id, path, taken_at, date, width, height, camera, lat, lon, place "
            "FROM photos "
            f"WHERE id IN ({marks})",
            chunk,
        ):
            row["path"] = from_db(row["path"])
            out[int(row["id"])] = row
    return out


# -- writing photos ------------------------------------------------------------------------


def write_batch(db: sqlite_utils.Database, facts: Sequence[PhotoFacts],
                vectors: Sequence[Vector | None], model_id: int) -> list[int]:
    """Insert or update the photos and their vectors; returns ids.

    A file whose content changed loses the vectors of its old content for every model;
    a fact with ``error`` set marks the photo failed, with no vector.
    """
    ids: list[int] = []
    now = _now()
    seq = next_seq(db, model_id)
    for fact, vector in zip(facts, vectors, strict=True):
        photo_id, content_changed = _upsert_photo(db, fact, now)
        ids.append(photo_id)
        if not fact.error:
            set_place(db, photo_id, fact.place)
        if content_changed or fact.error:
            forget_text(db, photo_id)
            forget_print(db, photo_id)
            db.execute("UPDATE models SET seq = seq + 1 WHERE id != ?", [model_id])
            db.execute("DELETE FROM embeddings WHERE photo_id = ?", [photo_id])
            db.execute("DELETE FROM photo_tags WHERE photo_id = ?", [photo_id])
        else:
            db.execute("DELETE FROM embeddings WHERE photo_id = ? AND model_id = ?",
                       [photo_id, model_id])
            db.execute("DELETE FROM photo_tags WHERE photo_id = ? AND model_id = ?",
                       [photo_id, model_id])
        if fact.picture_print is not None and not fact.error:
            write_prints(db, [(photo_id, fact.picture_print)])
        if vector is not None:
            db.execute(
                "INSERT INTO embeddings(photo_id, model_id, vector, seq) VALUES (?, ?, ?, ?)",
                [photo_id, model_id, vector_to_blob(vector), seq],
            )
    return ids


def _upsert_photo(db: sqlite_utils.Database, fact: PhotoFacts, now: str) -> tuple[int, bool]:
    """Insert or update a photo row: ``(id, whether its content changed)``."""
    status = STATUS_FAILED if fact.error else STATUS_OK
    date = fact.taken_at or datetime.fromtimestamp(fact.mtime, UTC).isoformat(
        timespec="seconds"
    )
    values = [fact.root_id, fact.size, fact.mtime, fact.content_hash, fact.width,
              fact.height, fact.format, fact.taken_at, fact.camera, date, status,
              fact.error, now]
    row = db.execute(
        "SELECT id, content_hash FROM photos WHERE path = ?", [to_db(fact.path)]
    ).fetchone()
    if row is not None:
        db.execute(
            "UPDATE photos SET root_id=?, size=?, mtime=?, content_hash=?, width=?, "
            "height=?, format=?, taken_at=?, camera=?, date=?, status=?, error=?, "
            "updated_at=? WHERE id = ?",
            [*values, int(row[0])],
        )
        write_photo_words(db, int(row[0]), fact.path, fact.root_id, fact.user_words,
                          fact.sidecars)
        return int(row[0]), row[1] != fact.content_hash
    cursor = db.execute(
        "INSERT INTO photos(root_id, size, mtime, content_hash, width, height, format, "
        "taken_at, camera, date, status, error, updated_at, path, added_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [*values, to_db(fact.path), now],
    )
    write_photo_words(db, int(cursor.lastrowid or 0), fact.path, fact.root_id,
                      fact.user_words, fact.sidecars)
    return int(cursor.lastrowid or 0), False


def move_photo(db: sqlite_utils.Database, photo_id: int, *, path: str, root_id: int,
               size: int, mtime: float, user_words: str | None = None,
               sidecars: str | None = None) -> None:
    """A file that moved keeps its row and its vectors (its words are those read at
    the new place, next to the sidecars found there, when given)."""
    db.execute(
        "UPDATE photos SET path=?, root_id=?, size=?, mtime=?, updated_at=? WHERE id=?",
        [to_db(path), root_id, size, mtime, _now(), photo_id],
    )
    write_photo_words(db, photo_id, path, root_id, user_words, sidecars)


def remove_photos(db: sqlite_utils.Database, ids: Iterable[int]) -> None:
    """Forget photos whose files are really gone (never called for an offline root)."""
    id_list = [int(i) for i in ids]
    all_changed(db)  # vector indexes must resync
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        db.execute(f"DELETE FROM photos WHERE id IN ({','.join('?' * len(chunk))})", chunk)
