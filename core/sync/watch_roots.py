"""One observer per library folder, kept alive as folders go offline, come back, or lose it.

Part of the watching policy (:class:`core.sync.watch_policy.WatchPolicy`) that the command
line and the window share, so both follow a folder the same way: native events where the
system gives them, polling on network shares and when the watch limit is reached, periodic
rescans when neither works. :meth:`RootObservers.check`, called every few seconds, notices
a drive unplugged (its photos are kept: an offline folder is never scanned), a drive back
(or another one mounted at the same place), and an observer thread that died; it restarts
what is needed and returns the folders to rescan, since events were missed meanwhile.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from core.sync.scanner import is_online
from core.sync.watch_events import (
    NETWORK_FILESYSTEMS,
    PendingPaths,
    RootEventHandler,
    filesystem_type,
)

logger = logging.getLogger(__name__)

Mode = Literal["events", "polling", "scans", "offline"]
Say = Callable[[str, int], None]  # (sentence for the user, logging level)


@dataclass(slots=True)
class Root:
    path: str
    mode: Mode = "offline"
    observer: BaseObserver | None = None
    identity: tuple[int, int] | None = None  # (device, inode): another drive at the same path
    seen: bool = False  # checked before (a new root is not "back online")


class RootObservers:
    """The observers of a set of folders, feeding one :class:`PendingPaths`."""

    def __init__(self, pending: PendingPaths, *, say: Say, poll_interval_s: float = 30.0,
                 network_message: str = "is on a network file system ({fs}) that may not "
                                        "report changes; polling it every {poll:.0f} s",
                 scans_message: str = "cannot be watched; it is rescanned periodically "
                                      "instead") -> None:
        self.pending = pending
        self.roots: dict[str, Root] = {}
        self._say = say
        self.poll_interval_s = poll_interval_s
        self._network_message = network_message
        self._scans_message = scans_message
        self.native_observer: Callable[[], BaseObserver] = Observer
        self.polling_observer: Callable[[], BaseObserver] = (
            lambda: PollingObserver(timeout=self.poll_interval_s))

    def modes(self) -> dict[str, Mode]:
        """How each folder is followed now: events, polling, scans (periodic) or offline."""
        return {path: root.mode for path, root in self.roots.items()}

    def check(self, wanted: Sequence[str]) -> set[str]:
        """Follow ``wanted`` (start, stop, restart observers); returns the folders that need
        a rescan now: new ones, ones back online, ones whose dead observer was restarted."""
        due: set[str] = set()
        for path in set(self.roots) - set(wanted):
            stop_observer(self.roots.pop(path))
        for path in wanted:
            root = self.roots.setdefault(path, Root(path))
            identity = _identity(path)
            if not is_online(Path(path)):
                if root.mode != "offline" or not root.seen:
                    stop_observer(root)
                    root.mode = "offline"
                    self._say(f"{path} is offline (missing or empty); its photos are kept "
                              "and it will be watched when it comes back", logging.WARNING)
            elif root.mode == "offline" or identity != root.identity:
                if root.seen:
                    self._say(f"{path} is back online; checking it", logging.INFO)
                stop_observer(root)
                self._watch(root)
                root.identity = identity
                due.add(path)
            elif root.observer is not None and not _alive(root.observer):
                self._say(f"the watcher of {path} stopped; restarting it and rescanning",
                          logging.WARNING)
                stop_observer(root)
                self._watch(root)
                due.add(path)
            root.seen = True
        return due

    def stop(self) -> None:
        for root in self.roots.values():
            stop_observer(root)
        self.roots = {}

    def _watch(self, root: Root) -> None:
        """Start the best observer that works for this root; else fall back to scans."""
        kinds: list[tuple[Mode, Callable[[], BaseObserver]]] = [
            ("events", self.native_observer), ("polling", self.polling_observer)]
        fs_type = filesystem_type(root.path)
        if fs_type in NETWORK_FILESYSTEMS:
            self._say(f"{root.path} " + self._network_message.format(
                fs=fs_type, poll=self.poll_interval_s), logging.INFO)
            kinds = kinds[1:]
        for mode, make in kinds:
            observer = make()
            try:
                observer.start()
                observer.schedule(RootEventHandler(root.path, self.pending), root.path,
                                  recursive=True)
            except OSError as error:
                stop_observer(Root(root.path, observer=observer))
                self._say(_watch_failure(root.path, error, mode), logging.WARNING)
                continue
            root.observer, root.mode = observer, mode
            logger.info("watching %s (%s)", root.path, mode)
            return
        root.observer, root.mode = None, "scans"
        self._say(f"{root.path} {self._scans_message}", logging.WARNING)


def _alive(observer: BaseObserver) -> bool:
    return observer.is_alive() and all(e.is_alive() for e in list(observer.emitters))


def stop_observer(root: Root) -> None:
    observer, root.observer = root.observer, None
    if observer is None:
        return
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except Exception:  # a broken observer must not stop the others
        logger.debug("stopping the observer of %s failed", root.path, exc_info=True)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _watch_failure(path: str, error: OSError, mode: Mode) -> str:
    fallback = "polling it instead" if mode == "events" else "rescanning it periodically"
    if error.errno == errno.ENOSPC:
        return (f"cannot watch {path}: the system's limit on watched folders is reached "
                "(Linux: raise it with `sudo sysctl fs.inotify.max_user_watches=524288`); "
                f"{fallback}")
    if error.errno == errno.EMFILE:
        return (f"cannot watch {path}: too many watchers open (Linux: "
                f"fs.inotify.max_user_instances); {fallback}")
    return f"cannot watch {path}: {error.strerror or error}; {fallback}"
