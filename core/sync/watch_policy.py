"""What watching folders means, for whoever watches: ``main.py watch`` and the window.

Events are hints, a scan is the truth. The policy decides everything that is not running
things: which paths have settled (debounce), when events were lost, and which folders to
rescan when. It owns no thread, no timer and no library; its driver calls it and acts on
the answers:

- :meth:`WatchPolicy.check` every ``check_interval_s``: follows the folders (online,
  offline, observers alive; see :mod:`core.sync.watch_roots`). It touches the folders, so
  it may block on a hung network mount: the window calls it on a thread of its own.
- :meth:`WatchPolicy.settled` every ``tick_s``: the changed paths whose size and mtime
  have settled (:mod:`core.sync.watch_events`): index just those.
- :meth:`WatchPolicy.rescans_due` every ``tick_s``: the folders to rescan now, once the
  folders are quiet: events were lost (watchdog reports a kernel queue overflow; a burst
  overflowed the pending set; an event could not be handled), a folder came back online
  or had its observer restarted, a folder gives no events and its ``scan_interval_s`` is
  up, or the periodic reconciliation of every folder is due.

:class:`core.sync.watcher.Watcher` drives it in the command line's service loop (which
owns the library); ``desktop/watching.py`` drives it with Qt timers and hands the window's
engine what to index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.sync.watch_events import PendingPaths
from core.sync.watch_roots import Mode, RootObservers, Say
from core.sync.watch_settings import WatchSettings

ALL_ROOTS = ""
"""A rescan request for every watched folder."""
WATCHDOG_LOGGER = "watchdog.observers"


@dataclass(frozen=True, slots=True)
class Rescan:
    """Folders to rescan now: the online ones among those due. ``every``: all watched
    folders were due (the periodic reconciliation, or lost events of no known folder)."""

    roots: list[str]
    every: bool


class LostEvents(logging.Handler):
    """watchdog reports a kernel queue overflow ("Inotify queue overflowed; filesystem
    events were lost") only in its log: listen there, and rescan every folder."""

    def __init__(self, pending: PendingPaths) -> None:
        super().__init__(logging.WARNING)
        self.pending = pending

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.pending.overflow(ALL_ROOTS)


class WatchPolicy:
    """The watching of a set of folders, as decisions (see the module docstring).

    ``check`` may run on another thread than ``settled`` and ``rescans_due`` (the window);
    what they share is handed over whole or under a lock.
    """

    def __init__(self, settings: WatchSettings | None = None, *, say: Say,
                 network_message: str | None = None) -> None:
        s = self.settings = settings or WatchSettings()
        self.pending = PendingPaths(max_pending=s.max_pending)
        extra = {"network_message": network_message} if network_message else {}
        self.observers = RootObservers(
            self.pending, say=say, poll_interval_s=s.poll_interval_s,
            scans_message=f"cannot be watched; rescanning it every "
                          f"{s.scan_interval_s / 60:.0f} min instead", **extra)
        self._lost = LostEvents(self.pending)
        self._modes: dict[str, Mode] = {}  # as of the last check, swapped whole
        self._lock = threading.Lock()
        self._due: set[str] = set()  # under _lock
        self._due_since = 0.0
        self._next_full = float("inf")
        self._scanned_at: dict[str, float] = {}

    def start(self, now: float) -> None:
        """Listen for lost events; the first periodic rescan is one interval from ``now``
        (whoever starts watching rescans everything first)."""
        logging.getLogger(WATCHDOG_LOGGER).addHandler(self._lost)
        self._next_full = now + self.settings.reconcile_interval_s

    def stop(self) -> None:
        logging.getLogger(WATCHDOG_LOGGER).removeHandler(self._lost)
        self.observers.stop()

    # -- the folders (may block) --------------------------------------------------------

    def check(self, wanted: Sequence[str], *, rescan_new: bool = True) -> set[str]:
        """Follow ``wanted`` (start, stop, restart observers). The folders that missed
        events (back online, observer restarted; new ones too unless ``rescan_new`` is
        False: whoever added them scans them) are due for a rescan; returned as well."""
        known = set(self.observers.roots)
        due = self.observers.check(wanted)
        if not rescan_new:
            due &= known
        self._modes = self.observers.modes()
        self.request(due)
        return due

    def modes(self) -> dict[str, Mode]:
        """How each folder is followed, as of the last check: events, polling, scans
        (periodic) or offline."""
        return dict(self._modes)

    # -- the decisions (cheap) -----------------------------------------------------------

    def request(self, roots: Iterable[str], now: float | None = None) -> None:
        """Rescan these folders (``ALL_ROOTS``: every one) once the folders are quiet.
        Any thread."""
        wanted = set(roots)
        if not wanted:
            return
        with self._lock:
            if not self._due:
                self._due_since = now if now is not None else time.monotonic()
            self._due |= wanted

    def settled(self, now: float) -> list[str]:
        """The changed paths that settled (taken from the pending set): index these."""
        s = self.settings
        return self.pending.take_ready(now, settle_s=s.settle_s, min_age_s=s.min_age_s,
                                       max_hold_s=s.max_hold_s)

    def rescans_due(self, now: float) -> Rescan | None:
        """The folders to rescan now, if any (see the module docstring). A rescan waits
        until no event came for ``settle_s`` (a copy in progress is scanned once, after
        it), but never more than ``max_hold_s``."""
        s = self.settings
        due = self.pending.take_overflowed()  # lost events
        if now >= self._next_full:
            due.add(ALL_ROOTS)
            self._next_full = now + s.reconcile_interval_s
        for path, mode in self._modes.items():
            if mode == "scans" and now - self._scanned_at.setdefault(path, now) \
                    >= s.scan_interval_s:
                due.add(path)
        self.request(due, now)
        with self._lock:
            if not self._due:
                return None
            quiet = self.pending.quiet_for(now) >= s.settle_s
            if not quiet and now - self._due_since < s.max_hold_s:
                return None
            due, self._due = self._due, set()
        return self._take(due, now)

    def everything(self, now: float) -> Rescan | None:
        """Every online folder, rescanned now (at start), and nothing left due."""
        with self._lock:
            self._due = set()
        self.pending.take_overflowed()
        return self._take({ALL_ROOTS}, now)

    def rescanned(self, roots: Iterable[str], now: float) -> None:
        """A rescan of ``roots`` has just finished (a driver that knows when): the scan
        interval of a folder without events counts from here."""
        for path in roots:
            self._scanned_at[path] = now

    def _take(self, due: set[str], now: float) -> Rescan | None:
        every = ALL_ROOTS in due
        roots = [path for path, mode in self._modes.items()
                 if (every or path in due) and mode != "offline"]  # offline: never scanned
        if not roots:
            return None
        for path in roots:
            self.pending.forget_under(path)  # the scan covers what they hinted at
        self.rescanned(roots, now)
        return Rescan(roots, every)
