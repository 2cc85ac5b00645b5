"""The preview pane: the selected photo large, what is known about it (where it was
taken too), the text read in it (the lines the query's words match outlined over the
photo: desktop/preview_text.py), and its captions; "Why?" (desktop/why_view.py) draws
where the query's description matched over the photo. A video shows its frame at the
moment its search found, and says which ("0:42 of 3:10"); text is not read in videos."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.units import human_size
from desktop.caption_list import CaptionList
from desktop.preview_text import PhotoTextView, outlined
from desktop.results import found_by, image_key, moment_text
from desktop.thumbnails import ImageCache
from desktop.why_view import WhyPanel, heat_overlay
from desktop.wording import dated

if TYPE_CHECKING:
    from core.search.captions import Caption
    from core.search.explain import Heat
    from core.store.catalog_text import PhotoText
    from core.types import SearchHit

FIELDS = (("path", "Path"), ("moment", "Moment"), ("date", "Date"), ("place", "Place"),
          ("camera", "Camera"), ("dimensions", "Dimensions"), ("size", "File size"),
          ("score", "Score"))


class PreviewPane(QWidget):
    """Shows one photo; the image and facts come from a cache filled off the GUI thread.

    Captions are asked for with ``captionsWanted`` (once per photo, while the pane is
    shown) and arrive through :meth:`on_captions`; answers for another photo are dropped.
    The text read in the photo is asked for in the same way (``textWanted``,
    :meth:`on_text`), again when the photo shows anew while its text was not read yet.
    """

    captionsWanted = Signal(str)  # photo path
    textWanted = Signal(str)  # photo path
    shown = Signal(str)  # photo path ("" for none): show_photo was called

    def __init__(self, previews: ImageCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self._previews = previews
        self._path: str | None = None
        self._key: str | None = None  # what the image is asked for by (desktop.results)
        self._pixmap: QPixmap | None = None
        self._hit_date: str | None = None
        self._full: tuple[int, int] = (0, 0)  # the photo's size as shown (its text's boxes)
        self._words = ""  # the query's text: the lines it matches are marked
        self._hit: SearchHit | None = None
        self._heat: Heat | None = None  # drawn over the photo ("Why?")
        self.image = QLabel("Select a photo to see it here")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(QSize(200, 160))
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.values: dict[str, QLabel] = {}
        self._form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, title in FIELDS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = label
            form.addRow(title + ":", label)
        self.values["score"].setTextFormat(Qt.TextFormat.RichText)
        form.setRowVisible(self.values["place"], False)
        form.setRowVisible(self.values["moment"], False)
        self.why = WhyPanel()
        self.photo_text = PhotoTextView()
        self.captions = CaptionList()
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addLayout(form)
        layout.addWidget(self.why)
        layout.addWidget(self.photo_text)
        layout.addWidget(self.captions)
        previews.ready.connect(self._on_ready)
        previews.failed.connect(self._on_failed)

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def hit(self) -> SearchHit | None:
        return self._hit

    @property
    def is_video(self) -> bool:
        return self._hit is not None and self._hit.kind == "video"

    @property
    def full_size(self) -> tuple[int, int]:
        """The photo's width and height as shown at full size ((0, 0): not known yet)."""
        return self._full

    def set_heat(self, path: str | None, heat: Heat | None) -> None:
        """Draw ``heat`` over the photo at ``path`` (while it is the one shown); None
        removes it."""
        self._heat = heat if path is not None and path == self._path else None
        if self._pixmap is not None:
            self._fit()

    def show_photo(self, path: str | None, hit: SearchHit | None = None, *,
                   words: str = "") -> None:
        """Show a photo and its search hit, the lines of its text that ``words`` (the
        query's text) match marked; the captions and text are kept while it is the same
        photo (a refreshed search), else cleared for the window to ask for new ones."""
        if path != self._path:
            self.captions.clear()
            self.photo_text.clear()
            self._heat = None
        self._path, self._pixmap, self._words, self._hit = path, None, words, hit
        self._key = image_key(hit) if hit is not None and path == hit.path else path
        width, height = (hit.width, hit.height) if hit is not None else (0, 0)
        self._full = (width, height) if width and height else (0, 0)
        for label in self.values.values():
            label.clear()
        self._show_place(hit)
        self._show_moment()
        if self.photo_text.state == "ready":
            self.photo_text.mark(words)  # another search: other lines may match
        if path is None:
            self.image.clear()
            self.image.setText("Select a photo to see it here")
            self.shown.emit("")
            return
        self.values["path"].setText(path)
        self._hit_date = hit.date if hit is not None else None
        if hit is not None:
            self.values["score"].setText(self._score_text(hit))
            self.values["date"].setText(dated(hit.date, hit.date_source, full=True))
            self.values["date"].setToolTip("The date the Taken filters use")
        ready = self._previews.get(self._key or path)
        if ready is None:
            self.image.clear()
            self.image.setText("Loading…")
        else:
            self._show(ready)
        self._want_captions(self.isVisible())
        self._want_text(self.isVisible())
        self.shown.emit(path)

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
        self._want_text(True)

    # -- the text read in it, and where it was taken -----------------------------------

    def _want_text(self, shown: bool) -> None:
        if self._path and shown and not self.is_video and \
                self.photo_text.state in ("empty", "unread"):
            self.photo_text.show_loading()
            self.textWanted.emit(self._path)

    def retry_text(self) -> None:
        """Ask again for a text the text pass had not read yet (an index run ended)."""
        if self.photo_text.state == "unread":
            self._want_text(self.isVisible())

    def on_text(self, path: str, text: PhotoText | None) -> None:
        if path == self._path and self.photo_text.state == "loading":
            self.photo_text.show_text(text, self._words)
            self._fit()

    def on_text_failed(self, path: str, message: str) -> None:
        if path == self._path and self.photo_text.state == "loading":
            self.photo_text.show_error(message)

    def _show_place(self, hit: SearchHit | None) -> None:
        """ "Taken in Sevilla, Andalusia, Spain", the GPS position in its tooltip (the
        row is hidden for a photo that carries no position)."""
        place = hit.place if hit is not None else None
        position = hit.position if hit is not None else None
        where = coordinates(*position) if position is not None else ""
        label = self.values["place"]
        label.setText(f"Taken in {place}" if place else f"Taken at {where}" if where else "")
        label.setToolTip(f"GPS position: {where}" if where else "")
        self._form.setRowVisible(label, bool(place or where))

    def _show_moment(self) -> None:
        """ "0:42 of 3:10": the moment of a video shown (the row is hidden for a photo);
        a video has no camera (and no text read in it: none is asked for)."""
        moment = moment_text(self._hit) if self._hit is not None else None
        self.values["moment"].setText(moment or "")
        self._form.setRowVisible(self.values["moment"], moment is not None)
        self._form.setRowVisible(self.values["camera"], moment is None)

    def _score_text(self, hit: SearchHit) -> str:
        """ "87 · similarity 0.312": the calibrated score, then the raw cosine, smaller."""
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        details = [f"similarity {hit.similarity:.3f}"]
        found = found_by(hit)
        if found:
            details.append("found by " + html.escape(found))
        return (f"<b>{hit.score:.0f}</b> <span style='color:{grey}'><small>· "
                f"{' · '.join(details)}</small></span>")

    def _on_ready(self, key: str) -> None:
        if key == self._key:
            ready = self._previews.get(key)
            if ready is not None:
                self._show(ready)

    def _on_failed(self, key: str, reason: str) -> None:
        if key == self._key:
            what = "video" if self.is_video else "photo"
            self.image.setText(f"Cannot show this {what}: {reason}")

    def _show(self, ready: tuple[QPixmap, dict[str, Any]]) -> None:
        self._pixmap, facts = ready
        if not self._full[0]:  # (no search hit: the photo's own size)
            self._full = (int(facts["width"]), int(facts["height"]))
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
        scaled = self._pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        shown = outlined(scaled, self.photo_text.matched_boxes(), self._full)
        self.image.setPixmap(heat_overlay(shown, self._heat) if self._heat else shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


def coordinates(lat: float, lon: float) -> str:
    """ "37.38910°N, 5.98450°W" """
    return (f"{abs(lat):.5f}°{'N' if lat >= 0 else 'S'}, "
            f"{abs(lon):.5f}°{'E' if lon >= 0 else 'W'}")
