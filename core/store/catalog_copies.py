"""The catalog's side of the duplicate finder: each photo's picture print, the facts that
rank copies, and the words of copies moved to the Trash, carried by the copy that stayed.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from core.store.catalog_failures import STATUS_OK
from core.store.stored_paths import from_db
from core.words import keywords

_CHUNK = 500  # under SQLite's variable limit


@dataclass(frozen=True, slots=True)
class CopyFacts:
    """What the catalog knows of a photo that ranks it among its copies."""

    photo_id: int
    path: str
    size: int
    mtime: float
    content_hash: str | None
    width: int | None
    height: int | None
    format: str | None
    taken_at: str | None
    camera: str | None
    has_position: bool


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    id_list = [int(i) for i in ids]
    for start in range(0, len(id_list), _CHUNK):
        yield id_list[start : start + _CHUNK]


def write_prints(db: sqlite_utils.Database, rows: Iterable[tuple[int, bytes]]) -> None:
    """Store ``(photo id, print)`` rows, replacing older prints."""
    db.conn.executemany("INSERT OR REPLACE INTO photo_prints(photo_id, print) VALUES (?, ?)",
                   [(int(i), bytes(p)) for i, p in rows])


def forget_print(db: sqlite_utils.Database, photo_id: int) -> None:
    """The photo's content changed (or no longer decodes): its print is stale."""
    db.execute("DELETE FROM photo_prints WHERE photo_id = ?", [photo_id])


def prints_of(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for photo_id, blob in db.execute(
                f"SELECT photo_id, print FROM photo_prints WHERE photo_id IN ({marks})", chunk):
            out[int(photo_id)] = bytes(blob)
    return out


def copy_facts(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, CopyFacts]:
    """The ranking facts of decodable photos, keyed by id (videos are never copies here:
    the duplicate finder compares pictures)."""
    out: dict[int, CopyFacts] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
                "SELECT id, path, size, mtime, content_hash, width, height, format, taken_at, "
                f"camera, lat IS NOT NULL FROM photos WHERE status = ? AND kind = 'photo' "
                f"AND id IN ({marks})",
                [STATUS_OK, *chunk]):
            out[int(row[0])] = CopyFacts(
                photo_id=int(row[0]), path=from_db(row[1]), size=int(row[2]),
                mtime=float(row[3]), content_hash=row[4], width=row[5], height=row[6],
                format=row[7], taken_at=row[8], camera=row[9], has_position=bool(row[10]))
    return out


def hashes_of(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for photo_id, content_hash in db.execute(
                f"SELECT id, content_hash FROM photos WHERE id IN ({marks})", chunk):
            out[int(photo_id)] = content_hash
    return out


def times_of(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, str | None]:
    """Each photo's EXIF date taken (None when the file does not say)."""
    out: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for photo_id, taken_at in db.execute(
                f"SELECT id, taken_at FROM photos WHERE id IN ({marks})", chunk):
            out[int(photo_id)] = taken_at
    return out


# -- words carried from removed copies -----------------------------------------------------


def carried_words(db: sqlite_utils.Database, photo_id: int) -> tuple[str, list[str]]:
    """The words a photo carries from removed copies, and the copies' paths."""
    row = db.execute("SELECT words, sources FROM carried_words WHERE photo_id = ?",
                     [photo_id]).fetchone()
    return ("", []) if row is None else (str(row[0]), list(json.loads(row[1])))


def carry_words(db: sqlite_utils.Database, keeper_id: int,
                copies: Sequence[tuple[str, str]]) -> None:
    """Give the kept photo the searchable words of ``(path, words)`` copies about to leave
    the catalog (their names, folders, own words and tags), so that what found them finds
    it. The photo's own words stay as they are; the carried ones follow them."""
    words, sources = carried_words(db, keeper_id)
    seen = set(words.split())
    new: list[str] = []
    for _, text in copies:
        for word in text.split():
            if word not in seen:
                seen.add(word)
                new.append(word)
    all_words = " ".join([*words.split(), *new])
    db.execute("INSERT OR REPLACE INTO carried_words(photo_id, words, sources) VALUES (?,?,?)",
               [keeper_id, all_words, json.dumps([*sources, *(p for p, _ in copies)])])
    own = db.execute(f"SELECT words FROM {keywords.TABLE} WHERE rowid = ?",
                     [keeper_id]).fetchone()
    mine = "" if own is None else str(own[0])
    db.execute(f"UPDATE {keywords.TABLE} SET words = ? WHERE rowid = ?",
               [" ".join(w for w in (mine, " ".join(new)) if w), keeper_id])


def with_carried(db: sqlite_utils.Database, photo_id: int, user_words: str) -> str:
    """A photo's own words as read from its file, followed by those it carries."""
    carried, _ = carried_words(db, photo_id)
    return " ".join(w for w in (user_words, carried) if w)


def searchable_words(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, str]:
    """Each photo's full-text words (name, folders, own words, tags, text, place)."""
    out: dict[int, str] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows: Any = db.execute(
            f"SELECT rowid, name, folders, words, tags, place FROM {keywords.TABLE} "
            f"WHERE rowid IN ({marks})", chunk)
        for row in rows:
            out[int(row[0])] = " ".join(str(v) for v in row[1:] if v)
    return out
