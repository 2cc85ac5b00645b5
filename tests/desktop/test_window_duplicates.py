"""The Duplicates view: Library ▸ Find duplicates… shows each group of copies side by side,
the photo to keep first and unticked, the copies ticked; the button names how many photos
and how much space; after the confirmation they go to the Trash, the view and the search
results follow. Similar shots are shown on request, unticked.

The Trash here is a folder of the test: ``core.sync.copies.move_to_trash`` is replaced by a
move into it (the real Send2Trash path is tested through the command line in
tests/e2e/test_duplicates_cli.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from core.sync import copies
from core.sync.trash import TrashResult
from tests.makers.copies import make_library


@pytest.fixture
def library_with_copies(tmp_path: Path, toy_clip_dir: Path) -> tuple[Path, Any]:
    from core.library import Library

    truth = make_library(tmp_path / "photos", originals=1, seed=5)
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([tmp_path / "photos"]):
            pass
    return tmp_path / "data", truth


def _menu_action(window: Any, text: str) -> Any:
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            if action.text() == text:
                return action
    raise AssertionError(f"no menu item {text!r}")


def _open(qtbot: Any, window: Any) -> Any:
    _menu_action(window, "Find duplicates…").trigger()
    dialog = window.dialogs.duplicates_dialog
    qtbot.waitUntil(lambda: dialog.find_button.isEnabled() and bool(dialog.boxes),
                    timeout=60_000)
    return dialog


def test_the_view_shows_copies_with_the_keeper_first_and_moves_the_ticked_to_the_trash(
        qtbot: Any, make_window: Any, library_with_copies: tuple[Path, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data, truth = library_with_copies
    trash = tmp_path / "Trash"
    trash.mkdir()

    def to_test_trash(path: str, *, size: int, mtime: float) -> TrashResult:
        shutil.move(path, trash / f"{len(list(trash.iterdir()))}-{Path(path).name}")
        return TrashResult(path, True, bytes=size)

    monkeypatch.setattr(copies, "move_to_trash", to_test_trash)
    asked: list[str] = []

    def answer_yes(_parent: Any, _title: str, text: str, *_: Any) -> Any:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    window = make_window(data)
    dialog = _open(qtbot, window)
    groups = dialog._groups
    assert groups and all(g.kind == "copies" for g in groups)
    original = str(truth.originals["p0"].resolve())
    mine = next(g for g in groups if original in {m.path for m in g.photos})
    assert mine.photos[0].path == original and mine.photos[0].keep
    assert not dialog.boxes[original].isChecked()  # the keeper is never ticked at first
    going = [m for g in groups for m in g.photos if not m.keep]
    assert all(dialog.boxes[m.path].isChecked() for m in going)
    assert f"Move {len(going)} photos to Trash" in dialog.trash_button.text()

    spared = going[0]
    dialog.boxes[spared.path].setChecked(False)  # the user keeps one more
    assert f"Move {len(going) - 1} photos to Trash" in dialog.trash_button.text()
    dialog.trash_button.click()
    assert asked and f"{len(going) - 1} photos" in asked[0]
    qtbot.waitUntil(lambda: "Moved" in dialog.summary.text(), timeout=30_000)
    assert len(list(trash.iterdir())) == len(going) - 1
    assert Path(spared.path).exists() and Path(original).exists()
    # The view follows: what is left of the group is the keeper and the spared copy.
    left = {m.path for g in dialog._groups for m in g.photos}
    assert spared.path in left and original in left
    assert not left & {m.path for m in going if m.path != spared.path}


def test_similar_shots_are_shown_on_request_and_start_unticked(
        qtbot: Any, make_window: Any, library_with_copies: tuple[Path, Any]) -> None:
    data, _ = library_with_copies
    window = make_window(data)
    dialog = _open(qtbot, window)
    dialog.similar_box.setChecked(True)
    dialog.look()
    qtbot.waitUntil(lambda: dialog.find_button.isEnabled(), timeout=60_000)
    similar = [g for g in dialog._groups if g.kind == "similar"]
    assert similar
    assert not any(dialog.boxes[m.path].isChecked() for g in similar for m in g.photos)


def test_results_show_each_picture_once_unless_every_copy_is_asked_for(
        qtbot: Any, make_window: Any, library_with_copies: tuple[Path, Any]) -> None:
    from desktop.query import Query

    data, truth = library_with_copies
    window = make_window(data)
    with qtbot.waitSignal(window.engine.searched, timeout=60_000):
        window.run_query(Query(text="a beach", min_score=0))
    once = window.results.hits()
    assert any(hit.copies for hit in once)
    shown = {hit.path for hit in once}
    assert not shown & {c for hit in once for c in hit.copies}
    with qtbot.waitSignal(window.engine.searched, timeout=60_000):
        _menu_action(window, "Show every copy").trigger()
    every = window.results.hits()
    assert len(every) > len(once) and not any(hit.copies for hit in every)
    assert len(every) == len(truth.picture_of)  # the whole library, every copy listed
