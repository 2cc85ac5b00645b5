"""The duplicate finder for the window: find the copies of each picture (and similar shots),
and move the photos the user chose to the Trash (``Library.find_duplicates`` and
``Library.trash_copies``, core.sync.copies).

Both run on the engine's writer thread, as everything that touches the library does, and
answer through signals queued to the GUI thread. Finding reports its progress and can be
cancelled between steps; what it made meanwhile (prints of older photos) is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.jobs import sentence

if TYPE_CHECKING:
    from core.library import Library
    from core.sync.copies import CopyGroup

Submit = Callable[[Callable[[], None]], None]


class DuplicatesFinder(QObject):
    progress = Signal(str, int, int)  # what it does now, done, total
    found = Signal(list)  # [core.sync.copies.CopyGroup], the largest waste of space first
    trashed = Signal(object)  # core.sync.copies.TrashReport
    failed = Signal(str)  # a sentence for the user

    def __init__(self, submit: Submit, library: Callable[[], Library | None],
                 parent: QObject | None = None) -> None:
        """``submit`` queues a task on the writer thread; ``library`` (called there) is the
        open library, or None."""
        super().__init__(parent)
        self._submit = submit
        self._library = library
        self._cancel = threading.Event()

    # -- GUI thread --------------------------------------------------------------------

    def find(self, *, similar: bool) -> None:
        self._cancel.clear()
        self._submit(lambda: self._find(similar))

    def cancel(self) -> None:
        self._cancel.set()

    def trash(self, groups: Sequence[CopyGroup], paths: set[str]) -> None:
        """Move the photos at ``paths`` (members of ``groups``) to the Trash; confirmed by
        the user before this is called."""
        chosen = list(groups)
        self._submit(lambda: self._trash(chosen, set(paths)))

    # -- writer thread -----------------------------------------------------------------

    def _find(self, similar: bool) -> None:
        library = self._library()
        if library is None:
            self.failed.emit("the library is not open yet")
            return
        try:
            run = library.find_duplicates(similar=similar)
            for step in run:
                if self._cancel.is_set():
                    return
                self.progress.emit(step.current or "", step.done, step.total)
        except Exception as error:  # said in the dialog
            self.failed.emit(sentence(error, "find duplicates"))
            return
        self.found.emit(list(run.groups))

    def _trash(self, groups: list[CopyGroup], paths: set[str]) -> None:
        library = self._library()
        if library is None:
            self.failed.emit("the library is not open")
            return
        try:
            report = library.trash_copies(groups, chosen=lambda member: member.path in paths)
        except Exception as error:
            self.failed.emit(sentence(error, "move the copies to the Trash"))
            return
        self.trashed.emit(report)
