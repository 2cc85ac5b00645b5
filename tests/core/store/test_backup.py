"""Rolling catalog backups and recovery from a damaged database."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from core.library import Library
from core.store import backup
from core.store.catalog import Catalog


def _catalog_with_root(path: Path, root: str) -> None:
    with Catalog(path) as catalog:
        catalog.add_root(root)


def test_backups_roll_and_keep_the_newest(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    _catalog_with_root(db, "/photos")
    made = [backup.backup(db, keep=3) for _ in range(5)]
    assert backup.backups(db) == sorted(made[-3:], reverse=True)
    assert all(backup.is_healthy(p) for p in backup.backups(db))


def test_backup_if_due_respects_the_interval(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    assert backup.backup_if_due(db) is None  # nothing to back up yet
    _catalog_with_root(db, "/photos")
    first = backup.backup_if_due(db, min_interval_s=3600)
    assert first is not None
    assert backup.backup_if_due(db, min_interval_s=3600) is None
    old = time.time() - 7200
    os.utime(first, (old, old))
    assert backup.backup_if_due(db, min_interval_s=3600) is not None


def test_a_damaged_database_is_restored_from_the_newest_healthy_backup(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    _catalog_with_root(db, "/photos")
    backup.backup(db)
    with Catalog(db) as catalog:
        catalog.add_root("/added-after-the-backup")
    garbage = random.Random(0).randbytes(8192)  # fixed: random headers fail in random ways
    db.write_bytes(b"SQLite format 3\x00" + garbage)  # garbage behind the header

    with Library(tmp_path, verify=True) as library:
        assert [p for _, p in library.catalog.roots()] == ["/photos"]
        assert len(library.notices) == 1 and "restored from the backup" in library.notices[0]
    # The damaged file is kept, never deleted (with its -wal/-shm if SQLite made them).
    damaged = [p for p in tmp_path.glob("library.db.damaged-*")
               if not p.name.endswith(("-wal", "-shm"))]
    assert len(damaged) == 1
    assert damaged[0].read_bytes()[16:] == garbage


def test_a_file_that_is_not_a_database_is_restored_even_without_verify(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    _catalog_with_root(db, "/photos")
    backup.backup(db)
    for side in tmp_path.glob("library.db-*"):
        side.unlink()
    db.write_bytes(b"not a database at all" * 100)
    with Library(tmp_path) as library:
        assert [p for _, p in library.catalog.roots()] == ["/photos"]
        assert library.notices


def test_damage_without_backup_starts_fresh_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    db.write_bytes(b"not a database at all" * 100)
    with Library(tmp_path, verify=True) as library:
        assert library.catalog.roots() == []
        assert "no healthy backup" in library.notices[0]
    assert list(tmp_path.glob("library.db.damaged-*"))


def test_a_healthy_database_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    _catalog_with_root(db, "/photos")
    with Library(tmp_path, verify=True) as library:
        assert library.notices == []
    assert not list(tmp_path.glob("library.db.damaged-*"))
