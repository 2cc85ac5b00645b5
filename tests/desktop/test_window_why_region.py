"""The preview's "Why?" and search by a part of a photo, in the window.

"Why?" draws a heat map of where the description matched over the previewed photo (its
cells hot where they add most) and lists what each part of the search added; another
photo asks again, a stale answer is dropped, turning it off removes the overlay, and a
search by an image alone has nothing to explain. A rectangle dragged over the preview
searches by that part of the photo: it finds the photo it was cut from first.

Toy photos, each a different scene; the toy CLIP model (tests/support/models.py).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPixmap

from core.search.explain import Heat
from core.types import SearchHit
from desktop.preview_region import full_region
from desktop.query import Query
from desktop.why_view import breakdown, heat_overlay
from tests.desktop.qt_helpers import result_names
from tests.support import toyworld


def _change(before: QImage, after: QImage, x: float, y: float) -> int:
    """How much a pixel changed: the sum of its channels' differences."""
    a, b = QColor(before.pixel(int(x), int(y))), QColor(after.pixel(int(x), int(y)))
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def _centre(heat: Heat, cell: tuple[int, int], shown: QImage) -> tuple[float, float]:
    """The centre of grid cell (row, col) in the shown image's pixels."""
    sx, sy = shown.width() / heat.size[0], shown.height() / heat.size[1]
    row, col = cell
    return (col + 0.5) * heat.cell[0] * sx, (row + 0.5) * heat.cell[1] * sy


def _extremes(heat: Heat) -> tuple[tuple[int, int], tuple[int, int]]:
    cells = [(value, (r, c)) for r, row in enumerate(heat.grid) for c, value in enumerate(row)]
    return max(cells)[1], min(cells)[1]


def _index(qtbot: Any, make_window: Any, tmp_path: Path) -> tuple[Any, list[Path]]:
    paths = toyworld.write_photos(tmp_path / "photos", toyworld.all_scenes()[::3][:24], seed=5)
    window = make_window(tmp_path / "data")
    window.search_bar.set_min_score(0)  # every photo, by rank
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(tmp_path / "photos")])
    return window, [p.resolve() for p in paths]


