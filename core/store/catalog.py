"""The library database: roots, photos and their embeddings, in SQLite.

SQLite is the source of truth and derived data is disposable: the vector index is
rebuilt from the ``embeddings`` table whenever it is missing or stale. The schema carries
a version in ``PRAGMA user_version`` and is migrated forward when the file is opened.

A :class:`Catalog` is used by one thread at a time (the writer). Other threads that only
read open their own ``Catalog`` on the same file: WAL lets them read while it writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from core.errors import READ_ONLY_MESSAGE, CatalogError, ReadOnlyLibraryError
from core.files import private_dir
from core.store import connection
from core.store.schema import MIGRATIONS, SCHEMA_VERSION
from core.types import FailedPhoto, Vector
from core.words import keywords

STATUS_OK = "ok"
STATUS_FAILED = "failed"


# File names on Linux are bytes; Python shows undecodable bytes as lone surrogates
# (U+DC80..U+DCFF), which SQLite cannot store as text. They are kept as private-use
# characters (U+F0080..U+F00FF) instead: lossless both ways, and ordering and prefix
# queries on the path column keep working.
_TO_DB = {0xDC00 + b: 0xF0000 + b for b in range(0x80, 0x100)}
_FROM_DB = {v: k for k, v in _TO_DB.items()}


def to_db(path: str) -> str:
    """A path as stored in the catalog (see above)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.translate(_TO_DB)
    return path


def from_db(text: str) -> str:
    """The path a catalog value stands for (the inverse of :func:`to_db`)."""
    if any(0xF0080 <= ord(c) <= 0xF00FF for c in text):
        return text.translate(_FROM_DB)
    return text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def vector_to_blob(vector: Vector) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def blob_to_vectors(blobs: Sequence[bytes], dim: int) -> Vector:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)


_ROW = "SELECT id, root_id, path, size, mtime, content_hash, status, sidecars FROM photos"


def _photo_row(r: Sequence[Any]) -> PhotoRow:
    """A PhotoRow from a :data:`_ROW` query."""
    return PhotoRow(int(r[0]), int(r[1]), from_db(str(r[2])), int(r[3]), float(r[4]), r[5],
                    str(r[6]), str(r[7]))


