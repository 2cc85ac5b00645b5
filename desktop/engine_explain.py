"""Why a photo matched a description: its heat map (``Library.explain``), for the
preview's "Why?" toggle.

It costs up to a second with a real-sized model, so it runs on the engine's writer
thread, as everything that touches the library does, and answers through signals queued
to the GUI thread. Only the latest request counts: each has a generation number, one
still queued when another is made is skipped, and an answer that arrives after another
request was made is for the window to drop (its generation is no longer the latest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.jobs import sentence

if TYPE_CHECKING:
    from core.library import Library

Submit = Callable[..., None]


class Explanations(QObject):
    explained = Signal(int, str, object)  # generation, photo path, core.search.explain.Heat
    explainFailed = Signal(int, str, str)  # generation, photo path, a sentence for the user

    def __init__(self, submit: Submit, library: Callable[[], Library | None],
                 parent: QObject | None = None) -> None:
        """``submit`` queues a task on the writer thread; ``library`` (called there) is the
        open library, or None."""
        super().__init__(parent)
        self._submit = submit
        self._library = library
        self._generation = 0

    @property
    def generation(self) -> int:
        """The latest request's number: answers carrying another one are stale."""
        return self._generation

    # -- GUI thread --------------------------------------------------------------------

    def explain(self, path: str | None, text: str) -> int:
        """Where ``text`` matched in the photo at ``path``: ``explained`` or
        ``explainFailed`` follow with the returned generation. ``None`` (or no text)
        forgets the last request: nothing follows."""
        self._generation += 1
        if path is not None and text.strip():
            self._submit(self._explain, self._generation, path, text)
        return self._generation

    # -- writer thread -----------------------------------------------------------------

    def _explain(self, generation: int, path: str, text: str) -> None:
        if generation != self._generation:
            return  # the user moved on: another photo or query
        library = self._library()
        if library is None:
            self.explainFailed.emit(generation, path, "the library is not open")
            return
        try:
            heat = library.explain(path, text)
        except Exception as error:  # said under the preview
            self.explainFailed.emit(generation, path, sentence(error, f"explain {path}"))
            return
        self.explained.emit(generation, path, heat)
