"""What the catalog knows of files that could not be indexed: photos that failed to decode
(status ``failed``, with the error), and files that were being decoded when Pictor
crashed (suspects, retried only once they change). With them, the counts that report both.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from core.store.catalog_vectors import embedding_count
from core.store.stored_paths import from_db, to_db
from core.types import FailedPhoto

STATUS_OK = "ok"
STATUS_FAILED = "failed"


def failures(db: sqlite_utils.Database, limit: int | None = None) -> list[FailedPhoto]:
    sql = "SELECT path, error FROM photos WHERE status = ? ORDER BY path"
    params: list[Any] = [STATUS_FAILED]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [FailedPhoto(from_db(str(r[0])), str(r[1])) for r in db.execute(sql, params)]


def counts(db: sqlite_utils.Database, model_id: int | None) -> tuple[int, int, int]:
    """``(photos, indexed for the model, failed)``."""
    photos, failed = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = ?), 0) FROM photos", [STATUS_FAILED]
    ).fetchone()
    indexed = 0 if model_id is None else embedding_count(db, model_id)
    return int(photos), indexed, int(failed)


def root_counts(db: sqlite_utils.Database) -> dict[int, tuple[int, int]]:
    """``root_id -> (photos, failed)``."""
    rows = db.execute(
        "SELECT root_id, COUNT(*), SUM(status = ?) FROM photos GROUP BY root_id",
        [STATUS_FAILED],
    ).fetchall()
    return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}


# -- crash suspects --------------------------------------------------------------------------


def note_crash(db: sqlite_utils.Database, path: str, size: int, mtime: float) -> int:
    """Count a crash while decoding ``path``; returns its crashes for this content."""
    key = to_db(path)
    row = db.execute("SELECT size, mtime, crashes FROM suspects WHERE path = ?",
                     [key]).fetchone()
    same = row is not None and (int(row[0]), float(row[1])) == (size, mtime)
    crashes = int(row[2]) + 1 if same else 1
    db.execute("INSERT OR REPLACE INTO suspects(path, size, mtime, crashes) "
               "VALUES (?, ?, ?, ?)", [key, size, mtime, crashes])
    return crashes


def suspects(db: sqlite_utils.Database) -> dict[str, tuple[int, float, int]]:
    """``path -> (size, mtime, crashes)`` of files that were being decoded in a crash."""
    rows = db.execute("SELECT path, size, mtime, crashes FROM suspects").fetchall()
    return {from_db(str(r[0])): (int(r[1]), float(r[2]), int(r[3])) for r in rows}


def clear_suspects(db: sqlite_utils.Database, paths: Iterable[str]) -> None:
    for path in paths:
        db.execute("DELETE FROM suspects WHERE path = ?", [to_db(path)])
