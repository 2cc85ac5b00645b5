"""The catalog's schema, as an append-only list of migrations.

Migration N brings a database from schema version N-1 to N (``PRAGMA user_version``);
:class:`core.store.catalog.Catalog` runs the missing ones, each in its own transaction, when it
opens a file. Never edit a released migration: add a new one.

A released migration is self-contained: it runs nothing of the live code that may
change later (the words' tokenizer, the catalog), only this module's frozen copies and
core.store.stored_paths, the fixed encoding of the path columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

import sqlite_utils

from core.store.stored_paths import from_db


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            added_at TEXT NOT NULL
        );
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            root_id INTEGER NOT NULL REFERENCES roots(id),
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            content_hash TEXT,
            width INTEGER,
            height INTEGER,
            format TEXT,
            taken_at TEXT,
            camera TEXT,
            date TEXT,               -- taken_at, or the file's mtime when EXIF has no date
            status TEXT NOT NULL,    -- 'ok' (decodable) or 'failed' (see error)
            error TEXT,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX photos_root ON photos(root_id);
        CREATE INDEX photos_hash ON photos(content_hash);
        CREATE INDEX photos_date ON photos(date);
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            dim INTEGER NOT NULL,
            seq INTEGER NOT NULL DEFAULT 0  -- bumped by every write of the model's vectors
        );
        CREATE TABLE embeddings (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            vector BLOB NOT NULL,    -- little-endian float16, L2-normalised
            seq INTEGER NOT NULL,    -- change counter: the vector index records the last it saw
            PRIMARY KEY (photo_id, model_id)
        );
        CREATE INDEX embeddings_seq ON embeddings(model_id, seq);
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE suspects (       -- files being decoded when Pictor crashed
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,     -- the file as it was then: a changed file is retried
            mtime REAL NOT NULL,
            crashes INTEGER NOT NULL
        );
        """
    )


# Migration 3's words, frozen as core.words.keywords wrote them when it was released:
# the migration must build the same rows on every future upgrade from schema 2, whatever
# the live tokenizer becomes (a new tokenizer is a new migration that rewrites the rows).
_V3_TABLE = "photo_words"
_V3_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_V3_TOKEN = re.compile(rf"[{_V3_CJK}]+|(?:(?![{_V3_CJK}])[^\W\d_])+|\d+")
_V3_CJK_RUN = re.compile(rf"^[{_V3_CJK}]+$")


def _v3_index_text(text: str) -> str:
    """Runs of letters and of digits, lower case; each CJK character a word of its own."""
    out: list[str] = []
    for run in _V3_TOKEN.findall(text):
        if _V3_CJK_RUN.match(run):
            out.extend(run)
        else:
            out.append(run.lower())
    return " ".join(out)


def _v3_name_and_folders(path: str, root: str | None) -> tuple[str, str]:
    """The file's name, and its folders from the root's own name on (else its last three)."""
    pure = PurePath(path)
    parents = pure.parent
    if root is not None:
        try:
            inside = parents.relative_to(root).parts
            folders = [PurePath(root).name, *inside]
        except ValueError:
            folders = list(parents.parts[-3:])
    else:
        folders = list(parents.parts[-3:])
    return _v3_index_text(pure.name), _v3_index_text(" ".join(folders))


def _v3_write_words(db: sqlite_utils.Database, photo_id: int, path: str,
                    root: str | None) -> None:
    name, folders = _v3_name_and_folders(path, root)
    cursor = db.execute(f"UPDATE {_V3_TABLE} SET name = ?, folders = ? WHERE rowid = ?",
                        [name, folders, photo_id])
    if not cursor.rowcount:
        db.execute(f"INSERT INTO {_V3_TABLE}(rowid, name, folders, words) VALUES (?, ?, ?, '')",
                   [photo_id, name, folders])


