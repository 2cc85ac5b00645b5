"""Tells the window which photos changed in the library folders while it is open.

The engine does the hard parts: :mod:`core.watch_events` turns watchdog events into hints
handed over once a file's size and modification time have settled (a photo still being
copied is read once, complete), and :class:`core.watch_roots.RootObservers` keeps one
observer per folder: native events, polling on network shares and when the system's watch
limit is reached, and a check every few seconds that notices a drive unplugged, a drive
back, or an observer thread that died. Here timers on the GUI thread drive both:
``filesChanged`` hands settled paths to the window (the engine's writer indexes just
those), ``foldersChanged`` asks for a rescan of folders that came back online or whose
observer was restarted (events were missed meanwhile), and ``changed`` for a rescan of
every folder: every few minutes, and when events were lost (events are hints; the scan is
the truth).

This is lighter than :class:`core.watcher.Watcher`, whose service loop would own the
writer thread and finish a whole index run before a search could run; the window keeps
its own writer (see desktop/engine.py) and shares only the collector and the observers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)


class FolderWatcher(QObject):
    changed = Signal()  # rescan every library folder
    foldersChanged = Signal(list)  # rescan these folders: back online, or watcher restarted
    filesChanged = Signal(list)  # these files or folders changed and have settled
    message = Signal(str)  # a sentence for the user (a folder offline, polled, back)

    def __init__(self, *, interval_s: float = 300.0, settle_s: float = 2.0,
                 tick_ms: int = 500, check_ms: int = 5000, poll_interval_s: float = 30.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settle_s = settle_s
        self.poll_interval_s = poll_interval_s  # a full walk each time: not too often
        self._folders: list[str] = []
        self._observers: Any = None  # core.watch_roots.RootObservers once watching
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self._hand_over)
        self._check = QTimer(self)
        self._check.setInterval(check_ms)
        self._check.timeout.connect(self._check_folders)
        self._periodic = QTimer(self)
        self._periodic.setInterval(int(interval_s * 1000))
        self._periodic.timeout.connect(self.changed)

    @property
    def folders(self) -> list[str]:
        return list(self._folders)

    def modes(self) -> dict[str, str]:
        """How each folder is followed: events, polling, scans (periodic) or offline."""
        return {} if self._observers is None else dict(self._observers.modes())

    def set_folders(self, folders: Sequence[str]) -> None:
        """Watch these folders; a new one is not reported (whoever added it indexes it)."""
        if list(folders) == self._folders:
            return
        self._folders = list(folders)
        if not folders:
            self.stop()
            return
        if self._observers is None:
            from core.watch_events import PendingPaths
            from core.watch_roots import RootObservers

            self._observers = RootObservers(
                PendingPaths(), say=self._say, poll_interval_s=self.poll_interval_s,
                network_message="is on a network share ({fs}): polling it every {poll:.0f} s")
        self._observers.check(self._folders)
        self._tick.start()
        self._check.start()
        self._periodic.start()

    def stop(self) -> None:
        for timer in (self._tick, self._check, self._periodic):
            timer.stop()
        if self._observers is not None:
            self._observers.stop()
        self._observers = None
        self._folders = []

    def _say(self, text: str, level: int) -> None:
        log.log(level, "%s", text)
        self.message.emit(text)

    def _check_folders(self) -> None:
        if self._observers is None:
            return
        known = set(self._observers.roots)
        due = self._observers.check(self._folders) & known
        if due:
            self.foldersChanged.emit(sorted(due))

    def _hand_over(self) -> None:
        if self._observers is None:
            return
        pending = self._observers.pending
        if pending.take_overflowed():
            self.changed.emit()
        ready = pending.take_ready(time.monotonic(), settle_s=self.settle_s,
                                   min_age_s=min(1.0, self.settle_s),
                                   max_hold_s=max(30.0, self.settle_s))
        if ready:  # sidecars (.xmp/.txt) included: the indexer re-reads their photos' words
            self.filesChanged.emit(sorted(ready))
