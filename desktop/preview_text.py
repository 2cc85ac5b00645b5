"""The preview's text read in the photo: its lines, selectable and copyable, the lines the
query's words match highlighted; and those lines' boxes outlined over the photo.

A passive view: the window asks the engine for a photo's text and hands it here. Nothing
shows for a photo without text (or not read yet); why its text could not be read shows
as one grey line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from desktop.text_match import matching_lines

if TYPE_CHECKING:
    from core.store.catalog_text import PhotoText

MARK = QColor(255, 170, 0)
"""The colour of a matching line: its outline over the photo, its background in the text."""
MAX_LINES_SHOWN = 8
"""The text area grows with the text up to this many lines, then scrolls."""
Box = Sequence[Sequence[float]]


class PhotoTextView(QWidget):
    """States: ``empty`` (nothing asked), ``loading``, ``unread`` (the text pass has not
    read the photo yet), ``ready`` (read: with or without text) or ``failed``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoTextView")
        self.state = "empty"
        self.lines: list[dict[str, Any]] = []
        self.matched: list[int] = []
        self.title = QLabel("Text in the photo")
        self.title.setObjectName("photoTextTitle")
        self.title.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.text = QPlainTextEdit()
        self.text.setObjectName("photoText")
        self.text.setReadOnly(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setToolTip("The text read in the photo: select it to copy it")
        self.note = QLabel()
        self.note.setObjectName("photoTextNote")
        self.note.setWordWrap(True)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.note)
        self.clear()

    # -- states ------------------------------------------------------------------------

    def clear(self, state: str = "empty") -> None:
        self.state = state
        self.lines, self.matched = [], []
        self.text.clear()
        self.note.clear()
        self._show_parts(text=False, note=False)

    def show_loading(self) -> None:
        self.clear("loading")  # nothing shows: most photos have no text

    def show_text(self, text: PhotoText | None, query: str) -> None:
        """What the text pass read (None: not yet), the lines ``query`` matches marked."""
        if text is None:
            self.clear("unread")
            return
        self.clear("ready")
        if text.error:
            self._show_note(f"Its text could not be read: {text.error}")
            return
        self.lines = list(text.lines)
        self.text.setPlainText(text.text)
        self._fit_height()
        self._show_parts(text=bool(self.lines), note=False)
        self.mark(query)

    def show_error(self, message: str) -> None:
        self.clear("failed")
        self._show_note(f"Cannot show its text: {message}")

    def mark(self, query: str) -> None:
        """Highlight the lines the query's words match (the photo's outlines follow them)."""
        self.matched = matching_lines(self.lines, query)
        selections = []
        document = self.text.document()
        for index in self.matched:
            selection = QTextEdit.ExtraSelection()
            block = document.findBlockByNumber(index)
            selection.cursor = QTextCursor(block)  # the whole line, wrapped or not
            selection.cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                                          QTextCursor.MoveMode.KeepAnchor)
            selection.format = QTextCharFormat()
            selection.format.setBackground(QColor(MARK.red(), MARK.green(), MARK.blue(), 90))
            selection.format.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            selections.append(selection)
        self.text.setExtraSelections(selections)

    def matched_boxes(self) -> list[Box]:
        """The boxes of the matching lines, in the photo's pixels as shown."""
        return [self.lines[i]["box"] for i in self.matched if self.lines[i].get("box")]

    def _show_note(self, note: str) -> None:
        self.note.setText(note)
        self._show_parts(text=False, note=True)

    def _show_parts(self, *, text: bool, note: bool) -> None:
        self.title.setVisible(text)
        self.text.setVisible(text)
        self.note.setVisible(note)
        self.setVisible(text or note)

    def _fit_height(self) -> None:
        shown = min(max(len(self.lines), 1), MAX_LINES_SHOWN)
        margins = self.text.contentsMargins()
        frame = 2 * self.text.frameWidth() + margins.top() + margins.bottom()
        line = self.text.fontMetrics().lineSpacing()
        self.text.setFixedHeight(shown * line + frame + 2 * int(self.text.document()
                                                                 .documentMargin()))


def outlined(pixmap: QPixmap, boxes: Sequence[Box], full: tuple[int, int]) -> QPixmap:
    """A copy of ``pixmap`` (the photo shown at any size) with ``boxes`` outlined; the boxes'
    corners are in the pixels of the photo as shown at its full size ``full`` (w, h)."""
    if not boxes or full[0] <= 0 or full[1] <= 0 or pixmap.isNull():
        return pixmap
    sx, sy = pixmap.width() / full[0], pixmap.height() / full[1]
    marked = QPixmap(pixmap)
    painter = QPainter(marked)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(MARK, 2.5))
    for polygon in polygons(boxes, sx, sy):
        painter.drawPolygon(polygon)
    painter.end()
    return marked


def polygons(boxes: Sequence[Box], sx: float, sy: float) -> list[QPolygonF]:
    """The boxes' corners scaled by ``sx`` and ``sy``, as polygons."""
    return [QPolygonF([QPointF(float(x) * sx, float(y) * sy) for x, y in box])
            for box in boxes]
