"""The search bar: text (searched as you type), an example-image chip (the whole photo, or
a part of it dragged over in the preview), the minimum score, and filters (folder, place:
desktop/place_filter.py, dates)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.defaults import DEFAULT_MIN_SCORE
from desktop.place_filter import PlaceChoice
from desktop.query import Query, split_negative
from desktop.thumbnails import small_image

DEBOUNCE_MS = 300
SCORE_STEP = 5


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

    def show_image(self, path: str, prefix: str, tip: str = "") -> None:
        image = small_image(path, 28)
        self.icon.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        name = Path(path).name
        self.label.setText(f"{prefix}{name if len(name) < 28 else name[:25] + '…'}")
        self.setToolTip(path + tip)
        self.show()


class ScoreSlider(QWidget):
    """The minimum score, 0-100 in steps of 5, with its value shown next to it."""

    valueChanged = Signal(int)  # after snapping to a step

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("minScore")
        self.title = QLabel("Min. score")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setSingleStep(SCORE_STEP)
        self.slider.setPageStep(2 * SCORE_STEP)
        self.slider.setFixedWidth(120)
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("100")
                                         + 4)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.slider)
        layout.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._on_slider)
        self.set_value(int(DEFAULT_MIN_SCORE))

    def value(self) -> int:
        return self.slider.value()

    def set_value(self, value: float) -> None:
        """Show ``value`` (snapped to a step) without reporting a change."""
        self.slider.blockSignals(True)
        self.slider.setValue(_snap(value))
        self.slider.blockSignals(False)
        self._show(self.slider.value())

    def show_once(self, value: int, usual: int) -> None:
        """Show ``value`` for one search, ``usual`` being the minimum that comes back."""
        self.set_value(value)
        self._show(self.slider.value(), usual)

    def _on_slider(self, value: int) -> None:
        snapped = _snap(value)
        if snapped != value:  # dragged between two steps: setValue reports the step
            self.slider.setValue(snapped)
            return
        self._show(value)
        self.valueChanged.emit(value)

    def _show(self, value: int, usual: int | None = None) -> None:
        self.value_label.setText(str(value))
        tip = (f"Hide photos scoring under {value} (scores run 0-100; 50 and up is a good "
               "match). 0 shows every photo by rank.")
        if usual is not None:
            tip = (f"{value} for this search only: your minimum score, {usual}, applies "
                   "again to the next search. " + tip)
        for widget in (self.title, self.slider, self.value_label):
            widget.setToolTip(tip)


def _snap(value: float) -> int:
    return min(max(round(value / SCORE_STEP) * SCORE_STEP, 0), 100)


class SearchBar(QWidget):
    """Emits ``queryChanged`` with the whole query whenever any part of it changes."""

    queryChanged = Signal(object)  # Query
    chooseImage = Signal()
    minScoreChanged = Signal(int)  # the user moved the slider (the query follows, debounced)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: str | None = None
        self._similar = False
        self._region: tuple[float, float, float, float] | None = None
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
        self.min_score = ScoreSlider()
        self.folder = QComboBox()
        self.folder.setMinimumContentsLength(18)
        self.folder.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.place = PlaceChoice()
        self.after = _date_edit("from (YYYY-MM-DD)")
        self.before = _date_edit("before (YYYY-MM-DD)")
        self.filters = QWidget()
        filter_row = QHBoxLayout(self.filters)
        filter_row.setContentsMargins(0, 0, 0, 0)
        filter_row.addWidget(QLabel("Folder:"))
        filter_row.addWidget(self.folder, 2)
        filter_row.addWidget(QLabel("Place:"))
        filter_row.addWidget(self.place, 2)
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
        top.addWidget(self.min_score)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit)
        self.edit.textEdited.connect(lambda _text: self._debounce.start())
        self.min_score.valueChanged.connect(self._on_min_score)
        self.edit.returnPressed.connect(self._emit)
        self.edit.textChanged.connect(self._on_text_changed)
        self.folder.currentIndexChanged.connect(lambda _i: self._emit())
        self.place.chosen.connect(self._emit)
        self.after.editingFinished.connect(self._emit_if_changed)
        self.before.editingFinished.connect(self._emit_if_changed)
        self._last: Query | None = None
        self._once: int | None = None  # the usual minimum, while a lower one shows
        self._once_for = Query()  # ... for this search

    # -- the query ---------------------------------------------------------------------

    def query(self) -> Query:
        text, negative = split_negative(self.edit.text())
        similar = self._image if self._similar and not text else None
        return Query(
            text=text,
            negative=negative,
            image=None if similar else self._image,
            region=None if similar else self._region,
            similar_to=similar,
            folder=self.folder.currentData() or None,
            place=self.place.place(),
            after=self.after.text().strip() if self.filter_button.isChecked() else "",
            before=self.before.text().strip() if self.filter_button.isChecked() else "",
            min_score=float(self.min_score.value()),
        )

    def set_image(self, path: str, *, similar: bool = False,
                  region: tuple[float, float, float, float] | None = None) -> None:
        """Search by a photo (with the text, if any); ``region`` (``x, y, width, height``
        in its full-size pixels as shown) by that part of it only."""
        self._image, self._similar = path, similar and region is None
        self._region = region
        if region is not None:
            where = ", ".join(f"{v:g}" for v in region)
            self.chip.show_image(path, "Part of ", f"\n(the part at x, y, width, height: "
                                                   f"{where})")
        else:
            self.chip.show_image(path, "Like: " if similar else "")
        self._emit()

    @property
    def region(self) -> tuple[float, float, float, float] | None:
        return self._region

    def clear_image(self) -> None:
        self._image, self._similar, self._region = None, False, None
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

    def set_places(self, places: Sequence[tuple[str, int]]) -> None:
        """The library's places (label, photo count) for the Place filter."""
        self.place.set_places(places)

    def search_text(self, text: str) -> None:
        """Search for ``text`` alone (a clicked caption): any query image is removed."""
        self._image, self._similar, self._region = None, False, None
        self.chip.hide()
        self.edit.setText(text)
        self._emit()

    def set_min_score(self, value: float, *, search: bool = False) -> None:
        """Move the slider; with ``search`` the query runs again at once."""
        self._once = None
        self.min_score.set_value(value)
        if search:
            self.minScoreChanged.emit(self.min_score.value())
            self._emit()

    def lower_min_score_once(self, value: int) -> None:
        """Run this search again with a lower minimum ("show photos scoring 20 and up"):
        the slider shows it until the search changes, then the usual minimum is back. It
        is not a setting: ``minScoreChanged`` is not emitted."""
        if self._once is None:
            self._once = self.min_score.value()
        self.min_score.show_once(value, self._once)
        self._once_for = self._what()
        self._emit()

    def _what(self) -> Query:
        """The query but its minimum score: what makes it another search."""
        return dataclasses.replace(self.query(), min_score=0.0)

    def focus_search(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def _emit(self) -> None:
        self._debounce.stop()
        if self._once is not None and self._what() != self._once_for:
            self.min_score.set_value(self._once)  # another search: the usual minimum
            self._once = None
        self._last = self.query()
        self.queryChanged.emit(self._last)

    def _emit_if_changed(self) -> None:
        if self.query() != self._last:
            self._emit()

    def _on_min_score(self, value: int) -> None:
        self._once = None  # the user's own choice now
        self.minScoreChanged.emit(value)
        self._debounce.start()  # like typing: dragging the slider runs one search

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
