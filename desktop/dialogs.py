"""The first-run model dialog (the settings dialog: desktop/settings_dialog.py)."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.defaults import DEFAULT_MODEL, DEFAULT_MODEL_SIZE
from desktop.model_problem import NOT_DOWNLOADED


class ModelDialog(QDialog):
    """Explains that no model is available and offers to download one or pick a folder."""

    downloadRequested = Signal()
    folderChosen = Signal(str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelDialog")
        self.setWindowTitle("Pictor needs a model")
        self.intro = QLabel(
            "<p><b>Pictor needs a model to understand your photos.</b></p>"
            "<p>The model runs on this computer: your photos never leave it. It is "
            f"downloaded once ({DEFAULT_MODEL}, {DEFAULT_MODEL_SIZE}), or you can choose a "
            "folder that holds a saved CLIP-family model (for a computer without a "
            "network).</p>")
        self.intro.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setObjectName("modelError")
        self.download_button = QPushButton(f"Download {DEFAULT_MODEL}")
        self.folder_button = QPushButton("Choose a model folder…")
        self.later_button = QPushButton("Not now")
        self.progress = QProgressBar()
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel download")
        self.download_button.clicked.connect(self._download)
        self.folder_button.clicked.connect(self.choose_folder)
        self.later_button.clicked.connect(self.reject)
        self.cancel_button.clicked.connect(self.cancelRequested)
        buttons = QHBoxLayout()
        for button in (self.download_button, self.folder_button, self.later_button):
            buttons.addWidget(button)
        downloading = QHBoxLayout()
        downloading.addWidget(self.progress, 1)
        downloading.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_label)
        layout.addLayout(downloading)
        self.setMinimumWidth(520)
        self._attempts = 0
        self._downloading = False  # Download was pressed and has not ended yet
        self.set_downloading(False)

    def show_problem(self, message: str) -> None:
        """``message``: one sentence (desktop/model_problem.py). After Download, it says
        that this attempt failed, when, and how many tries there were: pressed again while
        offline, the dialog visibly answers each time."""
        tried, self._downloading = self._downloading, False
        self.set_downloading(False)
        if not tried or "cancelled" in message:
            self.detail.setStyleSheet("")
            self.detail.setText(f"<p><i>Why:</i> {html.escape(message)}</p>")
            return
        attempt = f", attempt {self._attempts}" if self._attempts > 1 else ""
        self.detail.setStyleSheet("color: #c62828;")
        why = message.removeprefix(NOT_DOWNLOADED)
        self.detail.setText(
            f"<p><b>Download failed</b> ({time.strftime('%H:%M:%S')}{attempt})"
            f"{': ' if why != message else '. '}{html.escape(why)} Press Download to try "
            "again, or choose a model folder.</p>")

    def set_downloading(self, downloading: bool) -> None:
        for widget in (self.progress, self.cancel_button, self.progress_label):
            widget.setVisible(downloading)
        for button in (self.download_button, self.folder_button):
            button.setEnabled(not downloading)
        if downloading:
            self.progress.setRange(0, 0)
            self.progress_label.setText("Connecting…")

    def on_progress(self, done: int, total: int) -> None:
        self.set_downloading(True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress_label.setText(f"Downloading… {done / 1e6:.0f} of {total / 1e6:.0f} MB")

    def ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Choose a model folder")

    def choose_folder(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.detail.setText("Loading the model…")
            self.folderChosen.emit(folder)

    def _download(self) -> None:
        self._attempts += 1
        self._downloading = True
        self.set_downloading(True)
        self.downloadRequested.emit()
