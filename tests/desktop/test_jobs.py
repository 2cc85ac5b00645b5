"""The job runner on toy generators: what a new kind of job gets for nothing (progress,
result, failure, pause, stop, one job at a time), without a library or a model.

The toy steps are slowed down: each Qt emit costs a reference to ``True`` with PySide6
6.12.0 (see desktop/jobs.py), and a test session has only so many.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal

from desktop.jobs import Job, JobEnd, JobRunner, Writer


class Toy(QObject):
    """A job and what it reported."""

    progressed = Signal(object)

    def __init__(self, steps: Iterator[Any] | None = None) -> None:
        super().__init__()
        self.progress: list[Any] = []
        self.ends: list[JobEnd] = []
        self.began = False
        self.closed = threading.Event()
        self.progressed.connect(self.progress.append)
        self.job = Job("toy", lambda: steps if steps is not None else self.forever(),
                       progress=self.progressed, on_start=self.start, on_end=self.ends.append)

    def start(self) -> None:
        self.began = True

    def forever(self) -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                time.sleep(0.01)  # a batch of work
                yield n
        finally:
            self.closed.set()


@pytest.fixture
def writer() -> Iterator[Writer]:
    errors: list[str] = []
    writer = Writer(on_error=errors.append)
    yield writer
    writer.shutdown()
    assert errors == []


@pytest.fixture
def runner(qtbot: Any, writer: Writer) -> Iterator[JobRunner]:
    runner = JobRunner(writer)
    yield runner
    runner.cancel_all(report=False)


def counted(n: int) -> Iterator[int]:
    yield from range(1, n + 1)
    return n * 10  # type: ignore[misc]


def test_a_job_reports_its_steps_then_its_result(qtbot: Any, runner: JobRunner) -> None:
    toy = Toy(counted(3))
    with qtbot.waitSignal(runner.finished, timeout=5_000) as finished:
        runner.start(toy.job)
    assert toy.began and toy.progress == [1, 2, 3]
    assert finished.args == [toy.job, toy.ends[0]]
    assert toy.ends == [JobEnd(last=3, result=30)] and toy.ends[0].completed
    assert not runner.busy


def test_a_failing_job_ends_with_a_sentence_for_the_user(qtbot: Any,
                                                         runner: JobRunner) -> None:
    def full_disk() -> Iterator[int]:
        yield 1
        raise OSError(errno.ENOSPC, "No space left on device")

    toy = Toy(full_disk())
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        runner.start(toy.job)
    (end,) = toy.ends
    assert end.last == 1 and not end.completed and not end.cancelled
    assert end.error.startswith("the disk is full")


def test_cancelling_closes_the_generator_and_reports_once(qtbot: Any,
                                                         runner: JobRunner) -> None:
    toy = Toy()
    runner.start(toy.job)
    qtbot.waitUntil(lambda: len(toy.progress) >= 3, timeout=5_000)
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        runner.cancel(toy.job)
        seen = len(toy.progress)
    assert toy.closed.is_set()  # its `finally` ran: a library run saves there
    assert len(toy.ends) == 1 and toy.ends[0].cancelled
    qtbot.wait(100)
    assert len(toy.progress) == seen and len(toy.ends) == 1


def test_a_paused_job_takes_no_step_until_resumed(qtbot: Any, runner: JobRunner) -> None:
    toy = Toy()
    runner.start(toy.job)
    qtbot.waitUntil(lambda: len(toy.progress) >= 2, timeout=5_000)
    assert runner.pause(toy.job, True) and not runner.pause(toy.job, True)
    qtbot.wait(100)  # a step already on its way may still report
    frozen = len(toy.progress)
    qtbot.wait(200)
    assert len(toy.progress) == frozen and runner.busy
    assert runner.pause(toy.job, False)
    qtbot.waitUntil(lambda: len(toy.progress) > frozen + 2, timeout=5_000)


def test_one_job_at_a_time_the_next_waits_for_the_one_stopped(qtbot: Any,
                                                             runner: JobRunner) -> None:
    first, second, third = Toy(), Toy(counted(2)), Toy(counted(1))
    runner.start(first.job)
    runner.start(second.job)
    runner.start(third.job)
    qtbot.waitUntil(lambda: bool(first.progress), timeout=5_000)
    assert not second.began and runner.jobs == [first.job, second.job, third.job]
    runner.cancel(third.job)  # never begun: over at once
    assert third.ends == [JobEnd(cancelled=True)] and not third.began
    with qtbot.waitSignal(runner.finished, timeout=5_000,
                          check_params_cb=lambda job, end: job is second.job):
        runner.cancel(first.job)
    assert first.ends[0].cancelled and second.began
    assert second.progress == [1, 2] and second.ends[0].result == 20


def test_a_job_cancelled_before_its_first_step_still_ends(qtbot: Any, runner: JobRunner,
                                                         writer: Writer) -> None:
    busy = threading.Event()
    writer.submit(lambda: busy.wait(5))  # the writer is busy with something else
    toy = Toy()
    with qtbot.waitSignal(runner.finished, timeout=5_000):
        runner.start(toy.job)
        runner.cancel(toy.job)
        busy.set()
    assert toy.ends == [JobEnd(cancelled=True)] and toy.progress == []
    assert not toy.closed.is_set()  # never started: nothing to close
