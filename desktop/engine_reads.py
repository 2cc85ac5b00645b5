"""Quick reads of the library that need no model: the text read in a photo (for the
preview) and the places its photos were taken in (for the Place filter).

They run on the engine's writer thread, as everything that touches the library does, and
answer through signals queued to the GUI thread. Only the latest text request counts: one
for a photo the user has since left is skipped, and its answer dropped by the preview.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.jobs import sentence

if TYPE_CHECKING:
    from core.library import Library
    from core.store.catalog_text import PhotoText

Submit = Callable[..., None]


class LibraryReads(QObject):
    textReady = Signal(str, object)  # photo path, PhotoText or None (not read yet)
    textFailed = Signal(str, str)  # photo path, a sentence for the user
    placesListed = Signal(object)  # [(place label, photo count)], most photos first

    def __init__(self, submit: Submit, library: Callable[[], Library | None],
                 parent: QObject | None = None) -> None:
        """``submit`` queues a task on the writer thread; ``library`` (called there) is the
        open library, or None."""
        super().__init__(parent)
        self._submit = submit
        self._library = library
        self._text_for: str | None = None  # the photo whose text is wanted (GUI thread)

    # -- GUI thread --------------------------------------------------------------------

    def text(self, path: str | None) -> None:
        """The text read in a photo: ``textReady`` or ``textFailed`` follow, unless another
        photo was asked for meanwhile. ``None`` forgets the request."""
        self._text_for = path
        if path is not None:
            self._submit(self._text, path)

    def places(self) -> None:
        """The library's places: ``placesListed`` follows (nothing while it is not open)."""
        self._submit(self._places)

    # -- writer thread -----------------------------------------------------------------

    def _text(self, path: str) -> None:
        if path != self._text_for:
            return  # the user moved on to another photo
        library = self._library()
        if library is None:
            self.textFailed.emit(path, "the library is not open")
            return
        try:
            text: PhotoText | None = library.text_of(path)
        except Exception as error:  # said in the preview
            self.textFailed.emit(path, sentence(error, f"text of {path}"))
            return
        self.textReady.emit(path, text)

    def _places(self) -> None:
        library = self._library()
        if library is not None:
            self.placesListed.emit(library.catalog.places())
