"""Indexing progress for the status bar: done/total, rate, time left, pause and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from desktop.wording import count

if TYPE_CHECKING:
    from core.types import Progress


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(progress: Progress) -> str:
    if progress.phase == "scan":
        return f"Looking for photos… {progress.total} found"
    if progress.phase == "load":
        return "Loading the model…"
    if progress.phase == "optimise":
        return "Preparing the model for this computer (once per model)…"
    if progress.phase == "tag":
        return f"Tagging photos {progress.done} / {progress.total}"
    if progress.phase == "text":
        return f"Reading text in photos {progress.done} / {progress.total}"
    if progress.phase == "done" or (progress.total and progress.done >= progress.total):
        return f"Indexed {progress.done} / {progress.total}"
    text = f"Indexing {progress.done} / {progress.total}"
    if progress.rate > 0:
        text += f" · {progress.rate:.1f} photos/s"
    if progress.eta_s is not None and progress.done:
        text += f" · about {_duration(progress.eta_s)} left"
    return text


def summary(last: Progress | None, cancelled: bool) -> str:
    if cancelled:
        return "Indexing stopped; what was done is kept"
    if last is None or not (last.indexed or last.failed or last.moved or last.removed):
        return "Library up to date"
    parts = [f"{count(last.indexed, 'photo')} indexed"]
    parts += [f"{n} {what}" for n, what in ((last.failed, "failed"), (last.moved, "moved"),
                                            (last.removed, "removed")) if n]
    return ", ".join(parts) + f" in {_duration(last.elapsed_s)}"


class IndexStatus(QWidget):
    pauseToggled = Signal(bool)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(False)
        self.pause_button = QToolButton()
        self.pause_button.setText("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._toggled)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Stop")
        self.cancel_button.setToolTip("Stop indexing (what was done is kept)")
        self.cancel_button.clicked.connect(self.cancelRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.pause_button, self.cancel_button):
            layout.addWidget(widget)
        self._running(False)

    def _running(self, running: bool) -> None:
        for widget in (self.bar, self.pause_button, self.cancel_button):
            widget.setVisible(running)

    def on_started(self) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(False)
        self.pause_button.setText("Pause")
        self.pause_button.blockSignals(False)
        self.bar.setRange(0, 0)
        self.label.setText("Looking for photos…")
        self._running(True)

    def on_progress(self, progress: Progress) -> None:
        if progress.phase in ("scan", "optimise") or not progress.total:
            self.bar.setRange(0, 0)  # busy: no count to show (yet)
        else:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
        paused = " (paused)" if self.pause_button.isChecked() else ""
        self.label.setText(describe(progress) + paused)

    def on_paused(self, paused: bool) -> None:
        text = self.label.text().removesuffix(" (paused)")
        self.label.setText(text + (" (paused)" if paused else ""))

    def on_finished(self, last: Progress | None, cancelled: bool) -> None:
        self._running(False)
        self.label.setText(summary(last, cancelled))

    def _toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)
