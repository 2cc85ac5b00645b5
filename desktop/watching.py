"""Tells the window which photos changed in the library folders while it is open.

The engine's event collector does the hard part (:mod:`core.watch_events`: watchdog events
become hints that are handed over once a file's size and modification time have settled,
so a photo still being copied is read once, complete). Here a watchdog observer per
folder feeds it, and a timer on the GUI thread takes the settled paths and emits
``filesChanged``; the window has the engine's writer index just those. ``changed`` asks
for a reconciliation scan of every folder: every few minutes, and when events were lost
(events are hints; the scan is the truth). Network shares, and folders the system cannot
watch (Linux's inotify watch limit), are polled instead, and the user is told.

This is lighter than :class:`core.watcher.Watcher`, whose service loop would own the
writer thread and finish a whole index run before a search could run; the window keeps
its own writer (see desktop/engine.py) and uses only the collector.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)


class FolderWatcher(QObject):
    changed = Signal()  # rescan every library folder
    filesChanged = Signal(list)  # these files or folders changed and have settled
    message = Signal(str)  # a sentence for the user (a folder polled instead of watched)

    def __init__(self, *, interval_s: float = 300.0, settle_s: float = 2.0,
                 tick_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settle_s = settle_s
        self._folders: list[str] = []
        self._observers: list[Any] = []
        self._pending: Any = None
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self._hand_over)
        self._periodic = QTimer(self)
        self._periodic.setInterval(int(interval_s * 1000))
        self._periodic.timeout.connect(self.changed)

    @property
    def folders(self) -> list[str]:
        return list(self._folders)

    def set_folders(self, folders: Sequence[str]) -> None:
        if list(folders) == self._folders:
            return
        self.stop()
        self._folders = list(folders)
        if not folders:
            return
        from core.watch_events import PendingPaths

        self._pending = PendingPaths()
        for folder in folders:
            self._watch(folder)
        self._tick.start()
        self._periodic.start()

    def _watch(self, folder: str) -> None:
        """Events where the system delivers them; polling on network shares and when the
        system's watch limit is reached; an offline folder is left to the rescans."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        from core.watch_events import NETWORK_FILESYSTEMS, RootEventHandler, filesystem_type

        fs_type = filesystem_type(folder)
        kinds: list[Any] = [Observer, PollingObserver]
        if fs_type in NETWORK_FILESYSTEMS:
            kinds = [PollingObserver]
            self.message.emit(f"{folder} is on a network share ({fs_type}): polling it")
        for kind in kinds:
            observer = kind()
            try:
                observer.schedule(RootEventHandler(folder, self._pending), folder,
                                  recursive=True)
                observer.start()
            except OSError as error:
                log.warning("cannot watch %s with %s: %s", folder, kind.__name__, error)
                if not os.path.isdir(folder):
                    return  # offline: the rescans pick it up when it is back
                self.message.emit(f"cannot watch {folder} ({error.strerror or error}); "
                                  "polling it instead")
                continue
            self._observers.append(observer)
            return

    def stop(self) -> None:
        self._tick.stop()
        self._periodic.stop()
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join(timeout=5)
        self._observers = []
        self._folders = []

    def _hand_over(self) -> None:
        if self._pending is None:
            return
        if self._pending.take_overflowed():
            self.changed.emit()
        ready = self._pending.take_ready(time.monotonic(), settle_s=self.settle_s,
                                         min_age_s=min(1.0, self.settle_s),
                                         max_hold_s=max(30.0, self.settle_s))
        if ready:
            self.filesChanged.emit(sorted(ready))
