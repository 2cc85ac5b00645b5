"""The Duplicates view (Library ▸ Find duplicates…): groups of copies of one picture side by
side, with their sizes and the suggested keeper; similar shots on request. The user ticks
what goes; one button moves it to the system's Trash after a confirmation naming how many
files and how much space.

It only shows and asks: desktop/engine_duplicates.py finds and moves on the engine's writer
thread. Copies not kept start ticked; similar shots start unticked (they are different
photos: the user decides).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.units import human_size
from desktop.wording import count

if TYPE_CHECKING:
    from core.sync.copies import CopyGroup, CopyMember, TrashReport
    from desktop.thumbnails import ImageCache

THUMB = 160
PER_ROW = 5
KIND_TITLES = {"copies": "Copies of one picture", "similar": "Similar shots"}


def _short(path: str) -> str:
    """Its folder and name: copies often share a name ("backup/IMG_1.jpg")."""
    where = Path(path)
    return f"{where.parent.name}/{where.name}" if where.parent.name else where.name


class DuplicatesDialog(QDialog):
    findRequested = Signal(bool)  # include similar shots
    trashRequested = Signal(list, set)  # [CopyGroup], paths to move
    cancelRequested = Signal()

    def __init__(self, thumbnails: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicatesDialog")
        self.setWindowTitle("Duplicates")
        self.resize(900, 640)
        self._thumbnails = thumbnails
        self._groups: list[CopyGroup] = []
        self.boxes: dict[str, QCheckBox] = {}  # path -> its "move to Trash" box
        self._twins: dict[str, list[QCheckBox]] = {}  # a photo in two groups: boxes in step
        self._pictures: dict[str, list[QLabel]] = {}
        thumbnails.ready.connect(self._on_thumbnail)

        self.similar_box = QCheckBox("Also show similar shots (a burst, the same scene again)")
        self.find_button = QPushButton("Find duplicates")
        self.find_button.clicked.connect(self.look)
        top = QHBoxLayout()
        top.addWidget(self.similar_box, 1)
        top.addWidget(self.find_button)
        self.progress = QProgressBar()
        self.progress.hide()
        self.summary = QLabel("Pictor compares the photos of the library; nothing is changed "
                              "until you move photos to the Trash.")
        self.summary.setWordWrap(True)
        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        self.trash_button = QPushButton("Move to Trash")
        self.trash_button.setEnabled(False)
        self.trash_button.clicked.connect(self._confirm_trash)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.trash_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)

    # -- asking --------------------------------------------------------------------------

    def look(self) -> None:
        self.find_button.setEnabled(False)
        self.trash_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.summary.setText("Looking for copies…")
        self.findRequested.emit(self.similar_box.isChecked())

    def chosen(self) -> list[CopyMember]:
        """The photos ticked to go, in the groups' order."""
        return [m for g in self._groups for m in g.photos
                if m.path in self.boxes and self.boxes[m.path].isChecked()]

    def _confirm_trash(self) -> None:
        going = self.chosen()
        if not going:
            return
        size = human_size(sum(m.bytes for m in going))
        answer = QMessageBox.question(
            self, "Move to Trash",
            f"Move {count(len(going), 'photo')} ({size}) to the Trash?\n\nThe photo kept of "
            "each picture stays in the library and gets the words of its copies. You can "
            "restore the files from the Trash; Pictor then finds them again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.trash_button.setEnabled(False)
        self.summary.setText(f"Moving {count(len(going), 'photo')} to the Trash…")
        self.trashRequested.emit(list(self._groups), {m.path for m in going})

    # -- answers -------------------------------------------------------------------------

    def on_progress(self, step: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total))
        self.summary.setText(f"{step[:1].upper()}{step[1:]}…" if step else "Comparing photos…")

    def on_found(self, groups: Sequence[CopyGroup]) -> None:
        self.progress.hide()
        self.find_button.setEnabled(True)
        self._show(list(groups))

    def on_trashed(self, report: TrashReport) -> None:
        moved = {r.path for r in report.moved}
        text = (f"Moved {count(len(report.moved), 'photo')} to the Trash, "
                f"{human_size(report.bytes)} freed.")
        if report.failed:
            reasons = "; ".join(f"{Path(r.path).name}: {r.reason}" for r in report.failed[:3])
            text += f" {count(len(report.failed), 'photo')} stayed ({reasons})."
        left = []
        for group in self._groups:
            photos = tuple(m for m in group.photos if m.path not in moved)
            if len(photos) > 1:
                left.append(type(group)(group.kind, photos))
        self._show(left)
        self.summary.setText(text)

    def on_failed(self, message: str) -> None:
        self.progress.hide()
        self.find_button.setEnabled(True)
        self.summary.setText(message)
        self._update_button()

    def reject(self) -> None:  # closing while it looks: stop looking
        self.cancelRequested.emit()
        super().reject()

    # -- the list ------------------------------------------------------------------------

    def _show(self, groups: list[CopyGroup]) -> None:
        self._groups = groups
        self.boxes.clear()
        self._twins.clear()
        self._pictures.clear()
        while self._list_layout.count() > 1:
            item = self._list_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for group in groups:
            self._list_layout.insertWidget(self._list_layout.count() - 1, self._group(group))
        copies = sum(1 for g in groups if g.kind == "copies")
        similar = len(groups) - copies
        self.summary.setText(
            "No copies found." if not groups else
            f"{count(copies, 'group')} of copies"
            + (f", {count(similar, 'group')} of similar shots" if similar else "")
            + ". The photo to keep is first; tick what goes.")
        self._update_button()

    def _group(self, group: CopyGroup) -> QGroupBox:
        box = QGroupBox(f"{KIND_TITLES[group.kind]} ({len(group.photos)} photos)")
        grid = QGridLayout(box)
        for place, member in enumerate(group.photos):
            grid.addWidget(self._member(member, ticked=group.kind == "copies"
                                        and not member.keep), *divmod(place, PER_ROW))
        grid.setColumnStretch(PER_ROW, 1)
        return box

    def _member(self, member: CopyMember, *, ticked: bool) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        column = QVBoxLayout(frame)
        picture = QLabel()
        picture.setFixedSize(THUMB, THUMB)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._pictures.setdefault(member.path, []).append(picture)
        self._set_picture(member.path)
        size = f"{member.width} x {member.height}" if member.width else "size unknown"
        facts = QLabel(f"<b>{'Keep' if member.keep else ''}</b><br>"
                       f"{html.escape(_short(member.path))}<br>{size} · "
                       f"{human_size(member.bytes)}<br><i>{html.escape(member.reason)}</i>")
        facts.setTextFormat(Qt.TextFormat.RichText)
        facts.setWordWrap(True)
        facts.setFixedWidth(THUMB)
        facts.setToolTip(member.path)
        tick = QCheckBox("Move to Trash")
        twins = self._twins.setdefault(member.path, [])
        tick.setChecked(ticked or any(t.isChecked() for t in twins))
        twins.append(tick)
        tick.toggled.connect(lambda on, path=member.path: self._toggled(path, on))
        self.boxes.setdefault(member.path, tick)
        column.addWidget(picture)
        column.addWidget(facts)
        column.addWidget(tick)
        return frame

    def _toggled(self, path: str, on: bool) -> None:
        for twin in self._twins.get(path, []):
            if twin.isChecked() != on:
                twin.setChecked(on)
        self._update_button()

    def _set_picture(self, path: str) -> None:
        pixmap: Any = self._thumbnails.get(path)
        if pixmap is None:
            return
        for label in self._pictures.get(path, []):
            label.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))

    def _on_thumbnail(self, path: str) -> None:
        if path in self._pictures:
            self._set_picture(path)

    def _update_button(self) -> None:
        going = self.chosen()
        self.trash_button.setEnabled(bool(going))
        freed = human_size(sum(m.bytes for m in going))
        self.trash_button.setText(f"Move {count(len(going), 'photo')} to Trash ({freed})"
                                  if going else "Move to Trash")
