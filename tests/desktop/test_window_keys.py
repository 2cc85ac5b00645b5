"""Keyboard, context menu, preview, drag-out and remembered layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication

from tests.desktop.qt_helpers import wait_idle


def searched(qtbot: Any, make_window: Any, library: Any, text: str = "a green square") -> Any:
    window = make_window(library.data)
    wait_idle(qtbot, window)
    window.search_bar.edit.setText(text)
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    return window


def test_keyboard_find_move_preview_and_open(qtbot: Any, make_window: Any,
                                             library_copy: Any) -> None:
    window = searched(qtbot, make_window, library_copy)
    window.grid.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.search_bar.edit.hasFocus())
    assert window.search_bar.edit.selectedText() == "a green square"
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Down)  # into the results
    qtbot.waitUntil(lambda: window.grid.hasFocus())
    assert window.grid.currentIndex().row() == 0
    selected = window.grid.selectionModel().selectedIndexes()
    assert [index.row() for index in selected] == [0]  # selected, as the preview shows it
    assert window.preview.path == window.results.hit(0).path
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1
    second = window.results.hit(1).path
    qtbot.waitUntil(lambda: window.preview.path == second)
    qtbot.waitUntil(lambda: "x" in window.preview.values["dimensions"].text(), timeout=10_000)
    assert window.preview.values["dimensions"].text().startswith("96 x 72")
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)  # Space hides and shows the preview
    assert not window.preview.isVisible()
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert window.preview.isVisible()
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert window.opened_urls == [second]


def test_context_menu_copy_path_and_find_similar(qtbot: Any, make_window: Any,
                                                 library_copy: Any) -> None:
    window = searched(qtbot, make_window, library_copy)
    first = window.results.hit(0).path
    window.grid.selectionModel().setCurrentIndex(
        window.results.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    menu = window.context_menu()
    actions = {action.text(): action for action in menu.actions()}
    assert list(actions) == ["Open", "Show in file manager", "Copy path", "Find similar photos"]
    actions["Copy path"].trigger()
    assert QApplication.clipboard().text() == first
    actions["Show in file manager"].trigger()
    assert window.opened_urls == [str(Path(first).parent)]
    # The toy photos all look alike to the toy model: show every photo, ranked.
    window.search_bar.set_min_score(0)
    actions["Find similar photos"].trigger()
    assert window.search_bar.chip.label.text().startswith("Like: ")
    qtbot.waitUntil(lambda: window.results.rowCount() > 0
                    and window.results.hit(0).path != first, timeout=10_000)
    assert first not in [hit.path for hit in window.results.hits()]  # not itself
    menu.deleteLater()


def test_selected_results_drag_out_as_files(qtbot: Any, make_window: Any,
                                            library_copy: Any) -> None:
    window = searched(qtbot, make_window, library_copy)
    indexes = [window.results.index(0), window.results.index(2)]
    mime = window.results.mimeData(indexes)
    assert [url.toLocalFile() for url in mime.urls()] == [
        window.results.hit(0).path, window.results.hit(2).path]
    assert window.results.flags(indexes[0]) & Qt.ItemFlag.ItemIsDragEnabled


def test_copy_shortcut_in_the_grid_copies_every_selected_path(qtbot: Any, make_window: Any,
                                                              library_copy: Any) -> None:
    window = searched(qtbot, make_window, library_copy)
    window.grid.setFocus()
    window.grid.selectAll()
    qtbot.keyClick(window.grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QApplication.clipboard().text().splitlines()
    assert copied == [hit.path for hit in window.results.hits()]


def test_window_geometry_is_remembered(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    settings = tmp_path / "remember.ini"
    window = make_window(tmp_path / "data", start=False, settings_file=settings)
    window.resize(720, 520)
    window.splitter.setSizes([200, 500, 200])
    window.close()
    again = make_window(tmp_path / "data", start=False, settings_file=settings)
    assert (again.width(), again.height()) == (720, 520)
    assert again.splitter.sizes()[0] == window.splitter.sizes()[0]


def test_settings_dialog_switches_model_device_and_data_folder(
        qtbot: Any, make_window: Any, library_copy: Any, toy_clip_dir: Path,
        tmp_path: Path) -> None:
    from PySide6.QtCore import QTimer

    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    other = tmp_path / "elsewhere"

    def fill_in_and_accept() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.windowTitle() == "Settings"
        dialog.model.setText(str(toy_clip_dir))
        dialog.device.setCurrentText("cpu")
        dialog.data_dir.setText(str(other))
        dialog.accept()

    QTimer.singleShot(200, fill_in_and_accept)
    with qtbot.waitSignal(window.engine.opened, timeout=10_000):
        window.open_settings()
    assert (window.settings.model, window.settings.device, window.settings.data_dir) == (
        str(toy_clip_dir), "cpu", str(other))
    assert window.engine.config.data_dir == other and window.data_dir == other
    assert (other / "library.db").is_file()
    wait_idle(qtbot, window)
