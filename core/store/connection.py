"""Opening the library database: another program's lock, read-only folders, and telling
real damage apart from both.

"database is locked" and "attempt to write a readonly database" say nothing about the
file's health: a locked library is waited for, then given up cleanly; a read-only one is
opened read-only (search works, changes are refused with a reason). Only SQLite's "file
is not a database", "database disk image is malformed" or a failed check mean damage,
and only damage may make Pictor set the file aside and restore a backup.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from core import errors
from core.errors import BUSY_MESSAGE, LibraryBusyError, sqlite_code

WAIT_ENV = "PICTOR_BUSY_WAIT_S"
"""How long to wait for another program's lock on the library, in seconds (default 60):
when opening it, and for each write once it is open (another writer's commit is quick;
a lock held for a minute is a program that will not let go)."""
DEFAULT_WAIT_S = 60.0
RETRY_S = 1.0

T = TypeVar("T")

WAITING = "another program is using the library; waiting…"


class Verdict(enum.Enum):
    BUSY = "busy"
    """Another connection holds a lock: wait, never repair."""
    READ_ONLY = "read-only"
    """The file or its folder cannot be written (or created) by this user."""
    DAMAGED = "damaged"
    OTHER = "other"


def verdict(error: BaseException) -> Verdict:
    """What an error raised while opening or reading the database says about it."""
    if isinstance(error, PermissionError):
        return Verdict.READ_ONLY
    if not isinstance(error, sqlite3.Error):
        return Verdict.OTHER
    code = sqlite_code(error)
    if code in (errors.SQLITE_BUSY, errors.SQLITE_LOCKED):
        return Verdict.BUSY
    if code in (errors.SQLITE_READONLY, errors.SQLITE_CANTOPEN, errors.SQLITE_PERM,
                errors.SQLITE_AUTH):
        return Verdict.READ_ONLY
    if code in (errors.SQLITE_CORRUPT, errors.SQLITE_NOTADB):
        return Verdict.DAMAGED
    return Verdict.OTHER


def wait_limit_s() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def read_only_uri(path: Path, *, immutable: bool = False) -> str:
    """A URI that opens ``path`` without writing. ``immutable`` also skips the lock and
    WAL files, which a read-only folder cannot hold: only for a folder nobody can write."""
    return f"file:{quote(os.fspath(path.resolve()))}?{'immutable=1' if immutable else 'mode=ro'}"


def writable(path: Path) -> bool:
    """Whether this user can change the database at ``path`` (or create it)."""
    folder = path.parent
    if path.exists():
        return os.access(path, os.R_OK | os.W_OK) and os.access(folder, os.W_OK | os.X_OK)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: a normal one where SQLite can keep its lock files beside
    the database, else an immutable snapshot (a read-only folder or disk). Waits only
    briefly on a lock, so that the caller's retry can tell the user it waits."""
    try:
        return _checked(sqlite3.connect(read_only_uri(path), uri=True,
                                        check_same_thread=False, timeout=RETRY_S))
    except sqlite3.Error as error:
        if verdict(error) is not Verdict.READ_ONLY:
            raise
    return _checked(sqlite3.connect(read_only_uri(path, immutable=True), uri=True,
                                    check_same_thread=False))


def _checked(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn`` once a first read worked (closed when it did not)."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {int(wait_limit_s() * 1000)}")
    except BaseException:
        conn.close()
        raise
    return conn


def retry_while_busy(attempt: Callable[[], T], *,
                        on_wait: Callable[[str], None] | None = None,
                        wait_s: float | None = None) -> T:
    """``attempt()``, again while another program holds the database locked, for up to
    ``wait_s`` (``$PICTOR_BUSY_WAIT_S``, default 60 s); ``on_wait`` hears once that
    Pictor is waiting. Raises LibraryBusyError when the wait runs out."""
    limit = wait_limit_s() if wait_s is None else wait_s
    deadline = time.monotonic() + limit
    told = False
    while True:
        try:
            return attempt()
        except sqlite3.Error as error:
            if verdict(error) is not Verdict.BUSY:
                raise
            if time.monotonic() >= deadline:
                raise LibraryBusyError(BUSY_MESSAGE.format(
                    detail=f"still locked after {limit:.0f} s")) from error
            if not told and on_wait is not None:
                on_wait(WAITING)
                told = True
            time.sleep(min(RETRY_S, max(0.0, deadline - time.monotonic())))
