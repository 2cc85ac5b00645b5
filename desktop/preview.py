"""The preview pane: the selected photo large, and what is known about it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from desktop.thumbnails import ImageCache

FIELDS = (("path", "Path"), ("taken_at", "Taken"), ("camera", "Camera"),
          ("dimensions", "Dimensions"), ("size", "File size"), ("score", "Score"))


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


class PreviewPane(QWidget):
    """Shows one photo; the image and facts come from a cache filled off the GUI thread."""

    def __init__(self, previews: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self._previews = previews
        self._path: str | None = None
        self._score: float | None = None
        self._pixmap: QPixmap | None = None
        self.image = QLabel("Select a photo to see it here")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(QSize(200, 160))
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, title in FIELDS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = label
            form.addRow(title + ":", label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addLayout(form)
        previews.ready.connect(self._on_ready)
        previews.failed.connect(self._on_failed)

    @property
    def path(self) -> str | None:
        return self._path

    def show_photo(self, path: str | None, score: float | None = None) -> None:
        self._path, self._score, self._pixmap = path, score, None
        for label in self.values.values():
            label.clear()
        if path is None:
            self.image.clear()
            self.image.setText("Select a photo to see it here")
            return
        self.values["path"].setText(path)
        if score is not None:
            self.values["score"].setText(f"{score:.3f}")
        ready = self._previews.get(path)
        if ready is None:
            self.image.clear()
            self.image.setText("Loading…")
        else:
            self._show(ready)

    def _on_ready(self, path: str) -> None:
        if path == self._path:
            ready = self._previews.get(path)
            if ready is not None:
                self._show(ready)

    def _on_failed(self, path: str, reason: str) -> None:
        if path == self._path:
            self.image.setText(f"Cannot show this photo: {reason}")

    def _show(self, ready: tuple[QPixmap, dict[str, Any]]) -> None:
        self._pixmap, facts = ready
        self.values["taken_at"].setText(facts.get("taken_at") or "unknown")
        self.values["camera"].setText(facts.get("camera") or "unknown")
        self.values["dimensions"].setText(f"{facts['width']} x {facts['height']} "
                                          f"({facts['format']})")
        self.values["size"].setText(human_size(int(facts["size"])))
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            return
        self.image.setPixmap(self._pixmap.scaled(
            self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
