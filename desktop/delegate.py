"""Paints one result: its thumbnail, its file name, and its score when hovered; a video
carries a badge with its length."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from core.photos.video_names import clock
from desktop.results import BrokenRole, MomentRole, ScoreRole

Index = QModelIndex | QPersistentModelIndex
PAD = 6


class ThumbnailDelegate(QStyledItemDelegate):
    """Square thumbnail cells; the palette decides every colour (light and dark themes)."""

    def __init__(self, cell: int = 168, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.cell = cell

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(self.cell, self.cell + line + PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        style = option.widget.style() if option.widget else None
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                                option.widget)
        rect = option.rect
        line = QFontMetrics(option.font).height()
        box = QRect(rect.x() + PAD, rect.y() + PAD, rect.width() - 2 * PAD,
                    rect.height() - 2 * PAD - line)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        target = box
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:
            painter.fillRect(box, palette.color(QPalette.ColorRole.Midlight))
            broken = index.data(BrokenRole)
            if broken:
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 f"cannot show:\n{broken}")
        text_rect = QRect(rect.x() + PAD, box.bottom() + 2, rect.width() - 2 * PAD, line)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = option.fontMetrics.elidedText(str(index.data() or ""),
                                             Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, name)
        moment = index.data(MomentRole)
        if moment is not None:
            self._paint_video(painter, option, target, moment[1])
        if hovered:
            self._paint_score(painter, option, target, index.data(ScoreRole))
        painter.restore()

    @staticmethod
    def _paint_video(painter: QPainter, option: QStyleOptionViewItem, box: QRect,
                     duration: float | None) -> None:
        """ "▶ 3:10" in the thumbnail's lower right corner."""
        text = "\u25b6 " + clock(duration) if duration else "\u25b6"
        metrics = option.fontMetrics
        width, height = metrics.horizontalAdvance(text) + 10, metrics.height() + 4
        badge = QRect(box.right() - width - 3, box.bottom() - height - 3, width, height)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _paint_score(painter: QPainter, option: QStyleOptionViewItem, box: QRect,
                     score: object) -> None:
        if not isinstance(score, float):
            return
        text = f"{score:.0f}"  # 0-100
        metrics = option.fontMetrics
        badge = QRect(box.x() + 4, box.y() + 4, metrics.horizontalAdvance(text) + 10,
                      metrics.height() + 4)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
