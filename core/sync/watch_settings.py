"""The numbers of the folder-watching policy, shared by ``main.py watch`` and the window.

A module of its own, importing nothing: the window builds its watcher before its first
paint, when neither watchdog nor the imaging code may load yet (the policy itself,
:mod:`core.sync.watch_policy`, loads them when watching starts).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchSettings:
    settle_s: float = 2.0  # a file is handed over once its size and mtime stay put this long
    min_age_s: float = 1.0  # ... and not before watchdog can pair a move's two halves
    max_hold_s: float = 30.0  # a deletion waits at most this long for pending new files
    # The full rescan of every watched folder, whoever watches. Events are hints and a scan
    # is the truth, but every way events are known to go missing already triggers a rescan
    # of its own at once: a queue overflow or a burst too large to track (lost events), a
    # folder back online, an observer restarted, a folder that gives no events (every
    # `scan_interval_s`). What is left is a safety net for misses nobody notices, and a
    # scan stats every photo of every folder: on a 100,000-photo library that is minutes of
    # disk work, and in the window a progress bar and a results refresh each time. So half
    # an hour (the command line's interval, the one documented for `watch`), not the five
    # minutes the window once used.
    reconcile_interval_s: float = 1800.0
    scan_interval_s: float = 300.0  # rescan of a folder that delivers no events at all
    check_interval_s: float = 5.0  # are folders online, are observers alive
    poll_interval_s: float = 30.0  # polling period of a folder without native events
    tick_s: float = 0.2  # how often settled paths and due rescans are looked for
    max_pending: int = 20_000  # more changed paths at once: rescan instead of tracking
    max_batch: int = 5_000  # paths per index_files call (the command line's loop)
    error_backoff_s: float = 5.0  # first wait after an error (doubles up to 5 min)
    batch_size: int = 32  # photos per indexing batch (the command line's loop)
