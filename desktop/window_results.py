"""The results grid's wiring in the main window: what is selected, and what can be done
with it (open, show in the file manager, copy the paths, find similar photos: from the
keyboard, a double click or the context menu), and Down from the search box into the
grid. The grid and its model are drawn by desktop/results_view.py and desktop/results.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from desktop.window import MainWindow

MAX_OPEN = 20
"""Photos opened at once at most (Enter on a large selection)."""


class ResultsWiring(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.grid = window.grid
        self.results = window.results
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.activated.connect(lambda _index: self.open_selected())
        window.search_bar.edit.installEventFilter(self)

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        if not rows and self.grid.currentIndex().isValid():
            rows = [self.grid.currentIndex().row()]
        return [self.results.hit(r).path for r in rows]

    def select(self, row: int) -> None:
        """Make ``row`` the current and only selected result (the view's setCurrentIndex
        alone moves the focus frame without selecting: the preview would show a photo the
        grid does not)."""
        self.grid.selectionModel().setCurrentIndex(
            self.results.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def open_selected(self) -> None:
        for path in self.selected_paths()[:MAX_OPEN]:
            self.window.open_url(QUrl.fromLocalFile(path))

    def show_in_folder(self) -> None:
        for folder in dict.fromkeys(str(Path(p).parent) for p in self.selected_paths()):
            self.window.open_url(QUrl.fromLocalFile(folder))

    def copy_paths(self) -> None:
        paths = self.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self.window.statusBar().showMessage(
                "Copied " + (paths[0] if len(paths) == 1 else f"{len(paths)} paths"), 4000)

    def find_similar(self) -> None:
        paths = self.selected_paths()
        if paths:
            search_bar = self.window.search_bar
            search_bar.edit.clear()
            search_bar.set_image(paths[0], similar=True)

    def context_menu(self) -> QMenu:
        menu = QMenu(self.window)
        menu.setObjectName("resultsMenu")
        menu.addAction("Open", self.open_selected)
        menu.addAction("Show in file manager", self.show_in_folder)
        menu.addAction("Copy path", self.copy_paths)
        menu.addAction("Find similar photos", self.find_similar)
        return menu

    def _context_menu(self, position: Any) -> None:
        index = self.grid.indexAt(position)
        if not index.isValid():
            return
        if not self.grid.selectionModel().isSelected(index):
            self.grid.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.context_menu().popup(self.grid.viewport().mapToGlobal(position))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Down in the search box moves into the results."""
        if (watched is self.window.search_bar.edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Down
                and self.results.rowCount()):
            self.grid.setFocus(Qt.FocusReason.OtherFocusReason)
            current = self.grid.currentIndex()
            self.select(current.row() if current.isValid() else 0)
            return True
        return super().eventFilter(watched, event)
