"""The preview's "Why?" and search-by-a-region wiring in the main window.

While "Why?" is on and the query has a description, the engine works out where it
matched in the previewed photo (``Library.explain`` on the writer thread); the heat map is
drawn over the photo and the breakdown listed under its details (desktop/why_view.py).
Another photo or another query asks again; an answer for an earlier request is dropped.
A query with no text (an image only) has nothing to explain: the toggle is disabled.

A rectangle dragged over the previewed photo (desktop/preview_region.py) becomes the
query's image: that part of the photo, with the text as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.preview_region import Region, RegionPicker
from desktop.query import Query
from desktop.why_view import EMPTY_TIP, ENABLED_TIP, NO_TEXT_TIP, breakdown

if TYPE_CHECKING:
    from core.search.explain import Heat
    from desktop.window import MainWindow


class WhyWiring(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.preview = preview = window.preview
        self.panel = preview.why
        self.search_bar = window.search_bar
        self.explanations = window.engine.explanations
        self.query = Query()
        self.asked: tuple[str, str] | None = None  # (photo, text) explained, or being
        self.heat: Heat | None = None
        self.note = ""  # working, or why it failed
        self._generation = 0
        window.search_bar.queryChanged.connect(self._on_query)
        preview.shown.connect(lambda _path: self.refresh())
        self.panel.toggled.connect(lambda _on: self.refresh())
        self.explanations.explained.connect(self._on_explained)
        self.explanations.explainFailed.connect(self._on_failed)
        self.regions = RegionPicker(preview)
        self.regions.chosen.connect(self.search_region)

    # -- why ----------------------------------------------------------------------------

    def _on_query(self, query: Query) -> None:
        self.query = query
        if query.text:
            self.panel.set_available(True, ENABLED_TIP)
        else:
            self.panel.set_available(False, NO_TEXT_TIP if query.image else EMPTY_TIP)
        self.refresh()

    def refresh(self) -> None:
        """Ask for the heat map the toggle, the photo and the query call for (if it is not
        the one shown or on its way), and show the breakdown."""
        path, text = self.preview.path, self.query.text
        wanted = (path, text) if self.panel.on and path and text else None
        if wanted != self.asked:
            self.asked, self.heat = wanted, None
            self.preview.set_heat(None, None)
            self._generation = self.explanations.explain(*(wanted or (None, "")))
            self.note = f"Working out where “{text}” matched…" if wanted else ""
        self._show()

    def _show(self) -> None:
        if self.asked is None:
            self.panel.clear()
            return
        self.panel.show_lines(breakdown(self.query, self.preview.hit, self.heat),
                              note=self.note)

    def _on_explained(self, generation: int, path: str, heat: Heat) -> None:
        if generation != self._generation or self.asked is None:
            return  # stale: another photo or query was asked for since
        self.heat, self.note = heat, ""
        self.preview.set_heat(path, heat)
        self._show()

    def _on_failed(self, generation: int, _path: str, message: str) -> None:
        if generation == self._generation and self.asked is not None:
            self.note = f"Cannot show where it matched: {message}"
            self._show()

    # -- a region ----------------------------------------------------------------------

    def search_region(self, path: str, region: Region) -> None:
        """Search by that part of the photo, the query's text kept."""
        self.search_bar.set_image(path, region=region)
