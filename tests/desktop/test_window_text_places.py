"""Text read in photos and where they were taken, in the window: a word written in a photo
finds it, the preview shows its text (selectable) with the matching line outlined over
the photo and highlighted, the place it was taken, and the Place filter restricts a search.

The photos are drawn here (tests/support/text_photos.py) with GPS positions in their EXIF;
the text pass runs the real OCR. The CLIP model is the tiny random one: what is tested is
finding photos by their words and places, so the minimum score of 100 hides every photo
found by meaning alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QPixmap

from core.store.catalog_text import PhotoText
from desktop.preview import PreviewPane
from desktop.preview_text import MARK, PhotoTextView, outlined
from desktop.text_match import matching_lines, query_runs
from desktop.thumbnails import preview_cache
from tests.desktop.test_window_search import type_query
from tests.support import text_photos

SEVILLA = "Sevilla, Andalusia, Spain"
RECEIPT = ["SUPERMARKT", "RE1634", "Tel 0271-5550123"]


@pytest.fixture
def toy_clip_dir(tiny_clip_dir: Path) -> Path:
    """The window's model here: the tiny random CLIP (words and places are what count)."""
    return tiny_clip_dir


def _gps(north: bool, lat: tuple[float, float, float], east: bool,
         lon: tuple[float, float, float]) -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if north else "S"), lat
    gps[3], gps[4] = ("E" if east else "W"), lon
    return exif


def _photos(folder: Path) -> Path:
    folder.mkdir()
    receipt = text_photos.text_photo(RECEIPT, font_name="mono", seed=3).image
    receipt.save(folder / "receipt.jpg", quality=90,
                 exif=_gps(True, (37.0, 23.0, 20.76), False, (5.0, 59.0, 4.2)))
    text_photos.plain_photo("sky", seed=1).save(
        folder / "harbour.jpg", quality=90,
        exif=_gps(False, (33.0, 52.0, 7.7), True, (151.0, 12.0, 33.5)))  # Sydney
    text_photos.plain_photo("gradient", seed=2).save(folder / "plain.jpg", quality=90)
    return folder


def _search(qtbot: Any, window: Any, text: str) -> None:
    window.search_bar.edit.selectAll()  # typed over: the selected photo stays if found
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        type_query(qtbot, window, text)
        qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)


def _names(window: Any) -> set[str]:
    return {Path(hit.path).name for hit in window.results.hits()}


def _marked_near(image: Any, x: float, y: float, reach: int = 3) -> bool:
    """Whether a pixel of the outline's colour is within ``reach`` of (x, y)."""
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            colour = QColor(image.pixel(int(x) + dx, int(y) + dy))
            if colour.red() > 200 and 110 < colour.green() < 220 and colour.blue() < 70:
                return True
    return False


@pytest.mark.usefixtures("text_pass_on")
def test_text_in_a_photo_and_its_place_in_the_window(qtbot: Any, make_window: Any,
                                                      tmp_path: Path) -> None:
    folder = _photos(tmp_path / "trip")
    window = make_window(tmp_path / "data")
    window.search_bar.set_min_score(100)  # words and places only
    window.search_bar.filter_button.setChecked(True)
    places = window.search_bar.place
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    # The Place filter lists the library's places once the run is over, most photos first.
    qtbot.waitUntil(lambda: places.count() == 3, timeout=10_000)
    assert places.itemText(0) == "Any place" and places.place() is None
    listed = {places.itemData(i): places.itemText(i) for i in range(1, 3)}
    assert listed[SEVILLA] == f"{SEVILLA} (1)"
    assert any("Australia" in label for label in listed)

    # The beginning of a code written in the photo finds it.
    _search(qtbot, window, "re16")
    assert _names(window) == {"receipt.jpg"}
    tooltip = window.results.data(window.results.index(0), Qt.ItemDataRole.ToolTipRole)
    assert "found by text in the photo" in tooltip and f"taken in {SEVILLA}" in tooltip

    preview = window.preview
    with qtbot.waitSignal(window.engine.reads.textReady, timeout=10_000):
        window.grid.setFocus()
        window.grid.setCurrentIndex(window.results.index(0))
    qtbot.waitUntil(lambda: preview._pixmap is not None, timeout=10_000)
    view = preview.photo_text
    assert view.state == "ready" and view.isVisible()
    lines = view.text.toPlainText().splitlines()
    assert [line.replace(" ", "") for line in lines] == [
        line.replace(" ", "") for line in RECEIPT]
    assert view.text.isReadOnly()
    assert view.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    view.text.selectAll()
    view.text.copy()
    assert QGuiApplication.clipboard().text().replace("\u2029", "\n") == "\n".join(lines)
    # Only the line "re16" matches is marked: highlighted in the text, outlined on the photo.
    assert view.matched == [1]
    assert len(view.text.extraSelections()) == 1
    assert "found by text in the photo" in preview.values["score"].text()
    place = preview.values["place"]
    assert place.text() == f"Taken in {SEVILLA}" and place.isVisible()
    assert "37.38910°N, 5.98450°W" in place.toolTip()
    shown = preview.image.pixmap().toImage()
    sx, sy = shown.width() / 960, shown.height() / 720  # the photo's size as shown
    (box,) = view.matched_boxes()
    (x0, y0), (x1, _), _, (_, y1) = box
    assert _marked_near(shown, (x0 + x1) / 2 * sx, y0 * sy)  # its top edge
    assert _marked_near(shown, x0 * sx, (y0 + y1) / 2 * sy)  # its left edge
    top_line = view.lines[0]["box"]
    assert not _marked_near(shown, (top_line[0][0] + top_line[1][0]) / 2 * sx,
                            top_line[0][1] * sy)  # SUPERMARKT: not matched

    # Another word of the text marks another line of the same photo.
    _search(qtbot, window, "supermarkt")
    assert preview.path == window.results.hit(0).path and view.state == "ready"
    assert view.matched == [0] and len(view.text.extraSelections()) == 1

    # The Place filter restricts the search to the photos taken there.
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):  # "supermarkt" again
        window.search_bar.set_min_score(0, search=True)
    _search(qtbot, window, "a photo")
    assert _names(window) == {"receipt.jpg", "harbour.jpg", "plain.jpg"}
    sydney = next(i for i in range(places.count()) if "Australia" in places.itemText(i))
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        places.setCurrentIndex(sydney)
    assert window.search_bar.query().place == places.itemData(sydney)
    assert _names(window) == {"harbour.jpg"}
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        places.setCurrentIndex(places.findData(SEVILLA))
    assert _names(window) == {"receipt.jpg"}
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        places.setCurrentIndex(0)
    assert len(_names(window)) == 3


