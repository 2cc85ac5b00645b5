"""A video in the window: its result carries a badge with its length and shows its frame at
the moment found; the preview says which moment; opening it plays it from there (the
player is never really started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap

from desktop import video_player
from desktop.delegate import PAD
from desktop.results import MomentRole
from tests.desktop.qt_helpers import wait_idle
from tests.makers import videos
from tests.support import toyworld

S = toyworld.Scene


@pytest.fixture(scope="module")
def video_data(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path) -> Path:
    """A data folder of a library with two photos and a 9-second video whose red circle
    starts at 3 s, indexed once."""
    from core.library import Library

    base = tmp_path_factory.mktemp("video-library")
    photos = base / "library"
    toyworld.write_photos(photos, [S("square", "blue", "sky"), S("star", "yellow", "sand")],
                          seed=12)
    videos.toy_scenes_video(photos / "trip.mp4", [
        (0.0, S("triangle", "green", "sand")), (3.0, S("circle", "red", "grass")),
        (6.0, S("cross", "purple", "night"))], duration_s=9.0, seed=3)
    with Library(base / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([photos]):
            pass
    return base / "data"


def _search_video(qtbot: Any, make_window: Any, data: Path, tmp_path: Path) -> Any:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    window = make_window(copy)
    wait_idle(qtbot, window)
    window.search_bar.set_min_score(0)  # the photos too, after the video
    window.search_bar.edit.setFocus()
    qtbot.keyClicks(window.search_bar.edit, "a red circle")
    qtbot.waitUntil(lambda: window.results.rowCount() == 3, timeout=10_000)
    assert window.results.hit(0).kind == "video"
    return window


def test_a_video_result_shows_its_moment_with_a_badge_and_its_length(
        qtbot: Any, make_window: Any, video_data: Path, tmp_path: Path) -> None:
    window = _search_video(qtbot, make_window, video_data, tmp_path)
    index = window.results.index(0)
    time_s, duration = index.data(MomentRole)
    assert abs(time_s - 3.0) <= 1.0 and duration == pytest.approx(9.0, abs=0.2)
    assert "best moment at 0:03 of 0:09" in index.data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: isinstance(index.data(Qt.ItemDataRole.DecorationRole), QPixmap),
                    timeout=10_000)
    assert window.results.index(1).data(MomentRole) is None  # a photo: no badge
    # The badge is drawn in the thumbnail's lower right corner: dark, over green grass.
    cell = window.grid.visualRect(index)
    image = window.grid.viewport().grab(cell).toImage()
    box_width = cell.width() - 2 * PAD
    box_height = cell.height() - 2 * PAD - window.grid.fontMetrics().height()
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    shown = pixmap.size().scaled(box_width, box_height, Qt.AspectRatioMode.KeepAspectRatio)
    right = PAD + (box_width + shown.width()) // 2
    bottom = PAD + (box_height + shown.height()) // 2
    corner = image.pixelColor(right - 7, bottom - 7)
    assert max(corner.red(), corner.green(), corner.blue()) < 90, corner.name()

    window.grid_wiring.select(0)
    preview = window.preview
    assert preview.values["moment"].text() == "0:03 of 0:09"
    qtbot.waitUntil(lambda: preview.image.pixmap() is not None
                    and not preview.image.pixmap().isNull(), timeout=10_000)
    assert "MP4" in preview.values["dimensions"].text()


def test_opening_a_video_plays_it_from_its_moment(
        qtbot: Any, make_window: Any, video_data: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = _search_video(qtbot, make_window, video_data, tmp_path)
    # make_window records what the system would open: the window's opener hands videos
    # to the player first, as in the running application.
    opener = window.preview_wiring.opener
    opener.default = window.open_url
    window.open_url = opener
    launched: list[list[str]] = []
    monkeypatch.setattr(video_player.shutil, "which",
                        lambda name: "/usr/bin/mpv" if name == "mpv" else None)
    monkeypatch.setattr(video_player.subprocess, "Popen",
                        lambda command, **_: launched.append(command))
    hit = window.results.hit(0)
    window.grid_wiring.select(0)
    window.grid_wiring.open_selected()
    assert launched == [["/usr/bin/mpv", f"--start={hit.time_s:.2f}", hit.path]]
    assert window.opened_urls == []
    assert window.statusBar().currentMessage() == "Playing trip.mp4 from 0:03 in mpv"

    monkeypatch.setattr(video_player.shutil, "which", lambda name: None)  # no player
    window.grid_wiring.open_selected()
    assert window.opened_urls == [hit.path]
    assert "go to 0:03" in window.statusBar().currentMessage()
    window.grid_wiring.select(1)  # a photo opens as before
    window.grid_wiring.open_selected()
    assert window.opened_urls == [hit.path, window.results.hit(1).path]
