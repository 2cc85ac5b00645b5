"""Rolling backups of the library database, and recovery from a damaged one.

The catalog is the only thing Pictor cannot rebuild by itself (the vector index can be
rebuilt from it, the photos are the user's), so a few recent copies are kept next to it.
Copies are taken with SQLite's online backup API, which gives a consistent snapshot even
while another connection writes.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from core.files import private_dir
from core.store.connection import Verdict, read_only_uri, verdict

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
    folder = private_dir(db_path.parent / BACKUPS_DIR)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{db_path.stem}-{stamp}.db"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(read_only_uri(db_path), uri=True)
    try:
        destination = sqlite3.connect(partial)
        os.chmod(partial, 0o600)
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


class Health(enum.Enum):
    OK = "ok"
    EMPTY = "empty"
    """Missing or zero bytes: SQLite would silently start a new, empty library there."""
    DAMAGED = "damaged"
    UNKNOWN = "unknown"
    """Locked by another program, or unreadable to this user: nothing to repair."""


def is_empty(db_path: Path) -> bool:
    """Missing or zero bytes, by ``stat`` alone (cheap enough for every open)."""
    try:
        return db_path.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def health(db_path: Path) -> Health:
    """What state the database file is in. Only a file SQLite calls "not a database" or
    "malformed", or that fails ``quick_check``, is damaged; a lock or a permission says
    nothing about the file (core.store.connection)."""
    try:
        if db_path.stat().st_size == 0:
            return Health.EMPTY
    except FileNotFoundError:
        return Health.EMPTY
    except OSError:
        return Health.UNKNOWN
    try:
        conn = sqlite3.connect(read_only_uri(db_path), uri=True, timeout=1.0)
        try:
            ok = str(conn.execute("PRAGMA quick_check").fetchone()[0]) == "ok"
        finally:
            conn.close()
    except sqlite3.Error as error:
        return Health.DAMAGED if verdict(error) is Verdict.DAMAGED else Health.UNKNOWN
    return Health.OK if ok else Health.DAMAGED


def is_healthy(db_path: Path) -> bool:
    """True when SQLite can open the file and ``quick_check`` finds nothing wrong."""
    return health(db_path) is Health.OK


def restore_if_damaged(db_path: Path) -> str | None:
    """Replace a damaged database, or a missing or empty one that has backups, by the
    newest healthy backup; say what was done.

    What was there is kept beside it (``library.db.damaged-<time>``), never deleted.
    Returns a sentence for the user, or None when nothing was done (a healthy database,
    a locked or unreadable one, or a new library without backups). Two programs opening
    the library at once restore it once: the second finds it healthy.
    """
    from filelock import FileLock, Timeout

    state = health(db_path)
    if state in (Health.OK, Health.UNKNOWN) or (state is Health.EMPTY
                                                and not backups(db_path)):
        return None  # nothing to repair, or a new library: nothing to restore
    lock = FileLock(str(db_path.with_name(db_path.name + ".restore-lock")), timeout=60,
                    mode=0o600)
    try:
        with lock:
            return _restore(db_path)
    except (OSError, Timeout) as error:  # a read-only folder: opening will say what is wrong
        log.warning("the library database could not be restored: %s", error)
        return None


def _restore(db_path: Path) -> str | None:
    state = health(db_path)
    if state in (Health.OK, Health.UNKNOWN):
        return None
    newest = next((c for c in backups(db_path) if is_healthy(c)), None)
    if state is Health.EMPTY and newest is None:
        return None  # a new library (or one that never had a backup): nothing to restore
    try:
        kept = _set_aside(db_path, "damaged" if state is Health.DAMAGED else "empty")
        if newest is not None:
            shutil.copyfile(newest, db_path)
            os.chmod(db_path, 0o600)
    except OSError as error:  # e.g. a read-only folder: opening will say what is wrong
        log.warning("the library database could not be restored: %s", error)
        return None
    what = ("was damaged" if state is Health.DAMAGED
            else "was empty" if kept is not None else "was missing")
    aside = f" The {state.value} file was kept as {kept.name}." if kept is not None else ""
    if newest is None:
        message = (f"the library database {what} and no healthy backup exists; a new one "
                   f"was started; run index again.{aside}")
    else:
        taken = datetime.fromtimestamp(newest.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        message = (f"the library database {what} and has been restored from the backup of "
                   f"{taken} ({newest.name}); photos added since then will be indexed "
                   f"again.{aside}")
    log.warning(message)
    return message


def _set_aside(db_path: Path, why: str) -> Path | None:
    """Rename the database and its WAL files to ``<name>.<why>-<time>`` (WAL files left
    without their database too: SQLite would replay them onto the restored copy); returns
    the database's new name, None if it was absent."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = db_path.with_name(f"{db_path.name}.{why}-{stamp}")
    present = db_path.exists()
    if present:
        os.replace(db_path, kept)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    return kept if present else None
