"""The main window's menus and their shortcuts: File, Edit, Library, View.

The actions only call what the window and its parts already do; the ones whose state the
window changes later (checked, enabled) are kept on it: ``keep_watching_action``,
``autostart_action``, ``paste_action``, ``copy_action``, ``preview_action``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from desktop.window import MainWindow


def _action(menu: QMenu, text: str, slot: Any, keys: Any = None,
            context: Qt.ShortcutContext | None = None) -> QAction:
    act = menu.addAction(text)
    act.triggered.connect(slot)
    if keys is not None:
        act.setShortcut(QKeySequence(keys))
    if context is not None:
        act.setShortcutContext(context)
    return act


def build_menus(window: MainWindow) -> None:
    bar = window.menuBar()
    grid, tray = window.grid, window.tray
    file = bar.addMenu("&File")
    _action(file, "Add folder…", window.choose_folder, "Ctrl+O")
    _action(file, "Search by image…", window.choose_image, "Ctrl+I")
    _action(file, "Settings…", window.open_settings, QKeySequence.StandardKey.Preferences)
    file.addSeparator()
    keep = window.keep_watching_action = _action(file, "Keep watching when closed",
                                                 window.toggle_keep_watching)
    keep.setCheckable(True)
    keep.setChecked(tray is not None and window.settings.keep_watching)
    keep.setEnabled(tray is not None)
    keep.setToolTip("Closing the window leaves Pictor in the tray, indexing new photos" if tray
                    else "This desktop shows no tray icons: closing the window quits")
    login = window.autostart_action = _action(file, "Start at login", window.toggle_autostart)
    login.setCheckable(True)
    login.setChecked(window.autostart.is_enabled())
    login.setToolTip("Pictor starts in the tray when you log in and indexes what changed"
                     if tray else
                     "Pictor opens its window when you log in (this desktop shows no tray)")
    _action(file, "Quit", window.quit_app, QKeySequence.StandardKey.Quit)

    edit = bar.addMenu("&Edit")
    _action(edit, "Find", window.search_bar.focus_search, QKeySequence.StandardKey.Find)
    window.paste_action = _action(edit, "Paste image or text", window.paste,
                                  QKeySequence.StandardKey.Paste,
                                  Qt.ShortcutContext.WidgetWithChildrenShortcut)
    grid.addAction(window.paste_action)
    window.copy_action = _action(edit, "Copy path", window.grid_wiring.copy_paths,
                                 QKeySequence.StandardKey.Copy,
                                 Qt.ShortcutContext.WidgetWithChildrenShortcut)
    grid.addAction(window.copy_action)
    _action(edit, "Find similar photos", window.grid_wiring.find_similar, "Ctrl+L")

    library = bar.addMenu("&Library")
    _action(library, "Rescan folders", lambda: window.engine.index(), "F5")
    _action(library, "Teach your albums…", window.open_finetune)
    _action(library, "Find duplicates…", lambda: window.dialogs.open_duplicates())

    view = bar.addMenu("&View")
    window.preview_action = window.preview_wiring.action
    view.addAction(window.preview_action)
    copies = _action(view, "Show every copy", window.toggle_copies)
    copies.setCheckable(True)
    copies.setToolTip("Off: a picture is listed once, whatever copies of it the library holds")
