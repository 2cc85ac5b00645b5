"""Library folders from the window: adding (with progress), removing, failures, watching."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.desktop.qt_helpers import result_names, wait_idle, watch_added_folder
from tests.support import toyworld


def test_adding_a_folder_shows_progress_to_the_end(qtbot: Any, make_window: Any,
                                                   tmp_path: Path) -> None:
    photos = toyworld.write_photos(tmp_path / "holiday", toyworld.random_scenes(40, seed=3),
                                   seed=9)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    seen: list[Any] = []
    window.engine.indexProgress.connect(seen.append)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000) as finished:
        window.add_folders([str(tmp_path / "holiday")])
    last, cancelled = finished.args
    assert not cancelled
    assert last.done == last.total == len(photos) and last.indexed == len(photos)
    embedding = [p for p in seen if p.phase == "embed"]
    assert embedding and embedding[0].done < embedding[-1].done  # it moved, batch by batch
    assert window.index_status.label.text().startswith(f"{len(photos)} photos indexed")
    assert not window.index_status.bar.isVisible()
    roots = window.folders.roots
    qtbot.waitUntil(lambda: roots.topLevelItemCount() == 1
                    and roots.topLevelItem(0).text(2) == str(len(photos)), timeout=10_000)
    item = roots.topLevelItem(0)
    assert item.text(0) == str((tmp_path / "holiday").resolve())
    assert (item.text(1), item.text(2), item.text(3)) == ("online", str(len(photos)), "0")


def test_indexing_pauses_and_resumes(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    toyworld.write_photos(tmp_path / "many", toyworld.random_scenes(96, seed=4), seed=10)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    engine = window.engine
    seen: list[Any] = []
    engine.indexProgress.connect(seen.append)
    window.add_folders([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: any(p.phase == "embed" for p in seen), timeout=30_000)
    qtbot.mouseClick(window.index_status.pause_button, Qt.MouseButton.LeftButton)
    assert engine.paused and window.index_status.pause_button.text() == "Resume"
    # A batch already running may still report (slowly, on a busy machine): wait until
    # the reports stop, then check that nothing more comes while paused.
    frozen = -1
    for _ in range(40):
        if len(seen) == frozen:
            break
        frozen = len(seen)
        qtbot.wait(500)
    qtbot.wait(700)
    assert len(seen) == frozen and engine.indexing
    assert window.index_status.label.text().endswith("(paused)")
    with qtbot.waitSignal(engine.indexFinished, timeout=60_000):
        qtbot.mouseClick(window.index_status.pause_button, Qt.MouseButton.LeftButton)
    assert seen[-1].done == seen[-1].total == 96


def answer_removal(role: QMessageBox.ButtonRole, asked: list[tuple[str, str]]) -> None:
    """Answer the question the Remove button asks, with the button of ``role``."""
    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append((box.text(), box.informativeText()))
        next(b for b in box.buttons() if box.buttonRole(b) == role).click()

    QTimer.singleShot(100, answer)


def test_removing_a_folder_forgets_its_photos_not_the_files(qtbot: Any, make_window: Any,
                                                            library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    window.search_bar.edit.setText("a red circle")
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    panel = window.folders
    qtbot.waitUntil(lambda: panel.roots.topLevelItemCount() == 1)
    panel.roots.setCurrentItem(panel.roots.topLevelItem(0))
    assert panel.remove_button.isEnabled()
    asked: list[tuple[str, str]] = []
    answer_removal(QMessageBox.ButtonRole.RejectRole, asked)  # asked first: Cancel
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    photos = len(library_copy.paths)
    assert asked == [(f"Remove {library_copy.photos.resolve()} from the library?",
                      f"Pictor forgets its {photos} photos at once: their records, vectors "
                      "and tags. The files themselves are not touched. If you add the folder "
                      "again, every photo in it is read again and its vector recomputed.")]
    qtbot.wait(200)
    assert panel.roots.topLevelItemCount() == 1 and window.results.rowCount() > 0
    answer_removal(QMessageBox.ButtonRole.DestructiveRole, asked)  # now Remove
    with qtbot.waitSignal(window.engine.statusChanged, timeout=10_000):
        qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert panel.roots.topLevelItemCount() == 0
    qtbot.waitUntil(lambda: window.results.rowCount() == 0, timeout=10_000)
    assert all(path.exists() for path in library_copy.paths)  # never a user's file


def test_failed_files_are_listed_with_their_reason(qtbot: Any, make_window: Any,
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    toyworld.write_photos(folder, toyworld.random_scenes(3, seed=5), seed=11)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    failures = window.folders.failures
    qtbot.waitUntil(lambda: failures.topLevelItemCount() == 1, timeout=10_000)
    item = failures.topLevelItem(0)
    assert item.text(0).endswith("broken.jpg") and item.text(1)
    assert window.folders.failures_title.text().startswith("Failed files (1")
    assert window.folders.roots.topLevelItem(0).text(3) == "1"


def test_a_photo_copied_into_a_watched_folder_appears(qtbot: Any, make_window: Any,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    scenes = [s for s in toyworld.all_scenes() if s.colour != "red"][:30]
    toyworld.write_photos(folder, scenes, seed=12)
    window = make_window(tmp_path / "data", watch_interval_s=600)  # events, not rescans
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    window.search_bar.set_min_score(0)  # every photo, ranked: no red circle among them yet
    window.search_bar.edit.setText("a red circle")
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: window.results.rowCount() == 30, timeout=10_000)
    assert not any("-red-circle-" in name for name in result_names(window))
    new = toyworld.write_photos(tmp_path / "elsewhere",
                                [toyworld.Scene("circle", "red", "sand")], seed=13)[0]
    seen: list[list[str]] = []
    window.watcher.filesChanged.connect(seen.append)
    shutil.copy(new, folder / "new-red-circle.jpg")  # no click, no menu: it just appears
    qtbot.waitUntil(lambda: result_names(window)[:1] == ["new-red-circle.jpg"], timeout=20_000)
    assert [str(folder.resolve() / "new-red-circle.jpg")] in seen  # just that file
    assert window.results.rowCount() == 31
    (folder / "new-red-circle.jpg").unlink()  # deleted: it goes away by itself too
    qtbot.waitUntil(lambda: window.results.rowCount() == 30, timeout=20_000)
    assert "new-red-circle.jpg" not in result_names(window)


def test_switching_the_data_folder_reopens_the_library(qtbot: Any, make_window: Any,
                                                       library_copy: Any, toy_clip_dir: Path,
                                                       tmp_path: Path) -> None:
    from desktop.engine import EngineConfig

    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.folders.roots.topLevelItemCount() == 1)
    with qtbot.waitSignal(window.engine.opened, timeout=10_000):
        window.apply_config(EngineConfig(tmp_path / "other", str(toy_clip_dir), "cpu"))
    assert window.folders.roots.topLevelItemCount() == 0
    assert window.data_dir == tmp_path / "other"
    wait_idle(qtbot, window)


def test_a_drive_unplugged_and_back_keeps_its_photos_and_catches_up(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    """The folder vanishes (a USB drive pulled) while the window is open: its photos stay
    searchable; a photo added elsewhere meanwhile is found as soon as the drive is back,
    without waiting for the periodic rescan, and the folder is watched again."""
    folder = tmp_path / "usb"
    scenes = [s for s in toyworld.all_scenes() if s.colour != "red"][:20]
    toyworld.write_photos(folder, scenes, seed=14)
    window = make_window(tmp_path / "data", watch_interval_s=600)  # no periodic rescan
    wait_idle(qtbot, window)
    root = watch_added_folder(qtbot, window, folder)
    away = tmp_path / "usb-elsewhere"
    folder.rename(away)  # unplugged
    qtbot.waitUntil(lambda: window.watcher.modes()[root] == "offline", timeout=10_000)
    assert "offline" in window.statusBar().currentMessage()
    window.search_bar.set_min_score(0)
    window.search_bar.edit.setText("a red circle")
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: window.results.rowCount() == 20, timeout=10_000)  # kept
    new = toyworld.write_photos(tmp_path / "staging",
                                [toyworld.Scene("circle", "red", "sand")], seed=15)[0]
    shutil.copy(new, away / "added-on-another-computer-red-circle.jpg")
    rescans: list[list[str]] = []
    window.watcher.foldersChanged.connect(rescans.append)
    away.rename(folder)  # plugged back in
    qtbot.waitUntil(lambda: rescans == [[root]], timeout=10_000)
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: result_names(window)[:1]
                    == ["added-on-another-computer-red-circle.jpg"], timeout=30_000)
    assert window.watcher.modes()[root] == "events"
    shutil.copy(new, folder / "copied-after-red-circle.jpg")  # watched again: events flow
    qtbot.waitUntil(lambda: "copied-after-red-circle.jpg" in result_names(window),
                    timeout=20_000)


def test_a_sidecar_written_next_to_a_photo_makes_its_words_searchable(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "album"
    photos = toyworld.write_photos(folder, toyworld.random_scenes(6, seed=16), seed=16)
    window = make_window(tmp_path / "data", watch_interval_s=600)  # events, not rescans
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    with qtbot.waitSignal(window.engine.indexFinished, timeout=20_000):  # the watcher's run
        photos[2].with_suffix(".txt").write_text("Rosalind's garden party", encoding="utf-8")
    window.search_bar.edit.setText("rosalind")
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: result_names(window)[:1] == [photos[2].name], timeout=10_000)


def test_a_disk_that_fills_up_while_indexing_is_told_and_the_window_goes_on(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    toyworld.write_photos(tmp_path / "holiday", toyworld.random_scenes(80, seed=4), seed=4)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    db = window.engine._library.catalog.db  # SQLite answers SQLITE_FULL past this size,
    pages = db.execute("PRAGMA page_count").fetchone()[0]  # as on a full disk
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    failures: list[str] = []
    window.engine.failed.connect(failures.append)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000) as finished:
        window.add_folders([str(tmp_path / "holiday")])
    assert finished.args[1] is True  # the run ended, not stuck "indexing"
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert failures[0].startswith("the disk is full") and "unexpected" not in failures[0]
    assert "the disk is full" in window.statusBar().currentMessage()
    assert not window.engine.indexing

    db.execute("PRAGMA max_page_count = 1073741823")  # room again: a rescan finishes the job
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000) as finished:
        window.engine.index()
    last, cancelled = finished.args
    assert not cancelled and last.indexed > 0 and last.indexed + last.skipped == 80


def test_closing_the_window_leaves_pictor_watching_from_the_tray(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    from desktop.tray import Tray

    folder = tmp_path / "album"
    toyworld.write_photos(folder, toyworld.random_scenes(4, seed=21), seed=21)
    tray = Tray()  # (the offscreen platform has no tray: the window is given one)
    window = make_window(tmp_path / "data", watch_interval_s=600, tray=tray)
    wait_idle(qtbot, window)
    assert window.keep_watching_action.isChecked() and tray.icon.isVisible()
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    closed: list[bool] = []
    window.closedForGood.connect(lambda: closed.append(True))

    window.close()  # the close button
    assert not window.isVisible() and not closed and tray.told
    with qtbot.waitSignal(window.engine.indexFinished, timeout=20_000) as finished:
        toyworld.write_photos(folder, toyworld.random_scenes(2, seed=22), seed=22,
                              prefix="new-")  # found by the watcher, window hidden
    assert finished.args[0].indexed == 2

    tray.openRequested.emit()  # a click on the icon
    assert window.isVisible()
    window.keep_watching_action.trigger()  # off: closing quits, as without a tray
    assert not window.settings.keep_watching and not tray.icon.isVisible()
    window.keep_watching_action.trigger()
    tray.quitRequested.emit()  # the tray's Quit
    assert closed == [True] and not window.isVisible()
