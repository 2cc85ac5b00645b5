"""Tells the window when the library folders may have changed, so it re-indexes them.

A stand-in until the engine's folder watcher (core/watcher.py, issue 3) lands: a
QFileSystemWatcher on each folder and its direct sub-folders gives quick hints, and a
timer asks for a reconciliation scan now and then (events are hints; the scan is the
truth). The window only relies on the ``changed`` signal and ``set_folders``/``stop``,
so the real watcher can replace this class without touching the window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

MAX_WATCHED = 500  # inotify watches are a shared, limited resource


class FolderWatcher(QObject):
    changed = Signal()

    def __init__(self, *, interval_s: float = 300.0, debounce_ms: int = 1500,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._hint)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.changed)
        self._periodic = QTimer(self)
        self._periodic.setInterval(int(interval_s * 1000))
        self._periodic.timeout.connect(self.changed)

    def set_folders(self, folders: Sequence[str]) -> None:
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        wanted: list[str] = []
        for folder in folders:
            if os.path.isdir(folder):
                wanted.append(folder)
                wanted += _subfolders(folder, MAX_WATCHED - len(wanted))
        if wanted:
            self._watcher.addPaths(wanted[:MAX_WATCHED])
        if folders:
            self._periodic.start()
        else:
            self._periodic.stop()

    def stop(self) -> None:
        self._debounce.stop()
        self._periodic.stop()
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)

    def _hint(self, _path: str) -> None:
        self._debounce.start()


def _subfolders(folder: str, room: int) -> list[str]:
    if room <= 0:
        return []
    try:
        with os.scandir(folder) as entries:
            found = [e.path for e in entries if e.is_dir(follow_symlinks=False)
                     and not e.name.startswith(".")]
    except OSError:
        return []
    return sorted(found)[:room]
