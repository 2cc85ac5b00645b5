"""Marker files that name the photo each decode thread is reading right now.

If a decoder crashes the whole process (a segfault in a C library on a malicious or
broken file), no Python code runs to record which file did it. So each decode thread
writes the path it is about to decode into its own small file and empties it afterwards;
on the next run, markers left by a process that is no longer alive name the suspects.
The writes go to the page cache (no fsync): a process crash keeps them, which is all that
matters here, and they cost a few microseconds per photo.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core.files import private_dir

_PREFIX = "decode-"


class InflightMarkers:
    """One marker file per decode thread, named ``decode-<pid>-<thread id>``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[int, Path]] = []

    def _file(self) -> int:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None:
            private_dir(self.folder)
            path = self.folder / f"{_PREFIX}{os.getpid()}-{threading.get_ident()}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._local.fd = fd
            with self._lock:
                self._open.append((fd, path))
        return fd

    def begin(self, path: str) -> None:
        fd = self._file()
        os.ftruncate(fd, 0)
        os.pwrite(fd, os.fsencode(path), 0)

    def end(self) -> None:
        os.ftruncate(self._file(), 0)

    def close(self) -> None:
        """Close and remove this process's markers (once its decode threads are done)."""
        with self._lock:
            for fd, path in self._open:
                os.close(fd)
                path.unlink(missing_ok=True)
            self._open.clear()
        self._local = threading.local()

    def collect_dead(self) -> list[str]:
        """Paths left in markers of processes that died, and remove those markers.

        Markers of live processes (another Pictor indexing the same library) are left.
        """
        found: list[str] = []
        if not self.folder.is_dir():
            return found
        for marker in self.folder.glob(f"{_PREFIX}*"):
            pid = _pid_of(marker.name)
            if pid is None or _alive(pid):
                continue
            try:
                content = marker.read_bytes()
                marker.unlink()
            except OSError:
                continue
            if content:
                found.append(os.fsdecode(content))
        return found


def _pid_of(name: str) -> int | None:
    try:
        return int(name[len(_PREFIX):].split("-")[0])
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
