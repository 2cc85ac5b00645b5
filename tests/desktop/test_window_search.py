"""Searching from the window: typing, dropping a photo, the model arriving late."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.desktop.qt_helpers import result_names, wait_idle
from tests.support import toyworld


def type_query(qtbot: Any, window: Any, text: str) -> None:
    window.search_bar.edit.setFocus()
    qtbot.keyClicks(window.search_bar.edit, text)


def test_typing_a_description_shows_matching_photos_first(qtbot: Any, make_window: Any,
                                                          library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    type_query(qtbot, window, "a red circle")
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    top = result_names(window)[:3]
    assert all("-red-circle-" in name for name in top), top
    # The default minimum score hides the unrelated tail, and the status bar says so.
    shown = window.grid.model().rowCount()
    assert shown < len(library_copy.paths)
    hidden = len(library_copy.paths) - shown
    assert window.results_label.text() == (
        f"{shown} photos · {hidden} weaker matches hidden (under 50)")
    assert not window.message.isVisible()


def test_excluding_a_description_with_not(qtbot: Any, make_window: Any,
                                          library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    type_query(qtbot, window, "a red circle not: grass")
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    assert window.search_bar.query().negative == "grass"
    assert "-grass" not in result_names(window)[0]


def drop(window: Any, mime: QMimeData) -> None:
    point = QPointF(window.width() / 2, window.height() / 2)
    with warnings.catch_warnings():  # PySide6 flags the only constructor Qt 6 has
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(int(point.x()), int(point.y())), Qt.DropAction.CopyAction,
                                mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)


def test_dropping_a_photo_finds_its_near_duplicate_first(qtbot: Any, make_window: Any,
                                                         library_copy: Any,
                                                         tmp_path: Path) -> None:
    original = library_copy.paths[37]
    query = tmp_path / "from-my-phone.jpg"
    with Image.open(original) as image:
        toyworld.near_duplicate(image, seed=5).save(query)
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query))])
    drop(window, mime)
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    assert window.results.hit(0).path == str(original)
    assert window.search_bar.chip.isVisible()
    assert window.search_bar.image == str(query)
    # The chip's close button removes the image: the grid empties again.
    qtbot.mouseClick(window.search_bar.chip.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.results.rowCount() == 0, timeout=5_000)
    assert not window.search_bar.chip.isVisible()


def test_text_and_dropped_image_combine(qtbot: Any, make_window: Any,
                                        library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    window.search_bar.set_image(str(library_copy.paths[0]))
    type_query(qtbot, window, "a blue star")
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)
    query = window.search_bar.query()
    assert query.text == "a blue star" and query.image == str(library_copy.paths[0])
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)


def test_a_bad_date_filter_is_explained_not_crashed(qtbot: Any, make_window: Any,
                                                    library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    window.search_bar.filter_button.setChecked(True)
    window.search_bar.after.setText("last tuesday")
    type_query(qtbot, window, "a red circle")
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "date" in window.message.text(), timeout=10_000)
    assert window.results.rowCount() == 0


def test_no_model_shows_the_dialog_and_a_chosen_folder_runs_the_waiting_search(
        qtbot: Any, make_window: Any, library_copy: Any, toy_clip_dir: Path,
        tmp_path: Path) -> None:
    window = make_window(library_copy.data, model=str(tmp_path / "no-such-model"))
    qtbot.waitUntil(lambda: window.model_dialog is not None
                    and window.model_dialog.isVisible(), timeout=10_000)
    dialog = window.model_dialog
    assert "model" in dialog.detail.text().lower()
    assert window.model_label.text() == "No model"
    type_query(qtbot, window, "a red circle")
    qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)
    assert window.engine.search_pending
    assert "needs a model" in window.message.text()
    dialog.ask_folder = lambda: str(toy_clip_dir)
    qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=30_000)
    assert not dialog.isVisible() and window.model_dialog is None
    assert "-red-circle-" in result_names(window)[0]
    assert window.settings.model == str(toy_clip_dir)


def test_offline_download_fails_with_a_message_not_a_crash(qtbot: Any, make_window: Any,
                                                          tmp_path: Path) -> None:
    window = make_window(tmp_path / "data", model=str(tmp_path / "no-such-model"))
    qtbot.waitUntil(lambda: window.model_dialog is not None
                    and window.model_dialog.isVisible(), timeout=10_000)
    dialog = window.model_dialog
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    # The tests run with HF_HUB_OFFLINE=1: the download is refused, the dialog says why.
    qtbot.waitUntil(lambda: "Download failed" in dialog.detail.text(), timeout=15_000)
    assert "downloads are turned off here (HF_HUB_OFFLINE is set)" in dialog.detail.text()
    assert dialog.download_button.isEnabled()
    dialog.on_progress(50_000_000, 200_000_000)
    assert dialog.progress.value() == 250 and dialog.cancel_button.isVisible()


def test_pasting_an_image_searches_by_it(qtbot: Any, make_window: Any,
                                         library_copy: Any) -> None:
    from PySide6.QtGui import QImage

    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    original = library_copy.paths[11]
    QApplication.clipboard().setImage(QImage(str(original)))
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    assert window.results.hit(0).path == str(original)
    pasted = Path(window.search_bar.image or "")
    assert pasted.parent == library_copy.data / "queries" and pasted.is_file()


def test_dropping_a_folder_adds_it_to_the_library(qtbot: Any, make_window: Any,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "dropped"
    toyworld.write_photos(folder, toyworld.random_scenes(5, seed=8), seed=14)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000) as finished:
        drop(window, mime)
    assert finished.args[0].indexed == 5
    assert window.search_bar.image is None  # a folder is not a query image


def test_switching_model_keeps_searching_with_the_old_one_until_done(
        qtbot: Any, make_window: Any, library_copy: Any, tiny_clip_dir: Path,
        toy_clip_dir: Path) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    engine = window.engine
    names: list[str] = []
    engine.modelReady.connect(lambda name, _device: names.append(name))
    engine.switch_model(str(tiny_clip_dir))
    assert engine.indexing
    type_query(qtbot, window, "a red circle")  # answered between two batches of the run
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=20_000)
    assert all("-red-circle-" in name for name in result_names(window)[:3])
    assert engine.model_name == str(toy_clip_dir)  # still the old model
    qtbot.waitUntil(lambda: not engine.indexing, timeout=120_000)
    assert names == [str(tiny_clip_dir)] and engine.model_name == str(tiny_clip_dir)
