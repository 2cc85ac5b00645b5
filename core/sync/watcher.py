"""Keep a library in step with its folders while the application runs.

Events are hints, a scan is the truth. What that means (which changes have settled, when
events were lost, which folders to rescan when) is the policy of
:mod:`core.sync.watch_policy`, shared with the window; :meth:`Watcher.run` is the service
loop of the *one writer* that drives it: it hands settled paths to
:meth:`Library.index_files`, and reconciles folders with :meth:`Library.index` at start-up
and whenever the policy says so. It reports through plain callbacks and never prints.

Usage: ``Watcher(library, on_change=...).run()`` in the thread that owns the library;
``stop()`` from any thread (a signal handler, the window) ends it between batches;
``submit(job)`` from any thread runs ``job(library)`` on that thread at once when it is
idle, else between two batches of the run under way (``serve`` answers its API so).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import CatalogError, ModelUnavailableError, explain
from core.store.catalog import STATUS_FAILED, PhotoRow
from core.sync.watch_policy import ALL_ROOTS, Rescan, WatchPolicy
from core.sync.watch_roots import Mode, Root
from core.sync.watch_settings import WatchSettings
from core.types import Progress
from core.words.sidecars import photo_paths

if TYPE_CHECKING:
    from core.library import Library

logger = logging.getLogger(__name__)

__all__ = ["ALL_ROOTS", "Change", "WatchSettings", "Watcher"]

ChangeKind = Literal["indexed", "moved", "removed", "failed", "words", "reconciled"]


@dataclass(frozen=True, slots=True)
class Change:
    """What the watcher did: one file (``indexed``/``moved``/``removed``/``failed``, or
    ``words``: its own words re-read after a sidecar changed) or a root's reconciliation
    (``reconciled``, with the run's final progress)."""

    kind: ChangeKind
    path: str | None
    old_path: str | None = None
    progress: Progress | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"event": self.kind, "path": self.path}
        if self.old_path is not None:
            data["old_path"] = self.old_path
        if self.progress is not None:
            data.update({k: v for k, v in asdict(self.progress).items()
                         if k in {"indexed", "failed", "moved", "removed", "skipped",
                                  "elapsed_s"}})
        return data


