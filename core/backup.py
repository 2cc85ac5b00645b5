"""Rolling backups of the library database, and recovery from a damaged one.

The catalog is the only thing Pictor cannot rebuild by itself (the vector index can be
rebuilt from it, the photos are the user's), so a few recent copies are kept next to it.
Copies are taken with SQLite's online backup API, which gives a consistent snapshot even
while another connection writes.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

BACKUPS_DIR = "backups"
KEEP = 3
MIN_INTERVAL_S = 6 * 3600


def backups(db_path: Path) -> list[Path]:
    """Existing backups, newest first."""
    folder = db_path.parent / BACKUPS_DIR
    return sorted(folder.glob(f"{db_path.stem}-*.db"), reverse=True)


def backup(db_path: Path, *, keep: int = KEEP) -> Path:
    """Copy the database into ``backups/`` and drop all but the ``keep`` newest copies."""
    folder = db_path.parent / BACKUPS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{db_path.stem}-{stamp}.db"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        destination = sqlite3.connect(partial)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    os.replace(partial, target)
    for old in backups(db_path)[keep:]:
        old.unlink(missing_ok=True)
    return target


def backup_if_due(db_path: Path, *, min_interval_s: float = MIN_INTERVAL_S) -> Path | None:
    """Take a backup when the newest one is older than ``min_interval_s``."""
    if not db_path.exists():
        return None
    existing = backups(db_path)
    if existing and time.time() - existing[0].stat().st_mtime < min_interval_s:
        return None
    return backup(db_path)


def is_healthy(db_path: Path) -> bool:
    """True when SQLite can open the file and ``quick_check`` finds nothing wrong."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return str(conn.execute("PRAGMA quick_check").fetchone()[0]) == "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def restore_if_damaged(db_path: Path) -> str | None:
    """Replace a damaged database by the newest healthy backup; say what was done.

    The damaged file is kept beside it (``library.db.damaged-<time>``), never deleted.
    Returns a sentence for the user, or None when the database was fine or absent.
    """
    if not db_path.exists() or is_healthy(db_path):
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    os.replace(db_path, kept)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    for candidate in backups(db_path):
        if is_healthy(candidate):
            shutil.copyfile(candidate, db_path)
            taken = datetime.fromtimestamp(candidate.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            message = (f"the library database was damaged and has been restored from the "
                       f"backup of {taken} ({candidate.name}); photos added since then will "
                       f"be indexed again. The damaged file was kept as {kept.name}")
            log.warning(message)
            return message
    message = (f"the library database was damaged and no healthy backup exists; a new one "
               f"was started (the damaged file was kept as {kept.name}); run index again")
    log.warning(message)
    return message
