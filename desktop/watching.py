"""Tells the window which photos changed in the library folders while it is open.

The engine does the hard parts: :mod:`core.sync.watch_events` turns watchdog events into hints
handed over once a file's size and modification time have settled (a photo still being
copied is read once, complete), and :class:`core.sync.watch_roots.RootObservers` keeps one
observer per folder: native events, polling on network shares and when the system's watch
limit is reached, and a check every few seconds that notices a drive unplugged, a drive
back, or an observer thread that died; those checks touch the folders, so they run on a
thread of their own (a hung network mount must not freeze the window). Here timers on the
GUI thread drive both:
``filesChanged`` hands settled paths to the window (the engine's writer indexes just
those), ``foldersChanged`` asks for a rescan of folders that came back online or whose
observer was restarted (events were missed meanwhile), and ``changed`` for a rescan of
every folder: every few minutes, and when events were lost (events are hints; the scan is
the truth).

This is lighter than :class:`core.sync.watcher.Watcher`, whose service loop would own the
writer thread and finish a whole index run before a search could run; the window keeps
its own writer (see desktop/engine.py) and shares only the collector and the observers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)


class _Worker:
    """One daemon thread for everything that touches the folders themselves: a hung network
    mount blocks it, never the window (and never the exit: the thread is a daemon)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="pictor-folders", daemon=True).start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a broken check must not end the watching
                log.exception("folder check failed")


class FolderWatcher(QObject):
    changed = Signal()  # rescan every library folder
    foldersChanged = Signal(list)  # rescan these folders: back online, or watcher restarted
    filesChanged = Signal(list)  # these files or folders changed and have settled
    message = Signal(str)  # a sentence for the user (a folder offline, polled, back)
    _checked = Signal(object, list, dict)  # (observers, folders due, modes): worker -> GUI

    def __init__(self, *, interval_s: float = 300.0, settle_s: float = 2.0,
                 tick_ms: int = 500, check_ms: int = 5000, poll_interval_s: float = 30.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settle_s = settle_s
        self.poll_interval_s = poll_interval_s  # a full walk each time: not too often
        self._folders: list[str] = []
        self._observers: Any = None  # core.sync.watch_roots.RootObservers: worker thread only
        self._pending: Any = None  # core.sync.watch_events.PendingPaths (thread-safe)
        self._worker: _Worker | None = None
        self._modes: dict[str, str] = {}
        self._checking = self._recheck = False
        self._checked.connect(self._on_checked)
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(self._hand_over)
        self._check = QTimer(self)
        self._check.setInterval(check_ms)
        self._check.timeout.connect(self._request_check)
        self._periodic = QTimer(self)
        self._periodic.setInterval(int(interval_s * 1000))
        self._periodic.timeout.connect(self.changed)

    @property
    def folders(self) -> list[str]:
        return list(self._folders)

    def modes(self) -> dict[str, str]:
        """How each folder is followed (as of the last check, every few seconds): events,
        polling, scans (periodic) or offline."""
        return dict(self._modes)

    def set_folders(self, folders: Sequence[str]) -> None:
        """Watch these folders; a new one is not reported (whoever added it indexes it)."""
        if list(folders) == self._folders:
            return
        self._folders = list(folders)
        if not folders:
            self.stop()
            return
        if self._observers is None:
            from core.sync.watch_events import PendingPaths
            from core.sync.watch_roots import RootObservers

            self._pending = PendingPaths()
            self._observers = RootObservers(
                self._pending, say=self._say, poll_interval_s=self.poll_interval_s,
                network_message="is on a network share ({fs}): polling it every {poll:.0f} s")
            self._worker = _Worker()
        self._request_check()
        self._tick.start()
        self._check.start()
        self._periodic.start()

    def stop(self) -> None:
        for timer in (self._tick, self._check, self._periodic):
            timer.stop()
        if self._worker is not None:
            self._worker.submit(self._observers.stop)
            self._worker.close()
        self._observers = self._pending = self._worker = None
        self._folders, self._modes = [], {}
        self._checking = self._recheck = False

    def _say(self, text: str, level: int) -> None:  # from the worker thread
        log.log(level, "%s", text)
        self.message.emit(text)

    def _request_check(self) -> None:
        """Follow the folders (online, offline, observers alive) on the worker thread; one
        check at a time, so a hung folder does not pile them up."""
        if self._worker is None:
            return
        if self._checking:
            self._recheck = True
            return
        self._checking = True
        observers, folders = self._observers, list(self._folders)

        def check() -> None:
            known = set(observers.roots)
            due = observers.check(folders) & known
            self._checked.emit(observers, sorted(due), observers.modes())

        self._worker.submit(check)

    def _on_checked(self, observers: Any, due: list[str], modes: dict[str, str]) -> None:
        if observers is not self._observers:
            return  # from before stop(): those folders are no longer watched
        self._checking = False
        self._modes = modes
        if due:
            self.foldersChanged.emit(due)
        if self._recheck:
            self._recheck = False
            self._request_check()

    def _hand_over(self) -> None:
        pending = self._pending
        if pending is None:
            return
        if pending.take_overflowed():
            self.changed.emit()
        ready = pending.take_ready(time.monotonic(), settle_s=self.settle_s,
                                   min_age_s=min(1.0, self.settle_s),
                                   max_hold_s=max(30.0, self.settle_s))
        if ready:  # sidecars (.xmp/.txt) included: the indexer re-reads their photos' words
            self.filesChanged.emit(sorted(ready))
