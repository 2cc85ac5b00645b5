"""The one writer thread, and the long jobs it runs a step at a time.

Anki's ``taskman`` pattern (one writer): a one-thread pool owns the Library, so the catalog
and the vector index only ever see one thread; every call the window makes is a task
queued there, and results come back to the GUI thread as queued Qt signals.

A long job (an index run, a model switch, a fine-tuning run, whatever comes next) is a
generator of progress, run by the :class:`JobRunner` in the spirit of napari's
``GeneratorWorker``: the writer advances it one step per task and re-queues the next step
behind whatever the GUI queued meanwhile (a search typed during an index run runs between
two batches, not after the run); each step's progress and the job's end reach the GUI
thread as queued signals; pausing is not re-queuing; cancelling stops the iteration by
closing the generator (its ``finally`` blocks save or undo what it did). What the
generator returns is the job's result. One job runs at a time: one started while another
is still running waits for it (whoever wants it gone cancels it first).

A new kind of job is a :class:`Job`: a name, the generator to run, the signal its
progress goes out on, and what to do on the GUI thread when it starts and ends. Nothing
else.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

from core.errors import explain

log = logging.getLogger(__name__)


def sentence(error: Exception, what: str) -> str:
    """What to tell the user about a failure (call it in the ``except`` block): ours or the
    machine's (a full disk) as a sentence; a bug as "unexpected error", logged with its
    traceback."""
    known = explain(error)
    if known is not None:
        return str(known)
    log.exception("%s failed", what)
    return f"unexpected error: {error}"


class Writer:
    """The one writer thread: tasks run in the order they were queued, one at a time."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        """``on_error`` hears a sentence for the user when a task raises (any thread)."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pictor-writer")
        self._on_error = on_error
        self.closing = False

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self.closing:
            return
        with contextlib.suppress(RuntimeError):  # shutting down
            self._pool.submit(self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as error:  # keep the writer alive whatever happened
            self._on_error(sentence(error, "a writer task"))

    def shutdown(self) -> None:
        """Refuse new tasks and wait for the queued ones to finish."""
        self.closing = True
        self._pool.shutdown(wait=True, cancel_futures=False)


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How a job ended: completed (``result`` is what its generator returned), cancelled,
    or failed (``error``: a sentence for the user). ``last`` is its last progress."""

    last: Any = None
    result: Any = None
    cancelled: bool = False
    error: str = ""

    @property
    def completed(self) -> bool:
        return not self.cancelled and not self.error


def _nothing(*_: Any) -> None:
    return None


class Job:
    """One long job: ``work()``, called on the writer thread, returns the generator to run.

    Each progress it yields is emitted on ``progress`` from the writer thread (a queued
    signal: its receivers hear it on theirs), none after it was cancelled. ``on_start`` and
    ``on_end`` are called on the GUI thread: when the job begins (after the one before it
    ended), and exactly once when it is over (:class:`JobEnd`), even when it was cancelled
    before it began. ``kind`` lets the owner tell its jobs apart.
    """

    def __init__(self, kind: str, work: Callable[[], Iterator[Any]], *,
                 progress: SignalInstance | None = None,
                 on_start: Callable[[], None] = _nothing,
                 on_end: Callable[[JobEnd], None] = _nothing) -> None:
        self.kind = kind
        self.work = work
        self.progress = progress
        self.on_start = on_start
        self.on_end = on_end
        # GUI thread (read by the writer: plain values, swapped whole)
        self.cancelled = False
        self.paused = False
        self._token = 0  # a step queued under another token is stale: paused or cancelled
        # writer thread
        self._run: Iterator[Any] | None = None
        self._last: Any = None
        self._over = False

    def __repr__(self) -> str:
        return f"<Job {self.kind}{' cancelled' if self.cancelled else ''}>"


class JobRunner(QObject):
    """Runs :class:`Job` s on the writer, one at a time, and reports on the GUI thread.

    A step costs one emit, the job's own progress signal, straight from the writer: with
    PySide6 6.12.0 every ``emit()`` drops a reference to ``True`` that it never took, and
    Python aborts when none are left (about 12,000 with torch loaded), so a relay through
    a second signal would halve the steps a session can take.
    """

    finished = Signal(object, object)  # Job, JobEnd: once for every job given to start()
    _ended = Signal(object, object)  # writer -> GUI

    def __init__(self, writer: Writer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._writer = writer
        self.current: Job | None = None  # begun, its end not yet received
        self._waiting: list[Job] = []
        self._ended.connect(self._on_ended)

    # -- GUI thread ----------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """The job running (cancelled or not, until its end arrives) and those waiting."""
        return ([self.current] if self.current is not None else []) + list(self._waiting)

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._waiting)

    def start(self, job: Job) -> Job:
        """Run ``job`` now, or once the job running now is over."""
        if not self.busy:
            self._begin(job)
        else:
            self._waiting.append(job)
        return job

    def pause(self, job: Job, paused: bool) -> bool:
        """Hold ``job`` between two steps, or go on; False if there was nothing to change."""
        if job is not self.current or job.cancelled or job.paused == paused:
            return False
        job.paused = paused
        job._token += 1  # the step queued before a pause goes stale
        if not paused:
            self._writer.submit(self._step, job, job._token)
        return True

    def cancel(self, job: Job, *, report: bool = True) -> None:
        """Stop ``job``: its generator is closed on the writer and its end follows
        (``report=False``: no end is reported, for shutting down)."""
        if job.cancelled:
            return
        job.cancelled = True
        job._token += 1
        if job in self._waiting:  # never begun: over now
            self._waiting.remove(job)
            if report:
                job.on_end(JobEnd(cancelled=True))
                self.finished.emit(job, JobEnd(cancelled=True))
        elif job is self.current:
            self._writer.submit(self._close, job, report)

    def cancel_all(self, *, report: bool = True) -> None:
        for job in reversed(self.jobs):
            self.cancel(job, report=report)

    def _begin(self, job: Job) -> None:
        self.current = job
        job.on_start()
        self._writer.submit(self._first_step, job, job._token)

    def _on_ended(self, job: Job, end: JobEnd) -> None:
        if job is self.current:
            self.current = None
        job.on_end(end)  # the runner is still busy here if a job waits: none jumps it
        self.finished.emit(job, end)
        if self.current is None and self._waiting:
            self._begin(self._waiting.pop(0))

    # -- writer thread ---------------------------------------------------------------------

    def _first_step(self, job: Job, token: int) -> None:
        if job.cancelled:  # cancelled before it began: _close reports it
            return
        try:
            job._run = job.work()
        except Exception as error:
            self._end(job, JobEnd(error=sentence(error, job.kind)))
            return
        self._step(job, token)

    def _step(self, job: Job, token: int) -> None:
        if job._run is None or token != job._token:
            return  # paused, cancelled, or a stale chain after a resume
        try:
            progress = next(job._run)
        except StopIteration as stop:
            job._run = None
            self._end(job, JobEnd(job._last, stop.value))
            return
        except Exception as error:  # the generator is over either way
            job._run = None
            self._end(job, JobEnd(job._last, error=sentence(error, job.kind)))
            return
        job._last = progress
        if job.progress is not None and not job.cancelled:
            job.progress.emit(progress)
        self._writer.submit(self._step, job, token)  # behind whatever the GUI queued

    def _close(self, job: Job, report: bool) -> None:
        if job._over:
            return  # it ended before the cancel reached the writer: that end stands
        run, job._run = job._run, None
        error = ""
        if run is not None:
            try:
                run.close()  # type: ignore[attr-defined]  # a generator: GeneratorExit inside
            except Exception as failure:
                error = sentence(failure, job.kind)
        job._over = True
        if report:
            self._ended.emit(job, JobEnd(job._last, cancelled=True, error=error))

    def _end(self, job: Job, end: JobEnd) -> None:
        job._over = True
        self._ended.emit(job, end)
