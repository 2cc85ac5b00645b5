"""File-system events as hints: collect them, debounce them, hand over settled paths.

watchdog's threads call :class:`RootEventHandler` for every event; the handler turns it
into a *hint* in a thread-safe :class:`PendingPaths` (path → when it was last seen and its
size and modification time then). The writer thread asks :meth:`PendingPaths.take_ready`
for the paths whose size and mtime stayed the same for the settle time, so a file still
being copied is handed over once, complete. Hints are never the truth: when too many pile
up (a burst) or events are lost, the collector raises a flag and the watcher reconciles.
:func:`filesystem_type` tells network shares (which may raise no events) apart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)

from core.photos.formats import PHOTO_EXTENSIONS
from core.photos.video_names import VIDEO_EXTENSIONS
from core.words import sidecars

logger = logging.getLogger(__name__)

Signature = tuple[int, int] | None
"""``(size, mtime_ns)`` of an existing file, ``(-1, mtime_ns)`` of a folder, None if gone."""

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "lustre", "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gvfsd-fuse", "davfs",
    "fuse.davfs2",
})  # shares where changes made by other machines raise no local events: poll them
_FILE_EVENTS = {EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED, EVENT_TYPE_DELETED,
                EVENT_TYPE_MOVED}


def signature(path: str) -> Signature:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (-1 if os.path.isdir(path) else stat.st_size), stat.st_mtime_ns


@dataclass(slots=True)
class _Hint:
    seen_at: float  # monotonic time of the last event or of the last change of `sig`
    sig: Signature
    is_dir: bool
    partner: str | None = None  # the other side of a move


@dataclass(slots=True)
class PendingPaths:
    """Paths that changed, waiting to settle; shared by watchdog threads and the writer.

    ``max_pending`` bounds memory in a burst: beyond it, hints are dropped and
    :attr:`overflowed` is set, so the writer reconciles the roots instead.
    """

    max_pending: int = 20_000
    _hints: dict[str, _Hint] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _overflow_roots: set[str] = field(default_factory=set)
    last_event_at: float = 0.0

    def add(self, path: str, *, root: str, is_dir: bool = False,
            partner: str | None = None) -> None:
        sig = signature(path)
        now = time.monotonic()
        with self._lock:
            self.last_event_at = now
            if root in self._overflow_roots:
                return  # a reconciliation of this root is coming anyway
            if path not in self._hints and len(self._hints) >= self.max_pending:
                self._overflow_roots.add(root)
                logger.warning("more than %d changes pending; will rescan %s instead",
                               self.max_pending, root)
                return
            self._hints[path] = _Hint(now, sig, is_dir, partner)

    def overflow(self, root: str) -> None:
        """Events for ``root`` were lost (queue overflow, watcher error): rescan it."""
        with self._lock:
            self._overflow_roots.add(root)
            self.last_event_at = time.monotonic()

    def take_overflowed(self) -> set[str]:
        """The roots to reconcile because of lost or dropped events (and forget them)."""
        with self._lock:
            roots, self._overflow_roots = self._overflow_roots, set()
            return roots

    def forget_under(self, folder: str) -> None:
        """Drop the hints of a folder that is about to be reconciled whole."""
        prefix = folder.rstrip(os.sep) + os.sep
        with self._lock:
            for path in [p for p in self._hints if p == folder or p.startswith(prefix)]:
                del self._hints[path]

    def __len__(self) -> int:
        with self._lock:
            return len(self._hints)

    def quiet_for(self, now: float) -> float:
        with self._lock:
            return now - self.last_event_at

    def take_ready(self, now: float, *, settle_s: float, min_age_s: float,
                   max_hold_s: float) -> list[str]:
        """The paths that settled, removed from the set; the rest wait.

        An existing path is ready when no event came and its size and mtime did not change
        for ``settle_s`` (and at least ``min_age_s``, the time watchdog needs to pair the
        two halves of a move); the other side of a move comes along with it. A path that
        is gone waits until every existing path has settled (at most ``max_hold_s``): it
        may be the source of a move whose target is still pending (a move across roots
        arrives as a deletion and a creation), and both must reach the indexer together
        for the photo to keep its record.
        """
        wait = max(settle_s, min_age_s)
        with self._lock:
            due = [(p, h) for p, h in self._hints.items() if now - h.seen_at >= wait]
        fresh = {p: signature(p) for p, h in due if h.sig is not None}
        ready: set[str] = set()
        with self._lock:
            for path, sig in fresh.items():
                hint = self._hints.get(path)
                if hint is None or now - hint.seen_at < wait:
                    continue  # a new event came meanwhile
                if sig == hint.sig:
                    ready.add(path)
                    if hint.partner in self._hints:
                        ready.add(hint.partner)
                else:  # still changing (or just removed): wait another settle time
                    hint.sig, hint.seen_at = sig, now
            unsettled = any(h.sig is not None and p not in ready
                            for p, h in self._hints.items())
            for path, hint in self._hints.items():
                if hint.sig is not None or path in ready:
                    continue
                held = now - hint.seen_at >= max_hold_s
                paired = hint.partner in self._hints and hint.partner not in ready
                if held or not (paired or unsettled):
                    ready.add(path)
            for path in ready:
                del self._hints[path]
        return _drop_covered(list(ready))


def _drop_covered(paths: list[str]) -> list[str]:
    """Paths without those inside another listed path (a folder is handed over whole)."""
    result: list[str] = []
    for path in sorted(set(paths)):
        if result and path.startswith(result[-1].rstrip(os.sep) + os.sep):
            continue
        result.append(path)
    return result


class RootEventHandler(FileSystemEventHandler):
    """Turns one root's watchdog events into hints (runs in watchdog's threads)."""

    def __init__(self, root: str, pending: PendingPaths) -> None:
        self.root = root
        self.pending = pending
        self.events = 0

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self.events += 1
            if event.event_type not in _FILE_EVENTS:
                return
            if event.is_directory and event.event_type in {EVENT_TYPE_MODIFIED,
                                                            EVENT_TYPE_CREATED}:
                return  # a folder's own changes say nothing; its files get their events
            paths = [os.fsdecode(event.src_path)]
            if event.event_type == EVENT_TYPE_MOVED:
                paths.append(os.fsdecode(event.dest_path))
            for path, partner in zip(paths, reversed(paths), strict=True):
                if path and self._relevant(path, is_dir=event.is_directory):
                    self.pending.add(path, root=self.root, is_dir=event.is_directory,
                                     partner=partner if partner != path else None)
        except Exception:  # never let a hint kill watchdog's thread: rescan instead
            logger.exception("cannot handle a file event under %s", self.root)
            self.pending.overflow(self.root)

    def _relevant(self, path: str, *, is_dir: bool) -> bool:
        try:
            parts = Path(path).relative_to(self.root).parts
        except ValueError:
            return False
        if not parts or any(part.startswith(".") for part in parts):
            return False  # the root itself, or hidden (the scanner skips those too)
        # A sidecar (IMG_1.xmp) holds a photo's words: the indexer re-reads that photo's.
        extension = os.path.splitext(path)[1].lower()
        return (is_dir or extension in PHOTO_EXTENSIONS or extension in VIDEO_EXTENSIONS
                or sidecars.is_sidecar(path))


def filesystem_type(path: str) -> str | None:
    """The type of the file system holding ``path`` (Linux; None elsewhere or unknown)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > best[0]):
            best = len(point), fields[2]
    return best[1] if best else None