class Watcher:
    """The folder-watching service of one library (see the module docstring)."""

    def __init__(
        self,
        library: Library,
        *,
        folders: Sequence[Path | str] | None = None,
        settings: WatchSettings | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_change: Callable[[Change], None] | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        self.library = library
        self.settings = settings or WatchSettings()
        self._folders = list(folders) if folders else None
        self._only: set[str] | None = None
        self._on_progress = on_progress
        self._on_change = on_change
        self._on_message = on_message
        self._stop = threading.Event()
        self._wake = threading.Event()  # a job was submitted, or stop asked
        self.progress: Progress | None = None
        """The latest progress of the index run under way; None between runs."""
        self.started = threading.Event()  # set once the start-up reconciliation is done
        self._jobs: queue.SimpleQueue[Callable[[Library], object]] = queue.SimpleQueue()
        self.policy = WatchPolicy(self.settings, say=self._say)
        self.pending = self.policy.pending
        self.observers = self.policy.observers
        self._next_check = self._retry_at = 0.0
        self._backoff = self.settings.error_backoff_s

    @property
    def _roots(self) -> dict[str, Root]:
        return self.observers.roots

    # -- from any thread ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask the service loop to end (between batches); safe from any thread or signal."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def submit(self, job: Callable[[Library], object]) -> None:
        """Run ``job(library)`` in the writer thread between batches (e.g. add a folder)."""
        self._jobs.put(job)
        self._wake.set()

    def modes(self) -> dict[str, Mode]:
        """How each root is watched now: events, polling, scans (periodic) or offline."""
        return self.policy.modes()

    # -- the service loop (the writer thread) ------------------------------------------

    def run(self) -> None:
        """Watch until :meth:`stop`; reconciles everything first. Blocks the caller."""
        start = time.monotonic()
        self.policy.start(start)
        try:
            if self._folders is not None:
                self._only = {str(p) for _, p in self.library.add_roots(self._folders)}
            self.policy.check(self._wanted_roots(), rescan_new=False)
            self._next_check = start + self.settings.check_interval_s
            self._guarded(lambda now: self._reconcile(self.policy.everything(now)))
            self.started.set()
            self._say("watching " + (", ".join(f"{p} ({m})" for p, m in self.modes().items())
                                     or "no folders"))
            next_tick = time.monotonic() + self.settings.tick_s
            while not self._stop.is_set():
                self._wake.wait(max(0.0, next_tick - time.monotonic()))
                self._wake.clear()
                if self._stop.is_set():
                    break
                if time.monotonic() < next_tick:  # woken by a job: it need not wait
                    self._guarded(lambda now: self._run_jobs())
                    continue
                self._guarded(self._tick)
                next_tick = time.monotonic() + self.settings.tick_s
        finally:
            self.policy.stop()

    def _tick(self, now: float) -> None:
        self._run_jobs()
        if now >= self._next_check:
            self.policy.check(self._wanted_roots())  # roots added by a job: rescanned too
            self._next_check = now + self.settings.check_interval_s
        self._hand_over(now)
        if now >= self._retry_at:
            self._reconcile(self.policy.rescans_due(now))
        self._backoff = self.settings.error_backoff_s

    def _guarded(self, step: Callable[[float], None]) -> None:
        """Run one step; an unexpected error is reported and repaired by a later rescan."""
        now = time.monotonic()
        try:
            step(now)
        except (ModelUnavailableError, CatalogError, BrokenPipeError):
            raise  # the library is unusable, or the reader left: the front must say so
        except Exception as error:
            known = explain(error)  # a full disk: said plainly, tried again as it frees
            if known is None:
                logger.exception("folder watcher error")
            what = known or f"watcher error ({type(error).__name__}: {error})"
            self._say(f"{what}; will rescan in {self._backoff:.0f} s", logging.WARNING)
            self.policy.request([ALL_ROOTS], now)
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, 300.0)

    def _run_jobs(self) -> None:
        # Only those queued now: jobs that keep coming (a busy API) must not starve a run.
        for _ in range(self._jobs.qsize()):
            self._jobs.get_nowait()(self.library)

    def _wanted_roots(self) -> list[str]:
        roots = [path for _, path in self.library.catalog.roots()]
        return [p for p in roots if self._only is None or p in self._only]

    # -- handing over settled changes --------------------------------------------------

    def _hand_over(self, now: float) -> None:
        s = self.settings
        ready = self.policy.settled(now)
        for start in range(0, len(ready), s.max_batch):
            if self._stop.is_set():
                return
            chunk = photo_paths(ready[start:start + s.max_batch])  # sidecars: their photos
            if not chunk:
                continue
            before = self._rows(chunk)
            self._drain(self.library.index_files(chunk, batch_size=s.batch_size))
            for change in _changes(before, self._rows(chunk)):
                self._emit(change)

    def _rows(self, paths: Sequence[str]) -> dict[int, PhotoRow]:
        rows: dict[int, PhotoRow] = {}
        for path in paths:
            for row in self.library.catalog.photos_at_or_under(path).values():
                rows[row.id] = row
        return rows

    # -- reconciliation ----------------------------------------------------------------

    def _reconcile(self, rescan: Rescan | None) -> None:
        """Rescan the folders the policy named (online ones only)."""
        if rescan is None:
            return
        roots = rescan.roots
        last = self._drain(self.library.index(roots, batch_size=self.settings.batch_size))
        self.policy.rescanned(roots, time.monotonic())
        if last is not None:
            self._emit(Change("reconciled", roots[0] if len(roots) == 1 else None,
                              progress=last))

    # -- plumbing ----------------------------------------------------------------------

    def _drain(self, run: Iterator[Progress]) -> Progress | None:
        """Drive an indexing generator, reporting progress; closing it cancels on stop."""
        last = None
        try:
            for progress in run:
                last = self.progress = progress
                if self._on_progress is not None:
                    self._on_progress(progress)
                if self._stop.is_set():
                    break
                self._run_jobs()  # between two batches: jobs need not wait for the run
        finally:
            self.progress = None
            close = getattr(run, "close", None)
            if close is not None:
                close()
        return last

    def _emit(self, change: Change) -> None:
        logger.info("%s %s", change.kind, change.path)
        if self._on_change is not None:
            self._on_change(change)

    def _say(self, text: str, level: int = logging.INFO) -> None:
        logger.log(level, "%s", text)
        if self._on_message is not None:
            self._on_message(text)


def _changes(before: dict[int, PhotoRow], after: dict[int, PhotoRow]) -> list[Change]:
    """What a hand-over did, from the catalog rows of its paths before and after."""
    changes = [Change("removed", row.path) for pid, row in before.items() if pid not in after]
    for pid, row in sorted(after.items(), key=lambda item: item[1].path):
        old = before.get(pid)
        kind: ChangeKind = "failed" if row.status == STATUS_FAILED else "indexed"
        if old is None:
            changes.append(Change(kind, row.path))
        elif old.path != row.path:
            changes.append(Change("moved", row.path, old_path=old.path))
        elif (old.size, old.mtime, old.status) != (row.size, row.mtime, row.status):
            changes.append(Change(kind, row.path))
        elif old.sidecars != row.sidecars:
            changes.append(Change("words", row.path))
    return changes
