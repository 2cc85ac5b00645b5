"""The catalog's models and settings: which models have vectors in the library (their
dimensions, their change counters) and the library's key-value settings.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from core.errors import CatalogError

# -- settings ------------------------------------------------------------------------------


def get_setting(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_setting(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


# -- models --------------------------------------------------------------------------------


def model_id(db: sqlite_utils.Database, name: str, dim: int) -> int | None:
    """The id of a registered model (None: not yet); CatalogError when it gave vectors
    of another dimension."""
    row = db.execute("SELECT id, dim FROM models WHERE name = ?", [name]).fetchone()
    if row is None:
        return None
    if int(row[1]) != dim:
        raise CatalogError(
            f"model {name} now gives {dim}-d vectors but the library holds "
            f"{row[1]}-d ones for it"
        )
    return int(row[0])


def ensure_model(db: sqlite_utils.Database, name: str, dim: int) -> int:
    """The id of a model, registering it on first use."""
    found = model_id(db, name, dim)
    if found is not None:
        return found
    cursor = db.execute("INSERT INTO models(name, dim) VALUES (?, ?)", [name, dim])
    return int(cursor.lastrowid or 0)


def known_model(db: sqlite_utils.Database, name: str) -> tuple[int, int] | None:
    """``(id, dim)`` of a model that has been used in this library, else None."""
    row = db.execute("SELECT id, dim FROM models WHERE name = ?", [name]).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def forget_model(db: sqlite_utils.Database, name: str, settings: Sequence[str] = ()) -> None:
    """Drop a model's vectors and tags (the photos stay), and ``settings`` of it."""
    db.execute("DELETE FROM models WHERE name = ?", [name])  # cascades
    for key in settings:
        db.execute("DELETE FROM settings WHERE key = ?", [key])


def share_vectors(db: sqlite_utils.Database, source_id: int, target: str, dim: int) -> int:
    """Give model ``target`` the vectors of model ``source_id`` (one whose photos embed
    the same); returns how many. Their change counters carry over, so an index copied
    from the source's stays in step."""
    target_id = ensure_model(db, target, dim)
    cursor = db.execute(
        "INSERT OR IGNORE INTO embeddings(photo_id, model_id, vector, seq) "
        "SELECT photo_id, ?, vector, seq FROM embeddings WHERE model_id = ?",
        [target_id, source_id])
    db.execute(  # a video's moments too: a search lands on the same second with either
        "INSERT OR IGNORE INTO video_frames(photo_id, model_id, frame, time_s, vector, seq) "
        "SELECT photo_id, ?, frame, time_s, vector, seq FROM video_frames WHERE model_id = ?",
        [target_id, source_id])
    db.execute("UPDATE models SET seq = max(seq, (SELECT seq FROM models WHERE "
               "id = ?)) WHERE id = ?", [source_id, target_id])
    return int(cursor.rowcount or 0)


def model_names(db: sqlite_utils.Database) -> list[str]:
    return [str(r[0]) for r in db.execute("SELECT name FROM models ORDER BY id")]


# -- change counters -------------------------------------------------------------------------


def next_seq(db: sqlite_utils.Database, model: int) -> int:
    """Bump the model's change counter and return it."""
    db.execute("UPDATE models SET seq = seq + 1 WHERE id = ?", [model])
    return max_seq(db, model)


def max_seq(db: sqlite_utils.Database, model: int) -> int:
    """The model's change counter: bumped by every write of its vectors."""
    row = db.execute("SELECT seq FROM models WHERE id = ?", [model]).fetchone()
    return 0 if row is None else int(row[0])


def all_changed(db: sqlite_utils.Database) -> None:
    """Bump every model's change counter: photos went, so every vector index must resync."""
    db.execute("UPDATE models SET seq = seq + 1")