def _migrate_3(db: sqlite_utils.Database) -> None:
    """Full-text words of every photo (see core.words.keywords), kept in step by the writes;
    the rows of the photos already there are written with the frozen copy above."""
    # execute, not executescript: the table, the trigger and the rows commit together.
    db.execute(f"CREATE VIRTUAL TABLE {_V3_TABLE} USING fts5("
               "name, folders, words, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute(f"CREATE TRIGGER photos_words_delete AFTER DELETE ON photos BEGIN "
               f"DELETE FROM {_V3_TABLE} WHERE rowid = old.id; END")
    roots = {int(r[0]): from_db(str(r[1])) for r in db.execute("SELECT id, path FROM roots")}
    for photo_id, root_id, path in db.execute("SELECT id, root_id, path FROM photos").fetchall():
        _v3_write_words(db, int(photo_id), from_db(str(path)), roots.get(int(root_id)))


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Automatic tags per photo and model (core.search.captions), and a ``tags`` column in the
    full-text table so that typed words find tagged photos. FTS5 tables cannot gain a
    column, so the table is copied into a new one."""
    db.execute(
        "CREATE TABLE photo_tags ("
        " photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,"
        " model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,"
        " tags TEXT NOT NULL,"  # JSON [[term, score 0-100], ...], best first
        " PRIMARY KEY (photo_id, model_id))"
    )
    db.execute("CREATE INDEX photo_tags_model ON photo_tags(model_id)")
    db.execute("CREATE VIRTUAL TABLE photo_words_new USING fts5(name, folders, words, tags, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO photo_words_new(rowid, name, folders, words, tags) "
               "SELECT rowid, name, folders, words, '' FROM photo_words")
    db.execute("DROP TRIGGER photos_words_delete")
    db.execute("DROP TABLE photo_words")
    db.execute("ALTER TABLE photo_words_new RENAME TO photo_words")
    db.execute("CREATE TRIGGER photos_words_delete AFTER DELETE ON photos BEGIN "
               "DELETE FROM photo_words WHERE rowid = old.id; END")


def _migrate_5(db: sqlite_utils.Database) -> None:
    """A signature of each photo's sidecar files (core.words.sidecars), so that a scan notices a
    sidecar edited while the photo did not change. Photos indexed before have ''; those
    with sidecars now get their words read once more by the next scan."""
    db.execute("ALTER TABLE photos ADD COLUMN sidecars TEXT NOT NULL DEFAULT ''")


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Text read in each photo (its lines with their boxes, or why it could not be read) and
    where it was taken (GPS position and place name), and ``text`` and ``place`` columns in
    the full-text table (copied into a new table, as FTS5 tables cannot gain a column).
    Photos indexed before have no text row: the next run's text pass reads them, and their
    position with them."""
    db.execute("ALTER TABLE photos ADD COLUMN lat REAL")
    db.execute("ALTER TABLE photos ADD COLUMN lon REAL")
    db.execute("ALTER TABLE photos ADD COLUMN place TEXT")
    db.execute(
        "CREATE TABLE photo_text ("
        " photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,"
        " lines TEXT NOT NULL,"  # JSON [{"text", "box": [[x, y] x 4], "confidence"}, ...]
        " error TEXT,"  # set: the text could not be read (the reason); lines is []
        " read_at TEXT NOT NULL)"
    )
    db.execute("CREATE VIRTUAL TABLE photo_words_new USING fts5(name, folders, words, tags, "
               "text, place, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO photo_words_new(rowid, name, folders, words, tags, text, place) "
               "SELECT rowid, name, folders, words, tags, '', '' FROM photo_words")
    db.execute("DROP TRIGGER photos_words_delete")
    db.execute("DROP TABLE photo_words")
    db.execute("ALTER TABLE photo_words_new RENAME TO photo_words")
    db.execute("CREATE TRIGGER photos_words_delete AFTER DELETE ON photos BEGIN "
               "DELETE FROM photo_words WHERE rowid = old.id; END")


def _migrate_7(db: sqlite_utils.Database) -> None:
    """What the duplicate finder needs: a print of each photo's picture (a small summary of
    its pixels that tells copies of one picture from different shots of a scene, made when
    the photo is decoded for the model; photos indexed before get theirs from their files
    when the finder first needs them), and the words of copies the user moved to the Trash,
    kept on the copy that stayed so that they still find it."""
    db.execute(
        "CREATE TABLE photo_prints ("
        " photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,"
        " print BLOB NOT NULL)"  # core.photos.likeness.picture_print
    )
    db.execute(
        "CREATE TABLE carried_words ("
        " photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,"
        " words TEXT NOT NULL,"  # searchable words of the removed copies
        " sources TEXT NOT NULL)"  # JSON [path, ...] of the copies they came from
    )


def _migrate_8(db: sqlite_utils.Database) -> None:
    """Videos beside photos: a video is a row of ``photos`` (its poster vector in
    ``embeddings``, as a photo's) with ``kind`` 'video' and its length, and each of its
    moments has a vector of its own per model, at its time from the start."""
    db.execute("ALTER TABLE photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo'")
    db.execute("ALTER TABLE photos ADD COLUMN duration_s REAL")
    db.execute(
        "CREATE TABLE video_frames ("
        " photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,"
        " model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,"
        " frame INTEGER NOT NULL,"  # the moment's number in the video, from 0
        " time_s REAL NOT NULL,"  # seconds from the start, as players count them
        " vector BLOB NOT NULL,"  # little-endian float16, L2-normalised
        " seq INTEGER NOT NULL,"  # the model's change counter, as in embeddings
        " PRIMARY KEY (photo_id, model_id, frame))"
    )
    db.execute("CREATE INDEX video_frames_seq ON video_frames(model_id, seq)")


# Append-only (see the module docstring).
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migrate_1, _migrate_2,
                                                             _migrate_3, _migrate_4,
                                                             _migrate_5, _migrate_6,
                                                             _migrate_7, _migrate_8]
SCHEMA_VERSION = len(MIGRATIONS)
