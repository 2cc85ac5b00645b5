"""Search by a part of the previewed photo: the user drags a rectangle over the preview's
image (a rubber band shows it; Esc or a mere click cancels), and on release the part it
covers is reported in the photo's full-size pixels as shown, for an image query by that
region (``Library.search(image=..., region=...)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QRubberBand

if TYPE_CHECKING:
    from desktop.preview import PreviewPane

Region = tuple[float, float, float, float]
MIN_DRAG = 6
"""A drag narrower or lower than this many screen pixels is a click: nothing is searched."""
TIP = "Drag a rectangle over the photo to search by that part of it (Esc cancels)"


def full_region(drawn: QRectF, shown: QRectF, full: tuple[int, int]) -> Region | None:
    """``drawn`` (in the widget's pixels) as ``x, y, width, height`` in the photo's
    full-size pixels, ``shown`` being where the photo is drawn and ``full`` its size;
    clipped to the photo, None when little or nothing of it is left."""
    part = drawn.normalized().intersected(shown)
    if part.width() < MIN_DRAG or part.height() < MIN_DRAG or not full[0] or not full[1]:
        return None
    sx, sy = full[0] / shown.width(), full[1] / shown.height()
    x, y = (part.left() - shown.left()) * sx, (part.top() - shown.top()) * sy
    width = min(part.width() * sx, full[0] - x)
    height = min(part.height() * sy, full[1] - y)
    return (round(x, 1), round(y, 1), round(width, 1), round(height, 1))


class RegionPicker(QObject):
    """Watches the preview's image for a drag; ``chosen`` reports the part dragged over."""

    chosen = Signal(str, object)  # photo path, Region

    def __init__(self, preview: PreviewPane) -> None:
        super().__init__(preview)
        self._preview = preview
        self._label = label = preview.image
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, label)
        self._origin: QPointF | None = None
        label.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Esc reaches it while dragging
        label.setToolTip(TIP)
        label.installEventFilter(self)
        preview.shown.connect(lambda _path: self.cancel())

    @property
    def dragging(self) -> bool:
        return self._origin is not None

    def shown_rect(self) -> QRectF | None:
        """Where the photo is drawn in the preview's image (it is centred), or None."""
        pixmap = self._label.pixmap()
        if pixmap.isNull() or self._preview.path is None:
            return None
        size = pixmap.deviceIndependentSize().toSize()
        area = self._label.contentsRect()
        return QRectF(area.x() + (area.width() - size.width()) // 2,
                      area.y() + (area.height() - size.height()) // 2,
                      size.width(), size.height())

    def cancel(self) -> None:
        self._origin = None
        self._band.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self._label:
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            return self._press(event)
        if kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent) and self.dragging:
            self._stretch(event.position())
            return True
        if (kind == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent)
                and self.dragging and event.button() == Qt.MouseButton.LeftButton):
            self._release(event.position())
            return True
        if (kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and self.dragging
                and event.key() == Qt.Key.Key_Escape):
            self.cancel()
            return True
        return False

    def _press(self, event: QMouseEvent) -> bool:
        shown = self.shown_rect()
        if event.button() != Qt.MouseButton.LeftButton or shown is None:
            return False
        if not shown.contains(event.position()):
            return False
        self._origin = event.position()
        self._label.setFocus(Qt.FocusReason.MouseFocusReason)
        self._band.setGeometry(QRect(self._origin.toPoint(), self._origin.toPoint()))
        self._band.show()
        return True

    def _stretch(self, at: QPointF) -> None:
        shown = self.shown_rect()
        if self._origin is None or shown is None:
            self.cancel()
            return
        band = QRectF(self._origin, at).normalized().intersected(shown)
        self._band.setGeometry(QRect(QPoint(round(band.left()), round(band.top())),
                                     QPoint(round(band.right()), round(band.bottom()))))

    def _release(self, at: QPointF) -> None:
        origin, path, shown = self._origin, self._preview.path, self.shown_rect()
        self.cancel()
        if origin is None or path is None or shown is None:
            return
        region = full_region(QRectF(origin, at), shown, self._preview.full_size)
        if region is not None:
            self.chosen.emit(path, region)
