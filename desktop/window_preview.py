"""The preview pane's wiring in the main window: it shows the grid's current photo, Space
(in the grid) and F3 hide and show it, its captions and the text read in it are asked of
the engine (again once a model is ready, or an index run has read the text), the query's
words go with the photo (the lines of its text they match are marked), and a click on a
caption searches for it; "Why?" and a dragged region are desktop/window_why.py's. The
pane itself is drawn by desktop/preview.py.

Opening a result that is a video plays it from the moment its search found
(desktop/video_player.py): the window's opener (``open_url``, which the grid's Open, Enter
and double click use) is wrapped here so that a video hit goes to the player and anything
else to the opener as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence, QShortcut

from desktop import video_player
from desktop.query import Query
from desktop.results import HitRole, PathRole
from desktop.window_why import WhyWiring
from desktop.wording import caption_language

if TYPE_CHECKING:
    from desktop.window import MainWindow


class PreviewWiring(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.grid = window.grid
        self.preview = preview = window.preview
        engine = window.engine
        self.words = ""  # the current query's text
        window.search_bar.queryChanged.connect(self._on_query)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self.show_current())
        preview.captions.captionClicked.connect(window.search_bar.search_text)
        preview.captionsWanted.connect(
            lambda path: engine.captions(path, language=caption_language()))
        engine.captionsReady.connect(preview.on_captions)
        engine.captionsFailed.connect(preview.on_captions_failed)
        engine.modelReady.connect(lambda *_: preview.retry_captions())  # "need a model"
        preview.textWanted.connect(engine.reads.text)
        engine.reads.textReady.connect(preview.on_text)
        engine.reads.textFailed.connect(preview.on_text_failed)
        engine.indexFinished.connect(lambda *_: preview.retry_text())
        self.action = QAction("Preview pane", window)  # in the View menu
        self.action.setShortcut(QKeySequence("F3"))
        self.action.setCheckable(True)
        self.action.setChecked(True)
        self.action.triggered.connect(lambda: preview.setVisible(self.action.isChecked()))
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self.grid)
        space.setContext(Qt.ShortcutContext.WidgetShortcut)
        space.activated.connect(self.toggle_from_grid)
        self.why = WhyWiring(window)  # "Why?" and search by a region
        self.opener = VideoOpener(window, window.open_url)
        window.open_url = self.opener

    def show_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.preview.show_photo(index.data(PathRole), index.data(HitRole),
                                    words=self.words)

    def _on_query(self, query: Query) -> None:
        self.words = query.text

    def toggle_from_grid(self) -> None:
        shown = not self.preview.isVisible()
        self.preview.setVisible(shown)
        self.action.setChecked(shown)
        if shown:
            self.show_current()


class VideoOpener:
    """The window's opener of results: a video hit plays from its best moment, anything
    else (a photo, a folder) goes to ``default`` (the system's default application)."""

    def __init__(self, window: MainWindow, default: Any) -> None:
        self.window = window
        self.default = default

    def __call__(self, url: QUrl) -> object:
        path = url.toLocalFile()
        row = self.window.results.row_of(path) if path else None
        hit = self.window.results.hit(row) if row is not None else None
        if hit is None or hit.kind != "video":
            return self.default(url)
        message = video_player.play(
            path, hit.time_s or 0.0,
            open_default=lambda video: self.default(QUrl.fromLocalFile(video)))
        self.window.statusBar().showMessage(message, 15000)
        return True
