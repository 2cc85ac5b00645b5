"""The released migrations: self-contained (they run nothing of the live code that may
change), and migration 3 builds the words it built when it was released."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

import core.store.schema as schema
from core.store.catalog import Catalog
from core.store.schema import MIGRATIONS
from core.store.stored_paths import from_db, to_db


def test_migrations_import_only_the_fixed_path_encoding() -> None:
    """A released migration must give the same database on every future upgrade, so it
    calls no live code (the catalog, the words' tokenizer), at any depth."""
    tree = ast.parse(Path(schema.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.split(".")[0] == "core"} == {
        "core.store.stored_paths"}


def _schema_2(path: Path, photos: list[tuple[str, str | None]]) -> None:
    """A library as Pictor left it at schema 2: ``(photo path, root path)`` rows."""
    conn = sqlite3.connect(path)
    for migrate in MIGRATIONS[:2]:
        migrate(sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 2")
    roots: dict[str, int] = {}
    for photo, root in photos:
        if root is not None and root not in roots:
            cursor = conn.execute("INSERT INTO roots(path, added_at) VALUES (?, 'then')",
                                  [to_db(root)])
            roots[root] = int(cursor.lastrowid or 0)
        conn.execute("INSERT INTO photos(root_id, path, size, mtime, status, added_at, "
                     "updated_at) VALUES (?, ?, 1, 1.0, 'ok', 'then', 'then')",
                     [roots.get(root, 999) if root else 999, to_db(photo)])
    conn.commit()
    conn.close()


def test_migration_3_writes_the_words_it_wrote_when_released(tmp_path: Path) -> None:
    photos: list[tuple[str, str | None]] = [
        ("/lib/beach\udce9day.jpg", "/lib"),  # a name that is not UTF-8
        ("/lib/Été 2019/IMG_2041海边日落.jpg", "/lib"),
        ("/lib/a/b/c/d/e.JPG", "/lib"),
        ("/other/place/x_y%z.png", "/somewhere/else"),  # not under its root: last folders
        ("/lib/한국어 사진/ÅΩ ж.heic", "/lib"),
        ("/far/away/from/any/root.jpg", None),  # a root that is gone
    ]
    _schema_2(tmp_path / "old.db", photos)
    Catalog(tmp_path / "old.db").close()
    conn = sqlite3.connect(tmp_path / "old.db")
    rows = conn.execute("SELECT name, folders, words, tags FROM photo_words "
                        "ORDER BY rowid").fetchall()
    conn.close()
    assert rows == [
        ("beach day jpg", "lib", "", ""),
        ("img 2041 海 边 日 落 jpg", "lib été 2019", "", ""),
        ("e jpg", "lib a b c d", "", ""),
        ("x y z png", "other place", "", ""),
        ("åω ж heic", "lib 한 국 어 사 진", "", ""),
        ("root jpg", "away from any", "", ""),
    ]


def test_stored_paths_round_trip_and_keep_valid_text_as_it_is() -> None:
    odd = "/lib/beach\udce9\udc80day.jpg"
    assert to_db(odd) == "/lib/beach\U000f00e9\U000f0080day.jpg"
    assert from_db(to_db(odd)) == odd
    assert to_db("/lib/海边 é.jpg") == "/lib/海边 é.jpg" == from_db("/lib/海边 é.jpg")


def test_a_migration_that_fails_midway_is_undone_and_runs_again(tmp_path: Path) -> None:
    """All of a migration or none of it: a power cut between migration 4's statements
    (the words table dropped, its copy not renamed yet) must not leave a library that no
    longer opens."""
    _schema_2(tmp_path / "old.db", [("/lib/lighthouse.jpg", "/lib")])
    migrate_4 = MIGRATIONS[3]

    def cut_off(db: sqlite_utils.Database) -> None:
        real = db.execute

        def execute(sql: str, *args: object) -> sqlite3.Cursor:
            if sql.startswith("ALTER TABLE photo_words_new"):
                raise OSError("power cut")
            return real(sql, *args)

        db.execute = execute  # type: ignore[method-assign]
        migrate_4(db)

    MIGRATIONS[3] = cut_off
    try:
        with pytest.raises(OSError, match="power cut"):
            Catalog(tmp_path / "old.db")
    finally:
        MIGRATIONS[3] = migrate_4
    conn = sqlite3.connect(tmp_path / "old.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # migration 3 stays
    conn.close()
    with Catalog(tmp_path / "old.db") as catalog:
        assert catalog.photos_with_words("anything") == []
        assert catalog.integrity_ok()
        assert catalog.db.execute("SELECT name FROM photo_words").fetchall() == [
            ("lighthouse jpg",)]
