"""The main window's status bar: passing notices on the left ("Adding ~/Pictures",
"Copied 3 paths"); the search's result count, the model and the indexing progress on the
right, as permanent widgets, so that a notice never hides or covers them (Qt hides the
ordinary ones while a message shows)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from desktop.engine import Engine
from desktop.index_status import IndexStatus

ROOM = 40
"""Pixels kept free between a notice and the first permanent widget."""


class StatusBar(QStatusBar):
    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results_label = QLabel()
        self.results_label.setObjectName("resultsCount")
        self.model_label = QLabel("Starting…")
        self.model_label.setObjectName("modelName")
        self.index_status = IndexStatus()
        self.index_status.pauseToggled.connect(engine.pause_index)
        self.index_status.cancelRequested.connect(engine.cancel_index)
        self._permanent = (self.results_label, self.model_label, self.index_status)
        for widget in self._permanent:
            self.addPermanentWidget(widget)
            widget.installEventFilter(self)
        self._notice = ""
        self._until: float | None = None  # when the notice goes (None: when replaced)
        engine.modelLoading.connect(self._on_model_loading)
        engine.modelReady.connect(self._on_model_ready)
        engine.modelMissing.connect(lambda _message: self.model_label.setText("No model"))

    def showMessage(self, text: str, /, timeout: int | None = 0) -> None:
        """A notice, elided in the middle to the room the permanent widgets leave (again
        when they change: indexing shows its progress bar)."""
        self._notice = text
        self._until = time.monotonic() + timeout / 1000 if timeout else None
        self._fit_notice()

    def _fit_notice(self) -> None:
        used = sum(widget.width() for widget in self._permanent if widget.isVisible())
        room = max(self.width() - used - ROOM, 120)
        left = 0 if self._until is None else max(round((self._until - time.monotonic())
                                                       * 1000), 1)
        super().showMessage(self.fontMetrics().elidedText(
            self._notice, Qt.TextElideMode.ElideMiddle, room), left)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.currentMessage():
            self._fit_notice()
        return False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.currentMessage():
            self._fit_notice()

    def _on_model_loading(self, name: str) -> None:
        self.model_label.setText(f"Loading the model{' ' + Path(name).name if name else ''}…")
        self.model_label.setToolTip(name)

    def _on_model_ready(self, name: str, device: str) -> None:
        self.model_label.setText(f"Model: {Path(name).name or name} ({device})")
        self.model_label.setToolTip(name)
