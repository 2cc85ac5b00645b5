"""The preview pane: the selected photo large, what is known about it, and its captions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.units import human_size
from desktop.caption_list import CaptionList
from desktop.results import MATCHED
from desktop.thumbnails import ImageCache
from desktop.wording import dated

if TYPE_CHECKING:
    from core.search.captions import Caption
    from core.types import SearchHit

FIELDS = (("path", "Path"), ("date", "Date"), ("camera", "Camera"),
          ("dimensions", "Dimensions"), ("size", "File size"), ("score", "Score"))


class PreviewPane(QWidget):
    """Shows one photo; the image and facts come from a cache filled off the GUI thread.

    Captions are asked for with ``captionsWanted`` (once per photo, while the pane is
    shown) and arrive through :meth:`on_captions`; answers for another photo are dropped.
    """

    captionsWanted = Signal(str)  # photo path

    def __init__(self, previews: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self._previews = previews
        self._path: str | None = None
        self._pixmap: QPixmap | None = None
        self._hit_date: str | None = None
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
        self.values["score"].setTextFormat(Qt.TextFormat.RichText)
        self.captions = CaptionList()
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addLayout(form)
        layout.addWidget(self.captions)
        previews.ready.connect(self._on_ready)
        previews.failed.connect(self._on_failed)

    @property
    def path(self) -> str | None:
        return self._path

    def show_photo(self, path: str | None, hit: SearchHit | None = None) -> None:
        """Show a photo and its search hit; the captions are kept while it is the same
        photo (a refreshed search), else cleared for the window to ask for new ones."""
        if path != self._path:
            self.captions.clear()
        self._path, self._pixmap = path, None
        for label in self.values.values():
            label.clear()
        if path is None:
            self.image.clear()
            self.image.setText("Select a photo to see it here")
            return
        self.values["path"].setText(path)
        self._hit_date = hit.date if hit is not None else None
        if hit is not None:
            self.values["score"].setText(self._score_text(hit))
            self.values["date"].setText(dated(hit.date, hit.date_source, full=True))
            self.values["date"].setToolTip("The date the Taken filters use")
        ready = self._previews.get(path)
        if ready is None:
            self.image.clear()
            self.image.setText("Loading…")
        else:
            self._show(ready)
        self._want_captions(self.isVisible())

    # -- captions ----------------------------------------------------------------------

    def _want_captions(self, shown: bool) -> None:
        if self._path and shown and self.captions.state == "empty":
            self.captions.show_loading()
            self.captionsWanted.emit(self._path)

    def on_captions(self, path: str, captions: list[Caption]) -> None:
        if path == self._path and self.captions.state == "loading":
            self.captions.show_captions(captions)

    def on_captions_failed(self, path: str, message: str) -> None:
        if path == self._path and self.captions.state == "loading":
            self.captions.show_error(message)

    def retry_captions(self) -> None:
        """Ask again after a failure (the model has arrived since)."""
        if self.captions.state == "failed":
            self.captions.clear()
            self._want_captions(self.isVisible())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._want_captions(True)  # hidden while a photo was selected: ask now

    def _score_text(self, hit: SearchHit) -> str:
        """ "87 · similarity 0.312": the calibrated score, then the raw cosine, smaller."""
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        details = [f"similarity {hit.similarity:.3f}"]
        if hit.match in MATCHED:
            details.append("found by " + MATCHED[hit.match])
        return (f"<b>{hit.score:.0f}</b> <span style='color:{grey}'><small>· "
                f"{' · '.join(details)}</small></span>")

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
        if not self._hit_date:  # (no search hit: what the photo itself says)
            self.values["date"].setText(dated(facts.get("taken_at"), "exif", full=True))
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
