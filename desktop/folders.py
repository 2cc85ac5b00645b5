"""The library folders: online or offline, photo and failure counts, failed files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.wording import count

if TYPE_CHECKING:
    from core.types import LibraryStatus


def _tree(headers: list[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    tree.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the end of a path says the most
    tree.header().setStretchLastSection(False)
    tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        tree.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return tree


class FoldersPanel(QWidget):
    """Lists what the last :class:`LibraryStatus` says; asks the window to change it."""

    addRequested = Signal()
    removeRequested = Signal(str)
    reindexRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("foldersPanel")
        self.summary = QLabel("Opening the library…")
        self.summary.setWordWrap(True)
        self.roots = _tree(["Folder", "State", "Photos", "Failed"])
        self.roots.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The path gives way (elided at the left: its file name stays), never the reason,
        # whose first word may be the one that matters ("not an image"); a reason wider
        # than the panel scrolls. The tooltips hold both whole.
        self.failures = _tree(["Failed file", "Reason"])
        self.failures.header().setMinimumSectionSize(80)
        self.failures_title = QLabel("No failed files")
        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget this folder (your photos are not touched)")
        self.remove_button.setEnabled(False)
        self.reindex_button = QPushButton("Rescan")
        self.reindex_button.setToolTip("Look for new, changed and deleted photos now")
        self.add_button.clicked.connect(self.addRequested)
        self.remove_button.clicked.connect(self._remove)
        self.reindex_button.clicked.connect(self.reindexRequested)
        self.roots.itemSelectionChanged.connect(
            lambda: self.remove_button.setEnabled(bool(self.roots.selectedItems())))
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.reindex_button):
            buttons.addWidget(button)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(QLabel("<b>Library folders</b>"))
        top_layout.addWidget(self.roots, 1)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.summary)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.failures_title)
        bottom_layout.addWidget(self.failures, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

    def show_status(self, status: LibraryStatus) -> None:
        self.roots.clear()
        for root in status.roots:
            item = QTreeWidgetItem([root.path, "online" if root.online else "offline",
                                    str(root.photos), str(root.failed)])
            item.setData(0, Qt.ItemDataRole.UserRole, root.path)
            item.setData(2, Qt.ItemDataRole.UserRole, root.photos)
            item.setToolTip(0, root.path)
            if not root.online:
                item.setToolTip(1, "The folder cannot be reached (a drive that is not "
                                   "plugged in?). Its photos are kept.")
            self.roots.addTopLevelItem(item)
        if status.roots:
            self.summary.setText(f"{count(status.photos, 'photo')}, {status.indexed} indexed, "
                                 f"{status.pending} waiting, {status.failed} failed")
        else:
            self.summary.setText("No folders yet: add one, or drop a folder on the window.")
        self.failures.clear()
        for failure in status.failures:
            item = QTreeWidgetItem([failure.path, failure.error])
            for column in (0, 1):
                item.setToolTip(column, f"{failure.path}\n{failure.error}")
            self.failures.addTopLevelItem(item)
        shown = len(status.failures)
        first = f", first {shown} shown" if shown < status.failed else ""
        self.failures_title.setText(
            f"Failed files ({status.failed}{first})" if status.failed else "No failed files")

    def _remove(self) -> None:
        items = self.roots.selectedItems()
        if items and self.confirm_removal(items[0].data(0, Qt.ItemDataRole.UserRole),
                                          int(items[0].data(2, Qt.ItemDataRole.UserRole))):
            self.removeRequested.emit(items[0].data(0, Qt.ItemDataRole.UserRole))

    def confirm_removal(self, path: str, photos: int) -> bool:
        """Asked first: the records of every photo in the folder go at once, and coming
        back means reading and embedding them all again."""
        box = QMessageBox(QMessageBox.Icon.Question, "Remove a folder",
                          f"Remove {path} from the library?", parent=self)
        box.setInformativeText(
            f"Pictor forgets its {count(photos, 'photo')} at once: their records, vectors "
            "and tags. The files themselves are not touched. If you add the folder again, "
            "every photo in it is read again and its vector recomputed." if photos else
            "It holds no indexed photos. The files themselves are not touched.")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.exec()
        return box.clickedButton() is remove