def test_the_query_words_that_mark_a_line() -> None:
    lines = [{"text": t} for t in ["SUPERMARKT", "RE1634", "Tel 0271-5550123", "西班牙 海边"]]
    assert matching_lines(lines, "re16") == [1]  # the beginning of a code
    assert matching_lines(lines, "RE1634") == [1]
    assert matching_lines(lines, "5550123") == [2]  # a whole word
    assert matching_lines(lines, "555") == [2]  # the beginning of one
    assert matching_lines(lines, "supermarkt tel") == [0, 2]
    assert matching_lines(lines, "海边") == [3]
    assert matching_lines(lines, "a photo of the market") == []  # "market" begins nothing
    assert matching_lines(lines, "june 2021") == []  # a date is a filter, not a word
    assert query_runs("The RE16 photo") == ["re16"]


def test_stale_text_is_dropped_and_a_reading_error_is_one_grey_line(qtbot: Any) -> None:
    pane = PreviewPane(preview_cache())
    qtbot.addWidget(pane)
    pane.show()
    qtbot.waitExposed(pane)
    asked: list[str] = []
    pane.textWanted.connect(asked.append)
    pane.show_photo("/photos/a.jpg", words="re16")
    assert asked == ["/photos/a.jpg"] and pane.photo_text.state == "loading"
    pane.show_photo("/photos/b.jpg", words="re16")
    pane.on_text("/photos/a.jpg", PhotoText([{"text": "RE1634", "box": []}], None, "x"))
    assert pane.photo_text.state == "loading" and not pane.photo_text.isVisible()  # dropped
    pane.on_text("/photos/b.jpg", None)  # not read yet: nothing shows, asked again later
    assert pane.photo_text.state == "unread" and not pane.photo_text.isVisible()
    pane.retry_text()
    assert asked[-1] == "/photos/b.jpg" and pane.photo_text.state == "loading"
    pane.on_text("/photos/b.jpg", PhotoText([], "cannot decode it", "x"))
    view = pane.photo_text
    assert view.note.text() == "Its text could not be read: cannot decode it"
    assert view.note.isVisible() and not view.text.isVisible()
    assert view.note.foregroundRole() == QPalette.ColorRole.PlaceholderText


def test_boxes_are_scaled_from_the_full_photo_to_the_shown_one(qtbot: Any) -> None:
    view = PhotoTextView()
    qtbot.addWidget(view)
    box = [[100, 50], [300, 50], [300, 150], [100, 150]]
    view.show_text(PhotoText([{"text": "HELLO", "box": box}, {"text": "x", "box": box}],
                             None, "x"), "hello")
    assert view.matched == [0] and view.matched_boxes() == [box]
    pixmap = QPixmap(200, 100)  # the 800 x 400 photo shown at a quarter of its size
    pixmap.fill(QColor("white"))
    image = outlined(pixmap, view.matched_boxes(), (800, 400)).toImage()
    assert _marked_near(image, 50, 12.5, reach=1) and _marked_near(image, 25, 25, reach=1)
    assert QColor(image.pixel(50, 25)) == QColor("white")  # inside: not filled
    assert QColor(image.pixel(150, 80)) == QColor("white")
    assert MARK.blue() < 70