class Catalog:
    """Typed operations over the library database."""

    def __init__(self, path: Path, *,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """Open (or create) the database. Another program's lock is waited for (``on_wait``
        hears it once) up to core.store.connection's limit, then LibraryBusyError; a database
        this user cannot write is opened read-only (``read_only``); CatalogError means the
        file itself is bad."""
        self.path = path
        self.read_only = not connection.writable(path) and path.exists()
        try:
            conn = connection.retry_while_busy(self._connect, on_wait=on_wait)
        except sqlite3.DatabaseError as error:
            raise CatalogError(f"cannot open the library database {path}: {error}") from error
        self.db = sqlite_utils.Database(conn)

    def _connect(self) -> sqlite3.Connection:
        """One attempt at opening and migrating (retried while another program is busy)."""
        if self.read_only:
            conn = connection.connect_read_only(self.path)
            try:
                self._check_version(conn, writable=False)
            except BaseException:
                conn.close()
                raise
            return conn
        created = not self.path.exists()
        private_dir(self.path.parent)
        conn = sqlite3.connect(self.path, check_same_thread=False,
                               timeout=connection.RETRY_S)
        try:
            if created:  # a private index of the user's photos, whatever the umask
                os.chmod(self.path, 0o600)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(sqlite_utils.Database(conn))
            conn.execute(f"PRAGMA busy_timeout = {int(connection.wait_limit_s() * 1000)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_version(self, conn: sqlite3.Connection, *, writable: bool) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"the library at {self.path} was written by a newer Pictor "
                f"(schema {version}, this version knows {SCHEMA_VERSION}); please upgrade"
            )
        if version < SCHEMA_VERSION and not writable:
            raise ReadOnlyLibraryError(READ_ONLY_MESSAGE.format(
                where=self.path.parent, detail="it needs an upgrade that must write to it"))
        return version

    # -- lifecycle ---------------------------------------------------------------------

    def _migrate(self, db: sqlite_utils.Database) -> None:
        for number in range(self._check_version(db.conn, writable=True), SCHEMA_VERSION):
            with db.conn:
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def refuse_if_read_only(self, what: str) -> None:
        """ReadOnlyLibraryError naming ``what`` (e.g. "indexing") when nothing may be written."""
        if self.read_only:
            raise ReadOnlyLibraryError(READ_ONLY_MESSAGE.format(
                where=self.path.parent, detail=f"{what} needs to write to it"))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"

    # -- settings ----------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self.db.conn:
            self.db.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    # -- roots -------------------------------------------------------------------------

    def add_root(self, path: str) -> int:
        with self.db.conn:
            self.db.execute(
                "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)",
                [to_db(path), _now()],
            )
        row = self.db.execute("SELECT id FROM roots WHERE path = ?", [to_db(path)]).fetchone()
        return int(row[0])

    def roots(self) -> list[tuple[int, str]]:
        rows = self.db.execute("SELECT id, path FROM roots ORDER BY path").fetchall()
        return [(int(r[0]), from_db(str(r[1]))) for r in rows]

    def absorb_root(self, inner_id: int, outer_id: int) -> None:
        """Move the photos of a root into a root that contains it, and drop the inner one."""
        with self.db.conn:
            self.db.execute("UPDATE photos SET root_id = ? WHERE root_id = ?", [outer_id, inner_id])
            for photo_id, path in self.db.execute(  # folder words count from the new root
                    "SELECT id, path FROM photos WHERE root_id = ?", [outer_id]).fetchall():
                self._write_words(int(photo_id), from_db(str(path)), outer_id)
            self.db.execute("DELETE FROM roots WHERE id = ?", [inner_id])

    def remove_root(self, root_id: int) -> int:
        """Forget a root and its photos' records and vectors (never their files)."""
        with self.db.conn:
            self.db.execute("UPDATE models SET seq = seq + 1")  # vector indexes must resync
            cursor = self.db.execute("DELETE FROM photos WHERE root_id = ?", [root_id])
            self.db.execute("DELETE FROM roots WHERE id = ?", [root_id])
        return int(cursor.rowcount or 0)

    def root_counts(self) -> dict[int, tuple[int, int]]:
        """``root_id -> (photos, failed)``."""
        rows = self.db.execute(
            "SELECT root_id, COUNT(*), SUM(status = ?) FROM photos GROUP BY root_id",
            [STATUS_FAILED],
        ).fetchall()
        return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}

    # -- models ------------------------------------------------------------------------

    def model_id(self, name: str, dim: int) -> int:
        """The id of a model, registering it on first use."""
        row = self.db.execute("SELECT id, dim FROM models WHERE name = ?", [name]).fetchone()
        if row is not None:
            if int(row[1]) != dim:
                raise CatalogError(
                    f"model {name} now gives {dim}-d vectors but the library holds "
                    f"{row[1]}-d ones for it"
                )
            return int(row[0])
        with self.db.conn:
            cursor = self.db.execute("INSERT INTO models(name, dim) VALUES (?, ?)", [name, dim])
        return int(cursor.lastrowid or 0)

    def known_model(self, name: str) -> tuple[int, int] | None:
        """``(id, dim)`` of a model that has been used in this library, else None."""
        row = self.db.execute("SELECT id, dim FROM models WHERE name = ?", [name]).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def forget_model(self, name: str, settings: Sequence[str] = ()) -> None:
        """Drop a model's vectors and tags (the photos stay), and ``settings`` of it."""
        with self.db.conn:
            self.db.execute("DELETE FROM models WHERE name = ?", [name])  # cascades
            for key in settings:
                self.db.execute("DELETE FROM settings WHERE key = ?", [key])

    def share_vectors(self, source_id: int, target: str, dim: int) -> int:
        """Give model ``target`` the vectors of model ``source_id`` (one whose photos embed
        the same); returns how many. Their change counters carry over, so an index copied
        from the source's stays in step."""
        target_id = self.model_id(target, dim)
        with self.db.conn:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO embeddings(photo_id, model_id, vector, seq) "
                "SELECT photo_id, ?, vector, seq FROM embeddings WHERE model_id = ?",
                [target_id, source_id])
            self.db.execute("UPDATE models SET seq = max(seq, (SELECT seq FROM models WHERE "
                            "id = ?)) WHERE id = ?", [source_id, target_id])
        return int(cursor.rowcount or 0)

    def model_names(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT name FROM models ORDER BY id")]

    # -- photos ------------------------------------------------------------------------

    def photos_under(self, root_ids: Iterable[int]) -> dict[str, PhotoRow]:
        ids = list(root_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"{_ROW} WHERE root_id IN ({marks})", ids).fetchall()
        return {row.path: row for row in map(_photo_row, rows)}

    def photos_at_or_under(self, path: str) -> dict[str, PhotoRow]:
        """Rows for the file ``path`` or for every photo in the folder ``path``."""
        prefix = path.rstrip("/\\") + "/"
        rows = self.db.execute(
            f"{_ROW} WHERE path = ? OR (path >= ? AND path < ?)",
            [to_db(path), to_db(prefix), to_db(prefix[:-1] + chr(ord("/") + 1))],
        ).fetchall()
        return {row.path: row for row in map(_photo_row, rows)}

    def photo_by_path(self, path: str) -> PhotoRow | None:
        row = self.db.execute(f"{_ROW} WHERE path = ?", [to_db(path)]).fetchone()
        return None if row is None else _photo_row(row)

    def photo_details(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Rows for result display, keyed by id (chunked under SQLite's variable limit)."""
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                "SELECT id, path, taken_at, date, width, height, camera FROM photos "
                f"WHERE id IN ({marks})",
                chunk,
            ):
                row["path"] = from_db(row["path"])
                out[int(row["id"])] = row
        return out

    def ids_with_embedding(self, model_id: int) -> set[int]:
        rows = self.db.execute("SELECT photo_id FROM embeddings WHERE model_id = ?", [model_id])
        return {int(r[0]) for r in rows}

    def find_embedded_by_hash(self, content_hash: str, model_id: int) -> int | None:
        """A photo with this content that already has a vector for the model."""
        row = self.db.execute(
            "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id "
            "WHERE p.content_hash = ? AND e.model_id = ? LIMIT 1",
            [content_hash, model_id],
        ).fetchone()
        return None if row is None else int(row[0])

    def _next_seq(self, model_id: int) -> int:
        """Bump the model's change counter (inside the caller's transaction)."""
        self.db.execute("UPDATE models SET seq = seq + 1 WHERE id = ?", [model_id])
        return self.max_seq(model_id)

    def max_seq(self, model_id: int) -> int:
        row = self.db.execute("SELECT seq FROM models WHERE id = ?", [model_id]).fetchone()
        return 0 if row is None else int(row[0])

    def write_batch(
        self,
        facts: Sequence[PhotoFacts],
        vectors: Sequence[Vector | None],
        model_id: int,
    ) -> list[int]:
        """Insert or update the photos and their vectors in one transaction; returns ids.

        A file whose content changed loses the vectors of its old content for every model;
        a fact with ``error`` set marks the photo failed, with no vector.
        """
        ids: list[int] = []
        now = _now()
        with self.db.conn:
            seq = self._next_seq(model_id)
            for fact, vector in zip(facts, vectors, strict=True):
                photo_id, content_changed = self._upsert_photo(fact, now)
                ids.append(photo_id)
                if content_changed or fact.error:
                    self.db.execute("UPDATE models SET seq = seq + 1 WHERE id != ?", [model_id])
                    self.db.execute("DELETE FROM embeddings WHERE photo_id = ?", [photo_id])
                    self.db.execute("DELETE FROM photo_tags WHERE photo_id = ?", [photo_id])
                else:
                    self.db.execute("DELETE FROM embeddings WHERE photo_id = ? AND model_id = ?",
                                    [photo_id, model_id])
                    self.db.execute("DELETE FROM photo_tags WHERE photo_id = ? AND model_id = ?",
                                    [photo_id, model_id])
                if vector is not None:
                    self.db.execute(
                        "INSERT INTO embeddings(photo_id, model_id, vector, seq) "
                        "VALUES (?, ?, ?, ?)",
                        [photo_id, model_id, vector_to_blob(vector), seq],
                    )
        return ids

    def _upsert_photo(self, fact: PhotoFacts, now: str) -> tuple[int, bool]:
        """Insert or update a photo row: ``(id, whether its content changed)``."""
        status = STATUS_FAILED if fact.error else STATUS_OK
        date = fact.taken_at or datetime.fromtimestamp(fact.mtime, UTC).isoformat(
            timespec="seconds"
        )
        values = [fact.root_id, fact.size, fact.mtime, fact.content_hash, fact.width,
                  fact.height, fact.format, fact.taken_at, fact.camera, date, status,
                  fact.error, now]
        row = self.db.execute(
            "SELECT id, content_hash FROM photos WHERE path = ?", [to_db(fact.path)]
        ).fetchone()
        if row is not None:
            self.db.execute(
                "UPDATE photos SET root_id=?, size=?, mtime=?, content_hash=?, width=?, "
                "height=?, format=?, taken_at=?, camera=?, date=?, status=?, error=?, "
                "updated_at=? WHERE id = ?",
                [*values, int(row[0])],
            )
            self._write_words(int(row[0]), fact.path, fact.root_id, fact.user_words,
                              fact.sidecars)
            return int(row[0]), row[1] != fact.content_hash
        cursor = self.db.execute(
            "INSERT INTO photos(root_id, size, mtime, content_hash, width, height, format, "
            "taken_at, camera, date, status, error, updated_at, path, added_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [*values, to_db(fact.path), now],
        )
        self._write_words(int(cursor.lastrowid or 0), fact.path, fact.root_id, fact.user_words,
                          fact.sidecars)
        return int(cursor.lastrowid or 0), False

    def _write_words(self, photo_id: int, path: str, root_id: int,
                     user_words: str | None = None, sidecars: str | None = None) -> None:
        """Keep the photo's row in the full-text table in step (caller's transaction)."""
        row = self.db.execute("SELECT path FROM roots WHERE id = ?", [root_id]).fetchone()
        keywords.write_words(self.db, photo_id, path, None if row is None else from_db(row[0]))
        if user_words is not None:
            keywords.write_user_words(self.db, photo_id, user_words)
        if sidecars is not None:
            self.db.execute("UPDATE photos SET sidecars = ? WHERE id = ?", [sidecars, photo_id])

    def set_user_words(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Store ``(photo id, own words, sidecar signature)`` rows re-read after a sidecar
        changed, in one transaction; the photos' vectors and tags stay."""
        with self.db.conn:
            for photo_id, words, sidecars in rows:
                keywords.write_user_words(self.db, photo_id, words)
                self.db.execute("UPDATE photos SET sidecars = ? WHERE id = ?",
                                [sidecars, photo_id])

    def copy_embeddings(self, source_id: int, target_id: int) -> None:
        """Give ``target`` the vectors of ``source`` (same content, another path)."""
        with self.db.conn:
            for model_id, blob in self.db.execute(
                "SELECT model_id, vector FROM embeddings WHERE photo_id = ?", [source_id]
            ).fetchall():
                self.db.execute(
                    "INSERT OR REPLACE INTO embeddings(photo_id, model_id, vector, seq) "
                    "VALUES (?, ?, ?, ?)",
                    [target_id, model_id, blob, self._next_seq(int(model_id))],
                )

    def move_photo(self, photo_id: int, *, path: str, root_id: int, size: int,
                   mtime: float, user_words: str | None = None,
                   sidecars: str | None = None) -> None:
        """A file that moved keeps its row and its vectors (its words are those read at
        the new place, next to the sidecars found there, when given)."""
        with self.db.conn:
            self.db.execute(
                "UPDATE photos SET path=?, root_id=?, size=?, mtime=?, updated_at=? WHERE id=?",
                [to_db(path), root_id, size, mtime, _now(), photo_id],
            )
            self._write_words(photo_id, path, root_id, user_words, sidecars)

    def remove_photos(self, ids: Iterable[int]) -> None:
        """Forget photos whose files are really gone (never called for an offline root)."""
        id_list = [int(i) for i in ids]
        with self.db.conn:
            self.db.execute("UPDATE models SET seq = seq + 1")  # vector indexes must resync
            for start in range(0, len(id_list), 500):
                chunk = id_list[start : start + 500]
                self.db.execute(
                    f"DELETE FROM photos WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )

    # -- crash suspects ----------------------------------------------------------------

    def note_crash(self, path: str, size: int, mtime: float) -> int:
        """Count a crash while decoding ``path``; returns its crashes for this content."""
        key = to_db(path)
        with self.db.conn:
            row = self.db.execute("SELECT size, mtime, crashes FROM suspects WHERE path = ?",
                                  [key]).fetchone()
            same = row is not None and (int(row[0]), float(row[1])) == (size, mtime)
            crashes = int(row[2]) + 1 if same else 1
            self.db.execute("INSERT OR REPLACE INTO suspects(path, size, mtime, crashes) "
                            "VALUES (?, ?, ?, ?)", [key, size, mtime, crashes])
        return crashes

    def suspects(self) -> dict[str, tuple[int, float, int]]:
        """``path -> (size, mtime, crashes)`` of files that were being decoded in a crash."""
        rows = self.db.execute("SELECT path, size, mtime, crashes FROM suspects").fetchall()
        return {from_db(str(r[0])): (int(r[1]), float(r[2]), int(r[3])) for r in rows}

    def clear_suspects(self, paths: Iterable[str]) -> None:
        with self.db.conn:
            for path in paths:
                self.db.execute("DELETE FROM suspects WHERE path = ?", [to_db(path)])

    # -- vectors -----------------------------------------------------------------------

    def iter_vectors(
        self, model_id: int, dim: int, *, since_seq: int = 0, chunk: int = 4096
    ) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` chunks of a model's embeddings changed after ``since_seq``."""
        cursor = self.db.execute(
            "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND seq > ? "
            "ORDER BY photo_id",
            [model_id, since_seq],
        )
        while rows := cursor.fetchmany(chunk):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, blob_to_vectors([r[1] for r in rows], dim)

    def vectors_by_id(self, model_id: int, dim: int, ids: Iterable[int], *,
                      chunk: int = 500) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` chunks of the model's embeddings of these photos (those that
        have one)."""
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            rows = self.db.execute(
                f"SELECT photo_id, vector FROM embeddings WHERE model_id = ? "
                f"AND photo_id IN ({','.join('?' * len(part))}) ORDER BY photo_id",
                [model_id, *part]).fetchall()
            if rows:
                found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                yield found, blob_to_vectors([r[1] for r in rows], dim)

    def vector_of(self, photo_id: int, model_id: int, dim: int) -> Vector | None:
        row = self.db.execute(
            "SELECT vector FROM embeddings WHERE photo_id = ? AND model_id = ?",
            [photo_id, model_id],
        ).fetchone()
        return None if row is None else blob_to_vectors([row[0]], dim)[0]

    def vectors_of(self, ids: Sequence[int], model_id: int, dim: int) -> dict[int, Vector]:
        """The model's vectors of these photos (those that have one), keyed by id."""
        out: dict[int, Vector] = {}
        for start in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[start : start + 500]]
            rows = self.db.execute(
                "SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND photo_id IN "
                f"({','.join('?' * len(chunk))})", [model_id, *chunk]).fetchall()
            if rows:
                vectors = blob_to_vectors([r[1] for r in rows], dim)
                out.update({int(r[0]): v for r, v in zip(rows, vectors, strict=True)})
        return out

    def sample_vectors(self, model_id: int, dim: int, n: int) -> Vector:
        """Up to ``n`` of the model's vectors, picked at random (for calibration)."""
        rows = self.db.execute(
            "SELECT vector FROM embeddings WHERE model_id = ? ORDER BY random() LIMIT ?",
            [model_id, n]).fetchall()
        return blob_to_vectors([r[0] for r in rows], dim)

    # -- automatic tags ----------------------------------------------------------------

    def iter_untagged(self, model_id: int, dim: int, *,
                      chunk: int = 2048) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` of the model's photos that have no tags for it yet."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT e.photo_id, e.vector FROM embeddings e LEFT JOIN photo_tags t "
                "ON t.photo_id = e.photo_id AND t.model_id = e.model_id "
                "WHERE e.model_id = ? AND t.photo_id IS NULL AND e.photo_id > ? "
                "ORDER BY e.photo_id LIMIT ?", [model_id, last, chunk]).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, blob_to_vectors([r[1] for r in rows], dim)

    def count_untagged(self, model_id: int) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM embeddings e LEFT JOIN photo_tags t "
            "ON t.photo_id = e.photo_id AND t.model_id = e.model_id "
            "WHERE e.model_id = ? AND t.photo_id IS NULL", [model_id]).fetchone()
        return int(row[0])

    def write_tags(self, model_id: int, rows: Sequence[tuple[int, list[tuple[str, float]],
                                                              str]]) -> None:
        """Store ``(photo id, [(tag, score)...], words for the full-text table)`` rows in
        one transaction; a photo deleted meanwhile is skipped."""
        with self.db.conn:
            for photo_id, tags, words in rows:
                cursor = self.db.execute(
                    "INSERT OR REPLACE INTO photo_tags(photo_id, model_id, tags) "
                    "SELECT id, ?, ? FROM photos WHERE id = ?",
                    [model_id, json.dumps(tags, ensure_ascii=False), photo_id])
                if cursor.rowcount:
                    keywords.write_tags(self.db, photo_id, words)

    def clear_tags(self, model_id: int) -> None:
        """Forget a model's tags (its tag vocabulary or calibration changed)."""
        with self.db.conn:
            self.db.execute("DELETE FROM photo_tags WHERE model_id = ?", [model_id])

    def tags_of(self, photo_id: int, model_id: int) -> list[tuple[str, float]] | None:
        """A photo's stored tags for the model, best first (None: not tagged yet)."""
        row = self.db.execute("SELECT tags FROM photo_tags WHERE photo_id = ? AND model_id = ?",
                              [photo_id, model_id]).fetchone()
        return None if row is None else [(str(t), float(s)) for t, s in json.loads(row[0])]

    def root_of(self, photo_id: int) -> str | None:
        row = self.db.execute("SELECT r.path FROM photos p JOIN roots r ON r.id = p.root_id "
                              "WHERE p.id = ?", [photo_id]).fetchone()
        return None if row is None else from_db(str(row[0]))

    # -- queries -----------------------------------------------------------------------

    def filtered_ids(
        self,
        model_id: int,
        *,
        folder: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> np.ndarray:
        """Ids with a vector for the model that pass the folder and date filters."""
        where, params = self._filter_where(model_id, folder=folder, after=after, before=before)
        rows = self.db.execute(
            "SELECT p.id FROM photos p JOIN embeddings e ON e.photo_id = p.id "
            f"WHERE {' AND '.join(where)}",
            params,
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def word_matches(
        self,
        match: str,
        model_id: int,
        *,
        limit: int,
        folder: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> list[int]:
        """Ids whose words match an FTS5 expression (:func:`keywords.match_expression`),
        best first (bm25), among photos with a vector for the model that pass the filters."""
        where, params = self._filter_where(model_id, folder=folder, after=after, before=before)
        rows = self.db.execute(
            f"SELECT p.id FROM {keywords.TABLE} w JOIN photos p ON p.id = w.rowid "
            "JOIN embeddings e ON e.photo_id = p.id "
            f"WHERE {keywords.TABLE} MATCH ? AND {' AND '.join(where)} "
            f"ORDER BY {keywords.BM25}, p.id LIMIT ?",
            [match, *params, limit],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def photos_with_words(self, phrase: str) -> list[str]:
        """Paths of readable photos whose own words (keywords, titles, captions, sidecars)
        hold ``phrase`` as a phrase (case, accents and punctuation ignored)."""
        match = keywords.phrase_expression(phrase, "words")
        if match is None:
            return []
        rows = self.db.execute(
            f"SELECT p.path FROM {keywords.TABLE} w JOIN photos p ON p.id = w.rowid "
            f"WHERE {keywords.TABLE} MATCH ? AND p.status = ? ORDER BY p.path",
            [match, STATUS_OK],
        ).fetchall()
        return [from_db(r[0]) for r in rows]

    @staticmethod
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

    def counts(self, model_id: int | None) -> tuple[int, int, int]:
        """``(photos, indexed for the model, failed)``."""
        photos, failed = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = ?), 0) FROM photos", [STATUS_FAILED]
        ).fetchone()
        indexed = 0 if model_id is None else self.embedding_count(model_id)
        return int(photos), indexed, int(failed)

    def embedding_count(self, model_id: int) -> int:
        """How many photos have a vector of the model."""
        return int(self.db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?",
                                   [model_id]).fetchone()[0])

    def failures(self, limit: int | None = None) -> list[FailedPhoto]:
        sql = "SELECT path, error FROM photos WHERE status = ? ORDER BY path"
        params: list[Any] = [STATUS_FAILED]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [FailedPhoto(from_db(str(r[0])), str(r[1])) for r in self.db.execute(sql, params)]
