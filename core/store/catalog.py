"""The library database: roots, photos and their embeddings, in SQLite.

SQLite is the source of truth and derived data is disposable: the vector index is
rebuilt from the ``embeddings`` table whenever it is missing or stale. The schema carries
a version in ``PRAGMA user_version`` and is migrated forward when the file is opened
(core.store.schema).

A :class:`Catalog` is used by one thread at a time (the writer). Other threads that only
read open their own ``Catalog`` on the same file: WAL lets them read while it writes.

:class:`Catalog` holds the connection: it opens and migrates the file and runs every write
in one transaction. The queries live in modules of plain functions over the database,
one for each part of it: catalog_photos (roots and photos), catalog_vectors (vectors and
automatic tags), catalog_words (full-text words and the search filters), catalog_models
(models, change counters, settings) and catalog_failures (failed photos, crash suspects,
counts). The path columns are encoded by core.store.stored_paths.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import sqlite_utils

from core.errors import READ_ONLY_MESSAGE, CatalogError, ReadOnlyLibraryError
from core.files import private_dir
from core.store import (
    catalog_copies,
    catalog_failures,
    catalog_models,
    catalog_photos,
    catalog_text,
    catalog_vectors,
    catalog_videos,
    catalog_words,
    connection,
)
from core.store.catalog_failures import STATUS_FAILED, STATUS_OK
from core.store.catalog_photos import PhotoFacts, PhotoRow
from core.store.schema import MIGRATIONS, SCHEMA_VERSION
from core.types import FailedPhoto, Vector

__all__ = ["SCHEMA_VERSION", "STATUS_FAILED", "STATUS_OK", "Catalog", "PhotoFacts",
           "PhotoRow"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One transaction, committed at the end or rolled back on any error. ``with conn:``
    alone is not one: it opens no transaction, and sqlite-utils commits each write
    statement on its own unless one is open. IMMEDIATE takes the write lock first (waiting
    as long as busy_timeout says), so a write that reads first never meets another
    program's commit in between."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


class Catalog:
    """Typed operations over the library database: it opens, migrates and closes the file
    and runs each write in a transaction of its own; the core.store.catalog_* modules hold
    the queries."""

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
            with _transaction(db.conn):  # all of a migration, or none of it
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

    def _write(self, change: Callable[Concatenate[sqlite_utils.Database, _P], _T],
               *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``change(db, ...)`` in a transaction of its own (a read-only library opens none:
        its writes fail as they are)."""
        if self.read_only:
            return change(self.db, *args, **kwargs)
        with _transaction(self.db.conn):
            return change(self.db, *args, **kwargs)

    # -- settings and models (core.store.catalog_models) ---------------------------------

    def get_setting(self, key: str) -> str | None:
        return catalog_models.get_setting(self.db, key)

    def set_setting(self, key: str, value: str) -> None:
        self._write(catalog_models.set_setting, key, value)

    def model_id(self, name: str, dim: int) -> int:
        """The id of a model, registering it on first use."""
        found = catalog_models.model_id(self.db, name, dim)
        return found if found is not None else self._write(catalog_models.ensure_model,
                                                           name, dim)

    def known_model(self, name: str) -> tuple[int, int] | None:
        """``(id, dim)`` of a model that has been used in this library, else None."""
        return catalog_models.known_model(self.db, name)

    def forget_model(self, name: str, settings: Sequence[str] = ()) -> None:
        """Drop a model's vectors and tags (the photos stay), and ``settings`` of it."""
        self._write(catalog_models.forget_model, name, settings)

    def share_vectors(self, source_id: int, target: str, dim: int) -> int:
        """Give model ``target`` the vectors of model ``source_id``; returns how many."""
        return self._write(catalog_models.share_vectors, source_id, target, dim)

    def model_names(self) -> list[str]:
        return catalog_models.model_names(self.db)

    def max_seq(self, model_id: int) -> int:
        """The model's change counter: bumped by every write of its vectors."""
        return catalog_models.max_seq(self.db, model_id)

    # -- roots and photos (core.store.catalog_photos) --------------------------------------

    def add_root(self, path: str) -> int:
        return self._write(catalog_photos.add_root, path)

    def roots(self) -> list[tuple[int, str]]:
        return catalog_photos.roots(self.db)

    def absorb_root(self, inner_id: int, outer_id: int) -> None:
        """Move the photos of a root into a root that contains it, and drop the inner one."""
        self._write(catalog_photos.absorb_root, inner_id, outer_id)

    def remove_root(self, root_id: int) -> int:
        """Forget a root and its photos' records and vectors (never their files)."""
        return self._write(catalog_photos.remove_root, root_id)

    def root_of(self, photo_id: int) -> str | None:
        return catalog_photos.root_of(self.db, photo_id)

    def photos_under(self, root_ids: Iterable[int]) -> dict[str, PhotoRow]:
        return catalog_photos.photos_under(self.db, root_ids)

    def photos_at_or_under(self, path: str) -> dict[str, PhotoRow]:
        """Rows for the file ``path`` or for every photo in the folder ``path``."""
        return catalog_photos.photos_at_or_under(self.db, path)

    def photo_by_path(self, path: str) -> PhotoRow | None:
        return catalog_photos.photo_by_path(self.db, path)

    def photo_details(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Rows for result display, keyed by id."""
        return catalog_photos.photo_details(self.db, ids)

    def write_batch(self, facts: Sequence[PhotoFacts], vectors: Sequence[Vector | None],
                    model_id: int) -> list[int]:
        """Insert or update the photos and their vectors in one transaction; returns ids
        (see :func:`core.store.catalog_photos.write_batch`)."""
        return self._write(catalog_photos.write_batch, facts, vectors, model_id)

    def move_photo(self, photo_id: int, *, path: str, root_id: int, size: int,
                   mtime: float, user_words: str | None = None,
                   sidecars: str | None = None) -> None:
        """A file that moved keeps its row and its vectors."""
        self._write(catalog_photos.move_photo, photo_id, path=path, root_id=root_id,
                    size=size, mtime=mtime, user_words=user_words, sidecars=sidecars)

    def remove_photos(self, ids: Iterable[int]) -> None:
        """Forget photos whose files are really gone (never called for an offline root)."""
        self._write(catalog_photos.remove_photos, ids)

    # -- vectors and automatic tags (core.store.catalog_vectors) ---------------------------

    def ids_with_embedding(self, model_id: int) -> set[int]:
        return catalog_vectors.ids_with_embedding(self.db, model_id)

    def embedding_count(self, model_id: int) -> int:
        """How many photos have a vector of the model."""
        return catalog_vectors.embedding_count(self.db, model_id)

    def find_embedded_by_hash(self, content_hash: str, model_id: int) -> int | None:
        """A photo with this content that already has a vector for the model."""
        return catalog_vectors.find_embedded_by_hash(self.db, content_hash, model_id)

    def copy_embeddings(self, source_id: int, target_id: int) -> None:
        """Give ``target`` the vectors of ``source`` (same content, another path)."""
        self._write(catalog_vectors.copy_embeddings, source_id, target_id)

    def iter_vectors(self, model_id: int, dim: int, *, since_seq: int = 0,
                     chunk: int = 4096) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` chunks of a model's embeddings changed after ``since_seq``."""
        return catalog_vectors.iter_vectors(self.db, model_id, dim, since_seq=since_seq,
                                            chunk=chunk)

    def vectors_by_id(self, model_id: int, dim: int, ids: Iterable[int], *,
                      chunk: int = 500) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` chunks of the model's embeddings of these photos."""
        return catalog_vectors.vectors_by_id(self.db, model_id, dim, ids, chunk=chunk)

    def vector_of(self, photo_id: int, model_id: int, dim: int) -> Vector | None:
        return catalog_vectors.vector_of(self.db, photo_id, model_id, dim)

    def vectors_of(self, ids: Sequence[int], model_id: int, dim: int) -> dict[int, Vector]:
        """The model's vectors of these photos (those that have one), keyed by id."""
        return catalog_vectors.vectors_of(self.db, ids, model_id, dim)

    def sample_vectors(self, model_id: int, dim: int, n: int) -> Vector:
        """Up to ``n`` of the model's vectors, picked at random (for calibration)."""
        return catalog_vectors.sample_vectors(self.db, model_id, dim, n)

    def iter_untagged(self, model_id: int, dim: int, *,
                      chunk: int = 2048) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(ids, vectors)`` of the model's photos that have no tags for it yet."""
        return catalog_vectors.iter_untagged(self.db, model_id, dim, chunk=chunk)

    def count_untagged(self, model_id: int) -> int:
        return catalog_vectors.count_untagged(self.db, model_id)

    def write_tags(self, model_id: int,
                   rows: Sequence[tuple[int, list[tuple[str, float]], str]]) -> None:
        """Store ``(photo id, [(tag, score)...], words for the full-text table)`` rows in
        one transaction; a photo deleted meanwhile is skipped."""
        self._write(catalog_vectors.write_tags, model_id, rows)

    def clear_tags(self, model_id: int) -> None:
        """Forget a model's tags (its tag vocabulary or calibration changed)."""
        self._write(catalog_vectors.clear_tags, model_id)

    def tags_of(self, photo_id: int, model_id: int) -> list[tuple[str, float]] | None:
        """A photo's stored tags for the model, best first (None: not tagged yet)."""
        return catalog_vectors.tags_of(self.db, photo_id, model_id)

    # -- full-text words and filters (core.store.catalog_words) ----------------------------

    def set_user_words(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Store ``(photo id, own words, sidecar signature)`` rows re-read after a sidecar
        changed, in one transaction; the photos' vectors and tags stay."""
        self._write(catalog_words.set_user_words, rows)

    def filtered_ids(self, model_id: int, **filters: Any) -> np.ndarray:
        """Ids with a vector for the model that pass the filters (folder, after, before,
        place, near: see :class:`core.store.catalog_words.Where`)."""
        return catalog_words.filtered_ids(self.db, model_id, catalog_words.Where(**filters))

    def word_matches(self, match: str, model_id: int, *, limit: int,
                     **filters: Any) -> list[int]:
        """Ids whose words match an FTS5 expression, best first, among photos with a
        vector for the model that pass the filters."""
        return catalog_words.word_matches(self.db, match, model_id, limit=limit,
                                          where=catalog_words.Where(**filters))

    def word_rows(self, ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """The full-text rows of photos (each column's words as stored), keyed by id."""
        return catalog_words.word_rows(self.db, ids)

    def has_place_words(self, match: str) -> bool:
        """Whether some photo's place words match an FTS5 expression."""
        return catalog_words.has_place_words(self.db, match)

    def photos_with_words(self, phrase: str) -> list[str]:
        """Paths of readable photos whose own words hold ``phrase`` as a phrase."""
        return catalog_words.photos_with_words(self.db, phrase)

    # -- text in photos and places (core.store.catalog_text) -------------------------------

    def text_pending(self, limit: int, *, after: int = 0) -> list[tuple[int, str, bool]]:
        """Readable photos whose text is still to read: ``(id, path, position known)``, by
        id from above ``after``."""
        return catalog_text.text_pending(self.db, limit, after=after)

    def text_pending_at(self, paths: Sequence[str]) -> list[tuple[int, str, bool]]:
        """Those of ``paths`` whose text is still to read, as :meth:`text_pending` gives."""
        return catalog_text.text_pending_at(self.db, paths)

    def count_text_pending(self) -> int:
        return catalog_text.count_text_pending(self.db)

    def write_text(self, rows: Sequence[catalog_text.TextFacts]) -> None:
        """Store what the text pass read, in one transaction."""
        self._write(catalog_text.write_text, rows)

    def text_of(self, photo_id: int) -> catalog_text.PhotoText | None:
        return catalog_text.text_of(self.db, photo_id)

    def text_counts(self) -> tuple[int, int, int]:
        """``(photos read, with text, failed)``."""
        return catalog_text.text_counts(self.db)

    def count_places(self) -> int:
        return catalog_text.count_places(self.db)

    def places(self) -> list[tuple[str, int]]:
        """Place names and their photo counts, most photos first."""
        return catalog_text.places(self.db)

    # -- copies of a picture (core.store.catalog_copies) -----------------------------------

    def prints_of(self, ids: Iterable[int]) -> dict[int, bytes]:
        return catalog_copies.prints_of(self.db, ids)

    def write_prints(self, rows: Sequence[tuple[int, bytes]]) -> None:
        self._write(catalog_copies.write_prints, rows)

    def copy_facts(self, ids: Iterable[int]) -> dict[int, catalog_copies.CopyFacts]:
        return catalog_copies.copy_facts(self.db, ids)

    def hashes_of(self, ids: Iterable[int]) -> dict[int, str | None]:
        return catalog_copies.hashes_of(self.db, ids)

    def times_of(self, ids: Iterable[int]) -> dict[int, str | None]:
        return catalog_copies.times_of(self.db, ids)

    def searchable_words(self, ids: Iterable[int]) -> dict[int, str]:
        return catalog_copies.searchable_words(self.db, ids)

    def remove_copies(self, keeper_id: int, removed: Sequence[int]) -> None:
        """Forget copies the user moved to the Trash, in one transaction, after giving
        their words to the copy that stayed."""
        self._write(_remove_copies, keeper_id, removed)

    # -- videos and their moments (core.store.catalog_videos) ------------------------------

    def write_video(self, fact: PhotoFacts, *, duration_s: float | None,
                    poster: Vector | None, moments: Sequence[tuple[float, Vector]],
                    model_id: int) -> tuple[int, list[int]]:
        """A video's row, poster vector and ``(time, vector)`` moments in one transaction;
        returns its id and the index keys of moments it no longer has."""
        return self._write(catalog_videos.write_video, fact, duration_s=duration_s,
                           poster=poster, moments=moments, model_id=model_id)

    def moments_of(self, ids: Iterable[int], model_id: int,
                   dim: int) -> dict[int, catalog_videos.Moments]:
        """``(times, vectors)`` of the moments of these videos, keyed by id."""
        return catalog_videos.moments_of(self.db, ids, model_id, dim)

    def videos_among(self, ids: Iterable[int]) -> dict[int, float | None]:
        """The videos among these ids, with their length in seconds."""
        return catalog_videos.videos_among(self.db, ids)

    def frame_keys_among(self, model_id: int, ids: np.ndarray) -> np.ndarray:
        """The index keys of the moments of the videos among ``ids``."""
        return catalog_videos.frame_keys_among(self.db, model_id, ids)

    def index_count(self, model_id: int) -> int:
        """Keys the model's search index holds when in step: photos and moments."""
        return (catalog_vectors.embedding_count(self.db, model_id)
                + catalog_videos.frame_count(self.db, model_id))

    def index_keys(self, model_id: int) -> set[int]:
        return (catalog_vectors.ids_with_embedding(self.db, model_id)
                | catalog_videos.frame_keys(self.db, model_id))

    def iter_index_vectors(self, model_id: int, dim: int, *, since_seq: int = 0,
                           chunk: int = 4096) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(keys, vectors)`` of the photos' vectors, then the moments', changed after
        ``since_seq``: what the model's search index holds."""
        yield from catalog_vectors.iter_vectors(self.db, model_id, dim, since_seq=since_seq,
                                                chunk=chunk)
        yield from catalog_videos.iter_frame_vectors(self.db, model_id, dim,
                                                     since_seq=since_seq, chunk=chunk)

    def index_vectors_by_key(self, model_id: int, dim: int,
                             keys: Iterable[int]) -> Iterator[tuple[np.ndarray, Vector]]:
        """``(keys, vectors)`` chunks of these index keys (photos and moments)."""
        wanted = [int(k) for k in keys]
        yield from catalog_vectors.vectors_by_id(
            self.db, model_id, dim, [k for k in wanted if k <= catalog_videos.PHOTO_MASK])
        yield from catalog_videos.frame_vectors_by_key(
            self.db, model_id, dim, [k for k in wanted if k > catalog_videos.PHOTO_MASK])

    # -- failures, crash suspects, counts (core.store.catalog_failures) --------------------

    def failures(self, limit: int | None = None) -> list[FailedPhoto]:
        return catalog_failures.failures(self.db, limit)

    def counts(self, model_id: int | None) -> tuple[int, int, int]:
        """``(photos, indexed for the model, failed)``."""
        return catalog_failures.counts(self.db, model_id)

    def root_counts(self) -> dict[int, tuple[int, int]]:
        """``root_id -> (photos, failed)``."""
        return catalog_failures.root_counts(self.db)

    def note_crash(self, path: str, size: int, mtime: float) -> int:
        """Count a crash while decoding ``path``; returns its crashes for this content."""
        return self._write(catalog_failures.note_crash, path, size, mtime)

    def suspects(self) -> dict[str, tuple[int, float, int]]:
        """``path -> (size, mtime, crashes)`` of files that were being decoded in a crash."""
        return catalog_failures.suspects(self.db)

    def clear_suspects(self, paths: Iterable[str]) -> None:
        self._write(catalog_failures.clear_suspects, paths)


def _remove_copies(db: sqlite_utils.Database, keeper_id: int, removed: Sequence[int]) -> None:
    words = catalog_copies.searchable_words(db, removed)
    paths = catalog_copies.copy_facts(db, removed)
    catalog_copies.carry_words(db, keeper_id, [(paths[i].path if i in paths else "", words[i])
                                               for i in removed if i in words])
    catalog_photos.remove_photos(db, removed)
