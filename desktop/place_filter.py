"""The search bar's Place filter: the places the library's photos were taken in, with how
many photos each, most first; "Any place" leaves the search unrestricted."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

ANY_PLACE = "Any place"
NO_PLACES_TIP = "No photo in the library carries a GPS position (yet)"
PLACES_TIP = "Show only the photos taken at this place (from their GPS positions)"


class PlaceChoice(QComboBox):
    """``place()`` is the chosen place's label (None: any place). ``chosen`` is emitted
    when the user picks another one, or when the chosen one is gone from the library."""

    chosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("placeFilter")
        self.setMinimumContentsLength(18)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.currentIndexChanged.connect(lambda _index: self.chosen.emit())
        self.set_places([])

    def place(self) -> str | None:
        label = self.currentData()
        return str(label) if label else None

    def set_places(self, places: Sequence[tuple[str, int]]) -> None:
        """List ``(label, photo count)`` pairs, keeping the current choice when it is listed."""
        current = self.place()
        self.blockSignals(True)
        self.clear()
        self.addItem(ANY_PLACE, None)
        for label, count in places:
            self.addItem(f"{label} ({count})", label)
            self.setItemData(self.count() - 1, f"{label}: {count} photo"
                             f"{'' if count == 1 else 's'}", Qt.ItemDataRole.ToolTipRole)
        found = self.findData(current) if current else 0
        self.setCurrentIndex(max(found, 0))
        self.setToolTip(PLACES_TIP if places else NO_PLACES_TIP)
        self.blockSignals(False)
        if current and found < 0:
            self.chosen.emit()  # its photos are gone: the search widens
