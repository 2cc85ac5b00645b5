"""Tells the window which photos changed in the library folders while it is open.

A thin adapter: the watching policy is :class:`core.sync.watch_policy.WatchPolicy`, the one
``main.py watch`` runs (what an event means, when a changed file has settled, the lost
events that call for a rescan, when folders are rescanned). Here Qt timers drive it and
its answers become signals:

``filesChanged`` hands settled paths to the window (the engine's writer indexes just
those), ``foldersChanged`` asks for a rescan of some folders (back online, observer
restarted, no events to be had) and ``changed`` for a rescan of every folder (the periodic
reconciliation, lost events). The checks of the folders (online, offline, observers alive)
touch the folders, so they run on a thread of their own: a hung network mount must not
freeze the window; the rest runs on the GUI thread's tick.

The command line's :class:`core.sync.watcher.Watcher` also owns a library and runs the
index itself; the window keeps its own writer (see desktop/engine.py), so only the policy
is shared, not the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from core.sync.watch_settings import WatchSettings

if TYPE_CHECKING:
    from core.sync.watch_policy import WatchPolicy
    from core.sync.watch_roots import Mode

log = logging.getLogger(__name__)


class _Checks:
    """The checks of the folders (online, offline, observers alive), on a daemon thread of
    their own: a hung network mount blocks it, never the window (nor the exit). One check
    at a time; asked again meanwhile, it checks once more afterwards, with the folders
    asked for last. It reports nothing: the policy keeps what it found (its modes, the
    folders due for a rescan) for the GUI thread's tick. (No signal every few seconds
    either: each Python-side emit costs PySide6 6.12.0 a reference to ``True``, and a
    window left in the tray for a day would run out of them.)"""

    def __init__(self, policy: WatchPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._folders: list[str] = []
        self._closing = False
        threading.Thread(target=self._run, name="pictor-folders", daemon=True).start()

    def request(self, folders: Sequence[str]) -> None:
        with self._lock:
            self._folders = list(folders)
            self._wake.set()

    def close(self) -> None:
        """Stop the observers and the thread (once a check under way is over)."""
        with self._lock:
            self._closing = True
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                folders, closing = self._folders, self._closing
            try:
                if closing:
                    self.policy.stop()
                    return
                self.policy.check(folders, rescan_new=False)  # whoever adds one indexes it
            except Exception:  # a broken check must not end the watching
                log.exception("folder check failed")


class FolderWatcher(QObject):
    changed = Signal()  # rescan every library folder
    foldersChanged = Signal(list)  # rescan these folders
    filesChanged = Signal(list)  # these files or folders changed and have settled
    message = Signal(str)  # a sentence for the user (a folder offline, polled, back)

    def __init__(self, settings: WatchSettings | None = None, *,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or WatchSettings()  # the command line's, unless told
        self._folders: list[str] = []
        self._policy: WatchPolicy | None = None  # loads watchdog: made when watching starts
        self._checks: _Checks | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(round(self.settings.tick_s * 1000))
        self._tick.timeout.connect(self._on_tick)
        self._check = QTimer(self)
        self._check.setInterval(round(self.settings.check_interval_s * 1000))
        self._check.timeout.connect(self._request_check)

    @property
    def folders(self) -> list[str]:
        return list(self._folders)

    def modes(self) -> dict[str, Mode]:
        """How each folder is followed (as of the last check, every few seconds): events,
        polling, scans (periodic) or offline."""
        return self._policy.modes() if self._policy is not None else {}

    def set_folders(self, folders: Sequence[str]) -> None:
        """Watch these folders; a new one is not reported (whoever added it indexes it)."""
        if list(folders) == self._folders:
            return
        self._folders = list(folders)
        if not folders:
            self.stop()
            return
        if self._policy is None:
            from core.sync.watch_policy import WatchPolicy

            self._policy = WatchPolicy(
                self.settings, say=self._say,
                network_message="is on a network share ({fs}): polling it every {poll:.0f} s")
            self._policy.start(time.monotonic())
            self._checks = _Checks(self._policy)
        self._request_check()
        self._tick.start()
        self._check.start()

    def stop(self) -> None:
        self._tick.stop()
        self._check.stop()
        if self._checks is not None:
            self._checks.close()  # joins the observers: off the GUI thread
        self._policy, self._checks = None, None
        self._folders = []

    def _say(self, text: str, level: int) -> None:  # from the checks' thread
        log.log(level, "%s", text)
        self.message.emit(text)

    def _request_check(self) -> None:
        if self._checks is not None:
            self._checks.request(self._folders)

    def _on_tick(self) -> None:
        policy = self._policy
        if policy is None:
            return
        now = time.monotonic()
        ready = policy.settled(now)
        if ready:  # sidecars (.xmp/.txt) included: the indexer re-reads their photos' words
            self.filesChanged.emit(sorted(ready))
        rescan = policy.rescans_due(now)
        if rescan is not None:
            if rescan.every:
                self.changed.emit()
            else:
                self.foldersChanged.emit(sorted(rescan.roots))
