"""Fine-tuning from the window: pick albums, see the gain, search with it, roll back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.desktop.qt_helpers import result_names, wait_idle
from tests.support import toyworld

ALBUMS = {"Grandma Rosa": toyworld.Scene("star", "yellow", "night"),
          "Bella the dog": toyworld.Scene("square", "blue", "sand")}


@pytest.fixture
def albums_window(qtbot: Any, make_window: Any, tmp_path: Path) -> tuple[Any, Path]:
    photos = tmp_path / "photos"
    for i, (name, scene) in enumerate(ALBUMS.items()):
        toyworld.write_photos(photos / name, [scene] * 12, seed=40 + i)
    toyworld.write_photos(photos / "2023-06-01", toyworld.random_scenes(5, seed=42), seed=42)
    taken = set(ALBUMS.values())
    others = [s for s in toyworld.random_scenes(40, seed=43) if s not in taken][:25]
    toyworld.write_photos(photos / "misc", others, seed=43)
    window = make_window(tmp_path / "data")
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(photos)])
    wait_idle(qtbot, window)
    return window, photos


def open_dialog(qtbot: Any, window: Any) -> Any:
    action = next(a for a in window.menuBar().findChildren(type(window.paste_action))
                  if a.text() == "Teach your albums…")
    action.trigger()
    dialog = window.finetune_dialog
    qtbot.waitUntil(lambda: dialog.albums.count() > 0, timeout=10_000)
    return dialog


def album_items(dialog: Any) -> dict[str, Any]:
    items = (dialog.albums.item(i) for i in range(dialog.albums.count()))
    return {item.text().split("  (")[0]: item for item in items}


def test_albums_picked_in_the_window_are_learnt_searched_and_rolled_back(
    qtbot: Any, albums_window: tuple[Any, Path], toy_clip_dir: Path
) -> None:
    window, _ = albums_window
    dialog = open_dialog(qtbot, window)
    items = album_items(dialog)
    assert set(items) == {"Grandma Rosa", "Bella the dog"}  # not "misc", not a date
    assert "12 photos" in items["Grandma Rosa"].text()
    assert not dialog.start_button.isEnabled()  # one album is not enough
    items["Grandma Rosa"].setCheckState(Qt.CheckState.Checked)
    items["Bella the dog"].setCheckState(Qt.CheckState.Checked)
    assert dialog.start_button.isEnabled()
    phases: list[str] = []
    window.engine.finetuneProgress.connect(lambda p: phases.append(p.phase))
    with qtbot.waitSignal(window.engine.finetuneFinished, timeout=120_000) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert dialog.cancel_button.isVisible() and not dialog.albums.isEnabled()
    result, message = finished.args
    assert message == "" and result is not None
    assert {"features", "train", "done"} <= set(phases)
    assert dialog.results.isVisible()
    shown = [[dialog.results.item(r, c).text() for c in (0, 1)] for r in range(3)]
    assert shown == [[f"{getattr(m, k):.2f}" for m in (result.before, result.after)]
                     for k in ("recall_at_1", "recall_at_5", "retention")]
    assert result.after.recall_at_1 > result.before.recall_at_1  # (the gain: test_finetune)
    assert "is in use" in dialog.progress_label.text()
    assert Path(result.model).parent == window.data_dir / "models"
    assert window.settings.model == result.model  # the next start keeps it
    qtbot.waitUntil(lambda: Path(result.model).name in window.model_label.text(),
                    timeout=30_000)
    qtbot.waitUntil(lambda: dialog.rollback_button.isVisible(), timeout=10_000)
    assert "Grandma Rosa" in dialog.current.text()
    assert "nothing to re-embed" in dialog.progress_label.text()  # the image side is as it was
    wait_idle(qtbot, window, timeout=60_000)  # tags for the new version
    window.search_bar.edit.setText("Bella the dog")
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: window.results.rowCount() > 0, timeout=10_000)
    top = [hit.path for hit in window.results.hits()[:5]]  # (folder words help here too)
    assert all(Path(p).parent.name == "Bella the dog" for p in top), top

    with qtbot.waitSignal(window.engine.rolledBack, timeout=30_000):
        qtbot.mouseClick(dialog.rollback_button, Qt.MouseButton.LeftButton)
    assert window.settings.model == str(toy_clip_dir)
    assert not dialog.rollback_button.isVisible()
    assert "nothing to re-embed" in dialog.progress_label.text()
    qtbot.waitUntil(lambda: toy_clip_dir.name in window.model_label.text(), timeout=30_000)

    # The version stays listed: use it again, then delete it.
    qtbot.waitUntil(lambda: dialog.versions.rowCount() == 1
                    and "(in use)" not in dialog.versions.item(0, 0).text(), timeout=10_000)
    assert "Grandma Rosa" in dialog.versions.item(0, 1).text()
    dialog.versions.selectRow(0)
    assert dialog.use_button.isEnabled() and dialog.delete_button.isEnabled()
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: Path(result.model).name in window.model_label.text(),
                    timeout=60_000)
    assert window.settings.model == result.model
    qtbot.waitUntil(lambda: "(in use)" in dialog.versions.item(0, 0).text(), timeout=10_000)
    assert not dialog.delete_button.isEnabled()  # not the version in use
    with qtbot.waitSignal(window.engine.rolledBack, timeout=30_000):
        qtbot.mouseClick(dialog.rollback_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.delete_button.isEnabled(), timeout=10_000)
    asked: list[str] = []
    dialog.confirm = lambda question: asked.append(question) or True
    with qtbot.waitSignal(window.engine.versionDeleted, timeout=30_000):
        qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert "your photos are not touched" in asked[0]
    assert not Path(result.model).exists()
    assert re.search(r": [0-9.]+ (KB|MB) freed", dialog.progress_label.text())
    qtbot.waitUntil(lambda: not dialog.versions_box.isVisible(), timeout=10_000)


def test_cancelling_or_bad_albums_leave_the_model_as_it_was(
    qtbot: Any, albums_window: tuple[Any, Path]
) -> None:
    window, _ = albums_window
    model = window.engine.model_name
    dialog = open_dialog(qtbot, window)
    dialog.tags.setText("Grandma Rosa, Uncle Nobody")  # the second is no folder and no tag
    with qtbot.waitSignal(window.engine.finetuneFinished, timeout=60_000) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert finished.args[0] is None
    assert "Not done: no library folder is named 'Uncle Nobody'" in \
        dialog.progress_label.text()
    assert dialog.albums.isEnabled() and dialog.start_button.isEnabled()

    dialog.tags.setText("Grandma Rosa, Bella the dog")
    cancelled: list[str] = []
    window.engine.finetuneFinished.connect(lambda _r, m: cancelled.append(m))
    window.engine.finetuneProgress.connect(
        lambda p: p.phase == "train" and dialog.cancel_button.click())
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cancelled == ["cancelled"], timeout=60_000)
    assert "Cancelled: the model was not changed" in dialog.progress_label.text()
    assert window.engine.model_name == model and not window.engine.tuning
    assert not (window.data_dir / "models").exists() or \
        not any((window.data_dir / "models").iterdir())
    window.search_bar.edit.setText("a yellow star")  # the window still searches
    window.search_bar.edit.returnPressed.emit()
    qtbot.waitUntil(lambda: len(result_names(window)) > 0, timeout=10_000)

    with qtbot.waitSignal(window.engine.finetuneFinished, timeout=30_000) as finished:
        window.engine.finetune(["Grandma Rosa", "Bella the dog"], 5)
        window.engine.cancel_finetune()  # before the writer has started it
    assert finished.args == [None, "cancelled"] and not window.engine.tuning


def test_an_index_run_interrupted_by_fine_tuning_is_done_afterwards(
    qtbot: Any, albums_window: tuple[Any, Path]
) -> None:
    window, _ = albums_window
    engine = window.engine
    finished: list[bool] = []
    engine.indexFinished.connect(lambda _last, cancelled: finished.append(cancelled))
    engine.index()  # a rescan starts...
    engine.finetune(["Grandma Rosa", "Uncle Nobody"], 5)  # ...and is stopped for this run
    qtbot.waitUntil(lambda: not engine.tuning, timeout=30_000)
    qtbot.waitUntil(lambda: finished[-1:] == [False], timeout=30_000)  # the rescan, redone
    assert finished[0] is True

