"""The catalog's side of text in photos and places: each photo's text lines with their
boxes (or why they could not be read), the photos the text pass has still to read, and
each photo's GPS position and place name, kept in step with the full-text table.

Functions over the catalog's database; writes run in the caller's transaction
(:class:`core.store.catalog.Catalog` opens one per call).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from core.store.catalog_failures import STATUS_OK
from core.store.stored_paths import from_db, to_db
from core.words import keywords


@dataclass(frozen=True, slots=True)
class PlaceFacts:
    """Where a photo was taken: its position, the place's name, and the words that find it."""

    lat: float
    lon: float
    label: str | None = None  # "Seville, Andalusia, Spain"; None: far from any town
    words: str = ""  # "Seville Andalusia Spain 西班牙", for the full-text table


@dataclass(frozen=True, slots=True)
class TextFacts:
    """What the text pass learnt of one photo."""

    photo_id: int
    lines: list[dict[str, Any]] = field(default_factory=list)  # {"text", "box", "confidence"}
    error: str | None = None  # set: its text could not be read (the reason)
    place: PlaceFacts | None = None  # set: a position found while reading (older photos)


@dataclass(frozen=True, slots=True)
class PhotoText:
    """A photo's stored text: its lines in reading order, or why there are none."""

    lines: list[dict[str, Any]]
    error: str | None
    read_at: str

    @property
    def text(self) -> str:
        return "\n".join(str(line["text"]) for line in self.lines)


# Videos have no text read in them (their moments are not photos the reader could use).
_PENDING = ("FROM photos p LEFT JOIN photo_text t ON t.photo_id = p.id "
            "WHERE t.photo_id IS NULL AND p.status = ? AND p.kind = 'photo'")


def text_pending(db: sqlite_utils.Database, limit: int, *,
                 after: int = 0) -> list[tuple[int, str, bool]]:
    """Up to ``limit`` readable photos whose text has not been read: ``(id, path, whether
    its position is known)``, oldest first, with an id above ``after``."""
    rows = db.execute(f"SELECT p.id, p.path, p.lat IS NOT NULL {_PENDING} AND p.id > ? "
                      "ORDER BY p.id LIMIT ?", [STATUS_OK, after, limit]).fetchall()
    return [(int(r[0]), from_db(r[1]), bool(r[2])) for r in rows]


def text_pending_at(db: sqlite_utils.Database,
                    paths: Sequence[str]) -> list[tuple[int, str, bool]]:
    """Those of ``paths`` whose text is still to read, as :func:`text_pending` gives them."""
    found = []
    for path in paths:
        found += db.execute(f"SELECT p.id, p.path, p.lat IS NOT NULL {_PENDING} "
                            "AND p.path = ?", [STATUS_OK, to_db(path)]).fetchall()
    return [(int(r[0]), from_db(r[1]), bool(r[2])) for r in found]


def count_text_pending(db: sqlite_utils.Database) -> int:
    return int(db.execute(f"SELECT count(*) {_PENDING}", [STATUS_OK]).fetchone()[0])


def write_text(db: sqlite_utils.Database, rows: Sequence[TextFacts]) -> None:
    """Store what the text pass read; a photo deleted or changed meanwhile is skipped."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for row in rows:
        if db.execute("SELECT 1 FROM photos WHERE id = ?", [row.photo_id]).fetchone() is None:
            continue
        db.execute("INSERT OR REPLACE INTO photo_text(photo_id, lines, error, read_at) "
                   "VALUES (?, ?, ?, ?)",
                   [row.photo_id, json.dumps(row.lines, ensure_ascii=False), row.error, now])
        text = " ".join(str(line["text"]) for line in row.lines)
        keywords.write_column(db, row.photo_id, "text", keywords.text_index(text))
        if row.place is not None:
            set_place(db, row.photo_id, row.place)


def forget_text(db: sqlite_utils.Database, photo_id: int) -> None:
    """A photo whose content changed is read again by the next text pass."""
    db.execute("DELETE FROM photo_text WHERE photo_id = ?", [photo_id])
    keywords.write_column(db, photo_id, "text", "")


def text_of(db: sqlite_utils.Database, photo_id: int) -> PhotoText | None:
    """A photo's stored text (None: not read yet)."""
    row = db.execute("SELECT lines, error, read_at FROM photo_text WHERE photo_id = ?",
                     [photo_id]).fetchone()
    if row is None:
        return None
    return PhotoText(lines=json.loads(row[0]), error=row[1], read_at=str(row[2]))


def text_counts(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """``(photos read, of which with text, whose reading failed)``."""
    row = db.execute("SELECT count(*), sum(lines != '[]'), sum(error IS NOT NULL) "
                     "FROM photo_text").fetchone()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def set_place(db: sqlite_utils.Database, photo_id: int, place: PlaceFacts | None) -> None:
    """Set (or, with None, clear) where a photo was taken, and its place words."""
    if place is None:
        db.execute("UPDATE photos SET lat = NULL, lon = NULL, place = NULL WHERE id = ?",
                   [photo_id])
        keywords.write_column(db, photo_id, "place", "")
        return
    db.execute("UPDATE photos SET lat = ?, lon = ?, place = ? WHERE id = ?",
               [place.lat, place.lon, place.label, photo_id])
    keywords.write_column(db, photo_id, "place", keywords.index_text(place.words))


def places(db: sqlite_utils.Database) -> list[tuple[str, int]]:
    """The library's place names with their photo counts, most photos first."""
    rows = db.execute("SELECT place, count(*) FROM photos WHERE place IS NOT NULL "
                      "AND status = ? GROUP BY place ORDER BY count(*) DESC, place",
                      [STATUS_OK]).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def count_places(db: sqlite_utils.Database) -> int:
    """Photos with a GPS position."""
    return int(db.execute("SELECT count(*) FROM photos WHERE lat IS NOT NULL AND status = ?",
                          [STATUS_OK]).fetchone()[0])
