"""The fine-tuning dialog: pick albums, watch the run, see whether it helped, roll back;
and the versions trained before, to go back to one or delete it (each is a whole model).

It only shows and asks; the engine runs :func:`core.finetune.run.finetune` on its writer thread
(see desktop/engine.py) while the window keeps searching with the current model. Closing
the dialog during a run cancels it (nothing is written).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.units import human_size
from desktop.wording import count

PHASES = {"prepare": "Checking the albums…", "features": "Reading the photos…",
          "train": "Training…", "save": "Saving the new model…", "done": "Done."}
LOOKING = "Looking for albums…"
NO_FOLDERS = ("No folder of the library holds 4 or more photos under a name: type the tags "
              "your photos carry instead.")
METRICS = (("recall_at_1", "Album name finds its photo first"),
           ("recall_at_5", "… among the first 5"),
           ("retention", "General searches kept"))


class FinetuneDialog(QDialog):
    startRequested = Signal(list, int, bool)  # album folders or tags, epochs, image side
    cancelRequested = Signal()
    rollbackRequested = Signal()
    useRequested = Signal(str)  # a version's folder
    deleteRequested = Signal(str)  # a version's folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("finetuneDialog")
        self.setWindowTitle("Teach Pictor your albums")
        self.running = False
        intro = QLabel(
            "<p>Pictor can learn the names of your own albums (\"Grandma Rosa\", \"Bella the "
            "dog\"), which no general model knows. Pick two or more albums: each one's name is "
            "what is learnt from its photos. Some photos of each are held out, to show "
            "whether it helped. It runs on this computer; searches keep working meanwhile, "
            "and you can roll back at any time.</p>")
        intro.setWordWrap(True)
        self.current = QLabel()
        self.current.setWordWrap(True)
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.clicked.connect(self.rollbackRequested)
        current_row = QHBoxLayout()
        current_row.addWidget(self.current, 1)
        current_row.addWidget(self.rollback_button)
        self.albums = QListWidget()
        self.albums.setObjectName("albumList")
        self.albums.itemChanged.connect(self._update_buttons)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("e.g. Grandma Rosa, Bella the dog")
        self.tags.textChanged.connect(self._update_buttons)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(60)
        self.train_images = QCheckBox("Teach the image side too (can learn more; every "
                                      "photo is then embedded again)")
        form = QFormLayout()
        form.addRow("Tags of your photos:", self.tags)
        form.addRow("Epochs (at most; it stops when it stops improving):", self.epochs)
        form.addRow(self.train_images)
        self.progress = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.results = QTableWidget(len(METRICS), 2)
        self.results.setObjectName("finetuneResults")
        self.results.setHorizontalHeaderLabels(["Before", "After"])
        self.results.setVerticalHeaderLabels([label for _, label in METRICS])
        self.results.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results.horizontalHeader().setStretchLastSection(True)
        self.results.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.results.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.versions = QTableWidget(0, 3)
        self.versions.setObjectName("versionTable")
        self.versions.setHorizontalHeaderLabels(["Trained", "Albums", "Found first"])
        self.versions.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.versions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.versions.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.versions.horizontalHeader().setStretchLastSection(True)
        self.versions.verticalHeader().hide()
        self.versions.setMaximumHeight(110)
        self.versions.itemSelectionChanged.connect(self._update_buttons)
        self.use_button = QPushButton("Use this version")
        self.use_button.clicked.connect(self._use_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete_selected)
        version_buttons = QVBoxLayout()
        version_buttons.addWidget(self.use_button)
        version_buttons.addWidget(self.delete_button)
        version_buttons.addStretch(1)
        self.versions_box = QWidget()
        versions_row = QHBoxLayout(self.versions_box)
        versions_row.setContentsMargins(0, 0, 0, 0)
        versions_row.addWidget(self.versions, 1)
        versions_row.addLayout(version_buttons)
        self._version_rows: list[Any] = []
        # Asks before a version is deleted (tests answer it without a modal dialog).
        self.confirm = self._ask
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(current_row)
        self.versions_label = QLabel("Versions trained here:")
        layout.addWidget(self.versions_label)
        layout.addWidget(self.versions_box)
        layout.addWidget(QLabel("Album folders:"))
        layout.addWidget(self.albums, 1)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.results)
        layout.addLayout(buttons)
        self.setMinimumSize(600, 720)
        self.set_versions([])
        self._show_running(False)
        self.results.hide()
        self.progress_label.setText(LOOKING)

    # -- what the engine reports -------------------------------------------------------

    def set_choices(self, choices: Sequence[Any], versions: Sequence[Any]) -> None:
        """The folders that can be albums (core.finetune.albums.AlbumChoice) and the versions
        trained here (core.finetune.versions.ModelVersion, the one in use marked ``current``)."""
        checked = set(self.chosen())
        self.albums.clear()
        for choice in choices:
            item = QListWidgetItem(f"{choice.name}  ({count(choice.photos, 'photo')})")
            item.setData(Qt.ItemDataRole.UserRole, choice.folder)
            item.setToolTip(choice.folder)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if choice.folder in checked
                               else Qt.CheckState.Unchecked)
            self.albums.addItem(item)
        if self.progress_label.text() in ("", LOOKING, NO_FOLDERS):  # no run's message
            self.progress_label.setText("" if choices else NO_FOLDERS)
        self.set_versions(versions)

    def set_versions(self, versions: Sequence[Any]) -> None:
        selected = self.selected_version()
        self._version_rows = list(reversed(versions))  # newest first
        self.versions.setRowCount(len(self._version_rows))
        for row, version in enumerate(self._version_rows):
            before = version.metrics.get("before", {}).get("recall_at_1", 0.0)
            after = version.metrics.get("after", {}).get("recall_at_1", 0.0)
            cells = (version.date[:16].replace("T", " ") + ("  (in use)" if version.current
                                                           else ""),
                     ", ".join(version.albums), f"{before:.0%} → {after:.0%}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(version.folder)
                self.versions.setItem(row, col, item)
            if version.folder == selected:
                self.versions.selectRow(row)
        self.versions.resizeColumnsToContents()
        self.versions_label.setVisible(bool(versions))
        self.versions_box.setVisible(bool(versions))
        self.set_current(next((v for v in versions if v.current), None))
        self._update_buttons()

    def selected_version(self) -> str | None:
        rows = self.versions.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._version_rows):
            return None
        return str(self._version_rows[rows[0].row()].folder)

    def on_version_deleted(self, folder: str, freed: int) -> None:
        self.progress_label.setText(f"Deleted the version {Path(folder).name}: "
                                    f"{human_size(freed)} freed.")

    def set_current(self, version: Any) -> None:
        if version is None:
            self.current.setText("The model in use is not a fine-tuned version.")
            self.rollback_button.hide()
            return
        albums = ", ".join(version.albums)
        self.current.setText(
            f"In use: a version trained on {html.escape(albums)} "
            f"({version.date[:16].replace('T', ' ')}), "
            f"from {html.escape(Path(version.base_model).name or version.base_model)}.")
        self.rollback_button.setText(
            f"Roll back to {Path(version.base_model).name or version.base_model}")
        self.rollback_button.show()
        self.rollback_button.setEnabled(not self.running)

    def on_progress(self, progress: Any) -> None:
        text = PHASES.get(progress.phase, progress.phase)
        self.progress.setFormat("%p%")
        if progress.phase == "train":
            self.progress.setRange(0, progress.epochs)
            self.progress.setValue(progress.epoch)
            self.progress.setFormat("epoch %v")
            text = (f"Training: epoch {progress.epoch} of at most {progress.epochs}, loss "
                    f"{progress.loss:.3f}, held-out photos found first "
                    f"{progress.metrics.recall_at_1:.0%}")
        elif progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        else:
            self.progress.setRange(0, 0)
        self.progress_label.setText(text)

    def on_finished(self, result: Any, message: str) -> None:
        self._show_running(False)
        if result is None:
            self.progress_label.setText(
                "Cancelled: the model was not changed." if message == "cancelled"
                else f"Not done: {message}")
            return
        for row, (key, _) in enumerate(METRICS):
            for col, metrics in enumerate((result.before, result.after)):
                item = QTableWidgetItem(f"{getattr(metrics, key):.2f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.results.setItem(row, col, item)
        self.results.show()
        gain = result.after.recall_at_1 - result.before.recall_at_1
        verdict = ("It helped." if gain > 0.05 else
                   "It did not help much: roll back if searches are not better.")
        after = ("its photo vectors are those of the base model (the image side did not "
                 "change), so there is nothing to re-embed." if result.vectors_reused else
                 "your photos are being embedded with it in the background.")
        self.progress_label.setText(
            f"{verdict} The new version is in use ({result.elapsed_s:.0f} s); {after}")

    def on_rolled_back(self, base: str) -> None:
        self.set_current(None)
        self.results.hide()
        self.progress_label.setText(f"Back to {Path(base).name or base}: nothing to "
                                    "re-embed, its vectors were kept.")

    # -- the user ----------------------------------------------------------------------

    def chosen(self) -> list[str]:
        """Checked album folders, then the typed tags."""
        folders = [str(item.data(Qt.ItemDataRole.UserRole))
                   for item in (self.albums.item(i) for i in range(self.albums.count()))
                   if item.checkState() == Qt.CheckState.Checked]
        tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
        return folders + tags

    def _start(self) -> None:
        albums = self.chosen()
        if len(albums) < 2:
            return
        self._show_running(True)
        self.results.hide()
        self.progress.setRange(0, 0)
        self.progress_label.setText(PHASES["prepare"])
        self.startRequested.emit(albums, self.epochs.value(), self.train_images.isChecked())

    def _show_running(self, running: bool) -> None:
        self.running = running
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        for widget in (self.albums, self.tags, self.epochs, self.train_images,
                       self.rollback_button):
            widget.setEnabled(not running)
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        self.start_button.setEnabled(not self.running and len(self.chosen()) >= 2)
        folder = self.selected_version()
        version = next((v for v in self._version_rows if v.folder == folder), None)
        can = version is not None and not version.current and not self.running
        self.use_button.setEnabled(can)
        self.delete_button.setEnabled(can)

    def _use_selected(self) -> None:
        folder = self.selected_version()
        if folder is not None:
            self.progress_label.setText(f"Switching to {Path(folder).name}…")
            self.useRequested.emit(folder)

    def _delete_selected(self) -> None:
        folder = self.selected_version()
        if folder is not None and self.confirm(
                f"Delete the version {Path(folder).name}? Its model files and vectors are "
                "removed from the data folder; your photos are not touched."):
            self.deleteRequested.emit(folder)

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Delete a version", question)
        return answer == QMessageBox.StandardButton.Yes

    def reject(self) -> None:
        if self.running:
            self.cancelRequested.emit()  # closing the dialog cancels the run
        super().reject()