def _search(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        window.search_bar.search_text(text)


def _preview(qtbot: Any, window: Any, row: int) -> None:
    window.grid_wiring.select(row)
    qtbot.waitUntil(lambda: window.preview.image.pixmap() is not None
                    and not window.preview.image.pixmap().isNull(), timeout=10_000)


def test_why_overlays_where_the_description_matched(qtbot: Any, make_window: Any,
                                                    tmp_path: Path) -> None:
    window, _ = _index(qtbot, make_window, tmp_path)
    preview, why = window.preview, window.preview_wiring.why
    button = preview.why.button
    assert not button.isEnabled()  # no search yet
    _search(qtbot, window, "a blue circle")
    assert button.isEnabled() and not button.isChecked()
    blue = next(row for row, name in enumerate(result_names(window)) if "-blue-" in name)
    _preview(qtbot, window, blue)  # a blue shape: the red of a hot cell shows on it
    plain = preview.image.pixmap().toImage()

    with qtbot.waitSignal(window.engine.explanations.explained, timeout=20_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    heat = why.heat
    assert heat is not None and heat.text == "a blue circle"
    assert Path(heat.photo) == Path(preview.path).resolve()
    shown = preview.image.pixmap().toImage()
    hot, cold = _extremes(heat)
    assert heat.grid[hot[0]][hot[1]] == 1.0
    hot_change = _change(plain, shown, *_centre(heat, hot, shown))
    assert hot_change > 80 and hot_change > 2 * _change(plain, shown, *_centre(heat, cold, shown))
    details = preview.why.details
    assert details.isVisible()
    text = details.text()
    assert "Meaning: score" in text and "similarity" in text
    assert "Where “a blue circle” matched most" in text

    # Another photo: asked again, the breakdown says so until the answer comes.
    first = preview.path
    with qtbot.waitSignal(window.engine.explanations.explained, timeout=20_000):
        window.grid_wiring.select(blue + 1)
        assert why.heat is None and "Working out where" in details.text()
    assert preview.path != first and why.heat is not None
    assert Path(why.heat.photo) == Path(preview.path).resolve()
    # A late answer for the earlier request is dropped.
    now = why.heat
    window.engine.explanations.explained.emit(why._generation - 1, first, heat)
    assert why.heat is now

    # Off: the overlay goes, the photo shows as it was.
    _preview(qtbot, window, blue)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: preview.image.pixmap().toImage() == plain, timeout=5_000)
    assert not details.isVisible() and why.heat is None

    # A search by an image alone has no description to explain.
    photo = preview.path or ""
    window.search_bar.edit.clear()
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        window.search_bar.set_image(photo)
    assert not button.isEnabled() and "image only" in button.toolTip()


def test_dragging_over_the_preview_searches_by_that_part(qtbot: Any, make_window: Any,
                                                         tmp_path: Path) -> None:
    window, paths = _index(qtbot, make_window, tmp_path)
    _search(qtbot, window, "a photo")
    _preview(qtbot, window, 5)
    preview, picker = window.preview, window.preview_wiring.why.regions
    photo = preview.path
    label = preview.image
    shown = picker.shown_rect()
    assert shown is not None and shown.width() > 96  # the toy photo, enlarged

    def at(fx: float, fy: float) -> QPoint:
        return QPoint(round(shown.left() + fx * shown.width()),
                      round(shown.top() + fy * shown.height()))

    # Esc cancels a drag: nothing is searched.
    qtbot.mousePress(label, Qt.MouseButton.LeftButton, pos=at(0.2, 0.2))
    qtbot.mouseMove(label, at(0.6, 0.7))
    assert picker.dragging and picker._band.isVisible()
    qtbot.keyClick(label, Qt.Key.Key_Escape)
    assert not picker.dragging and not picker._band.isVisible()
    qtbot.mouseRelease(label, Qt.MouseButton.LeftButton, pos=at(0.6, 0.7))
    assert window.search_bar.image is None

    # The central 75% of the photo: the photo it was cut from comes first.
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        qtbot.mousePress(label, Qt.MouseButton.LeftButton, pos=at(0.125, 0.125))
        qtbot.mouseMove(label, at(0.5, 0.5))
        qtbot.mouseMove(label, at(0.875, 0.875))
        qtbot.mouseRelease(label, Qt.MouseButton.LeftButton, pos=at(0.875, 0.875))
    query = window.search_bar.query()
    assert query.image == photo and query.region is not None
    x, y, width, height = query.region
    assert abs(x - 12) <= 1.5 and abs(y - 9) <= 1.5  # of 96 x 72
    assert abs(width - 72) <= 2 and abs(height - 54) <= 2
    assert window.results.hit(0).path == photo
    assert result_names(window)[0] == Path(photo or "").name
    chip = window.search_bar.chip
    assert chip.isVisible() and chip.label.text().startswith("Part of ")
    assert Path(photo or "").name[:20] in chip.label.text()

    # The chip's close button: back to the text alone.
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        qtbot.mouseClick(chip.close_button, Qt.MouseButton.LeftButton)
    query = window.search_bar.query()
    assert query.image is None and query.region is None and not chip.isVisible()
    assert query.text == "a photo"
    assert Path(photo or "") in paths


def test_heat_overlay_and_breakdown_drawn_from_the_numbers(qtbot: Any) -> None:
    grid = tuple(tuple(1.0 if (r, c) == (1, 2) else 0.0 for c in range(4)) for r in range(3))
    heat = Heat(photo="/p.jpg", text="a dog", grid=grid, cell=(200.0, 200.0), peak=(460, 260),
                similarity=0.31, score=72.0, size=(800, 600), method="occlusion", seconds=0.1)
    pixmap = QPixmap(400, 300)  # shown at half its size
    pixmap.fill(QColor(128, 128, 128))
    before, after = pixmap.toImage(), heat_overlay(pixmap, heat).toImage()
    assert _change(before, after, 250, 150) > 150  # the hot cell's centre, off the peak's ring
    assert _change(before, after, 50, 250) < 100  # a cold one: a faint tint
    assert QColor(after.pixel(250, 150)).red() > 180
    ring = [QColor(after.pixel(230 + dx, 130)) for dx in range(-16, 17)]
    assert any(c.red() > 240 and c.green() > 240 and c.blue() > 240 for c in ring)  # the peak

    hit = SearchHit(photo_id=1, path="/p.jpg", score=64.0, similarity=0.29, match="both",
                    fields=("name", "tags"))
    lines = breakdown(Query(text="a dog"), hit, heat)
    assert lines[0] == "Meaning: score 64 · similarity 0.290"
    assert lines[1] == "Words matched in: file name, tags"
    assert "score 72 · similarity 0.310" in lines[-1]
    why = {"meaning": {"similarity": 0.3, "score": 70.0},
           "parts": {"text": 0.3, "image": 0.8, "not": None, "extra": 1.0},
           "words": {"name": ["dog"], "tags": ["dog", "beach"]}}
    explained = SimpleNamespace(score=64.0, similarity=0.29, fields=("name",), why=why)
    query = Query(text="a dog", negative="people", image="/q.jpg")
    assert breakdown(query, explained, None) == [  # type: ignore[arg-type]
        "Meaning: score 70 · similarity 0.300",
        "Words matched: file name (dog); tags (dog, beach)",
        "Description: similarity 0.300", "Example image: similarity 0.800"]
    why["parts"] = {"text": 0.3, "image": 0.8, "not": 0.2}
    lines = breakdown(query, explained, None)  # type: ignore[arg-type]
    assert lines == ["Meaning: score 70 · similarity 0.300",
                     "Words matched: file name (dog); tags (dog, beach)",
                     "Description: similarity 0.300", "Example image: similarity 0.800",
                     "Left out “people”: similarity 0.200, taken away from its score"]

    drawn = full_region(QRectF(60, 30, 100, 75), QRectF(10, 5, 200, 150), (400, 300))
    assert drawn == (100.0, 50.0, 200.0, 150.0)
    assert full_region(QRectF(60, 30, 3, 75), QRectF(10, 5, 200, 150), (400, 300)) is None
    assert full_region(QRectF(150, 100, 200, 200), QRectF(10, 5, 200, 150),
                       (400, 300)) == (280.0, 190.0, 120.0, 110.0)  # clipped to the photo
