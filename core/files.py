"""Files Pictor writes for itself: replaced whole or not at all, and read back forgivingly."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def private_dir(folder: Path) -> Path:
    """``folder`` and any missing parents, created readable by this user only (0700, not
    what the umask allows): Pictor's data describes the user's photos."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process: left as it is
            continue
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask (only ever less)
    return folder


@contextmanager
def replaced(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write; renamed over ``target`` when the block
    ends well, deleted when it fails, so readers see the old file or the new, never half."""
    private_dir(target.parent)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably (fsync) and atomically."""
    with replaced(path) as tmp, open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def fsync_file(path: Path) -> int:
    """Flush a written file to the disk; returns its size."""
    fd = os.open(path, os.O_RDWR)  # Windows needs write access to flush
    try:
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make the renames durable; POSIX only, and best effort (some filesystems refuse)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
