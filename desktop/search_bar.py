"""The search bar: text (searched as you type), an example-image chip, and filters."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.query import Query, split_negative

DEBOUNCE_MS = 300


class ImageChip(QFrame):
    """The query image, shown next to the text, with a button that removes it."""

    removed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageChip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.icon = QLabel()
        self.icon.setFixedSize(28, 28)
        self.icon.setScaledContents(False)
        self.label = QLabel()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Remove the query image")
        self.close_button.clicked.connect(self.removed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 1, 1)
        layout.setSpacing(4)
        layout.addWidget(self.icon)
        layout.addWidget(self.label)
        layout.addWidget(self.close_button)

    def show_image(self, path: str, prefix: str) -> None:
        pixmap = QPixmap(path)  # small files only reach here; big ones still load
        if not pixmap.isNull():
            pixmap = pixmap.scaled(28, 28, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.icon.setPixmap(pixmap)
        name = Path(path).name
        self.label.setText(f"{prefix}{name if len(name) < 28 else name[:25] + '…'}")
        self.setToolTip(path)
        self.show()


class SearchBar(QWidget):
    """Emits ``queryChanged`` with the whole query whenever any part of it changes."""

    queryChanged = Signal(object)  # Query
    chooseImage = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: str | None = None
        self._similar = False
        self.edit = QLineEdit()
        self.edit.setObjectName("searchEdit")
        self.edit.setPlaceholderText("Describe a photo…   (add “not: …” to leave something out)")
        self.edit.setClearButtonEnabled(True)
        self.edit.setAcceptDrops(False)  # a dropped photo is a query image, not text
        self.chip = ImageChip()
        self.chip.hide()
        self.chip.removed.connect(self.clear_image)
        self.image_button = QToolButton()
        self.image_button.setText("Image…")
        self.image_button.setToolTip("Search by an example photo (or drop one on the window)")
        self.image_button.clicked.connect(self.chooseImage)
        self.filter_button = QToolButton()
        self.filter_button.setText("Filters")
        self.filter_button.setCheckable(True)
        self.folder = QComboBox()
        self.folder.setMinimumContentsLength(18)
        self.folder.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.after = _date_edit("from (YYYY-MM-DD)")
        self.before = _date_edit("before (YYYY-MM-DD)")
        self.filters = QWidget()
        filter_row = QHBoxLayout(self.filters)
        filter_row.setContentsMargins(0, 0, 0, 0)
        filter_row.addWidget(QLabel("Folder:"))
        filter_row.addWidget(self.folder, 2)
        filter_row.addWidget(QLabel("Taken:"))
        filter_row.addWidget(self.after, 1)
        filter_row.addWidget(self.before, 1)
        self.filters.hide()
        self.filter_button.toggled.connect(self._show_filters)
        self.set_folders([])
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.edit, 1)
        top.addWidget(self.chip)
        top.addWidget(self.image_button)
        top.addWidget(self.filter_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit)
        self.edit.textEdited.connect(lambda _text: self._debounce.start())
        self.edit.returnPressed.connect(self._emit)
        self.edit.textChanged.connect(self._on_text_changed)
        self.folder.currentIndexChanged.connect(lambda _i: self._emit())
        self.after.editingFinished.connect(self._emit_if_changed)
        self.before.editingFinished.connect(self._emit_if_changed)
        self._last: Query | None = None

    # -- the query ---------------------------------------------------------------------

    def query(self) -> Query:
        text, negative = split_negative(self.edit.text())
        similar = self._image if self._similar and not text else None
        return Query(
            text=text,
            negative=negative,
            image=None if similar else self._image,
            similar_to=similar,
            folder=self.folder.currentData() or None,
            after=self.after.text().strip() if self.filter_button.isChecked() else "",
            before=self.before.text().strip() if self.filter_button.isChecked() else "",
        )

    def set_image(self, path: str, *, similar: bool = False) -> None:
        self._image, self._similar = path, similar
        self.chip.show_image(path, "Like: " if similar else "")
        self._emit()

    def clear_image(self) -> None:
        self._image, self._similar = None, False
        self.chip.hide()
        self._emit()

    @property
    def image(self) -> str | None:
        return self._image

    def set_folders(self, folders: list[str]) -> None:
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for folder in folders:
            self.folder.addItem(folder, folder)
        found = self.folder.findData(current) if current else 0
        self.folder.setCurrentIndex(max(found, 0))
        self.folder.blockSignals(False)
        if current and found < 0:
            self._emit()

    def focus_search(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def _emit(self) -> None:
        self._debounce.stop()
        self._last = self.query()
        self.queryChanged.emit(self._last)

    def _emit_if_changed(self) -> None:
        if self.query() != self._last:
            self._emit()

    def _on_text_changed(self, text: str) -> None:
        if not text:  # the clear button: show that immediately
            self._emit()

    def _show_filters(self, shown: bool) -> None:
        self.filters.setVisible(shown)
        self._emit_if_changed()


def _date_edit(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    edit.setAcceptDrops(False)
    return edit
