"""Scores 0-100, the minimum-score slider, "no good match", and captions in the preview."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from tests.desktop.qt_helpers import result_names, wait_idle
from tests.desktop.test_window_search import type_query
from tests.support import toyworld


def search(qtbot: Any, window: Any, text: str) -> None:
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        type_query(qtbot, window, text)
        qtbot.keyClick(window.search_bar.edit, Qt.Key.Key_Return)


def test_the_slider_sets_the_minimum_score_and_searches_again(
        qtbot: Any, make_window: Any, library_copy: Any, tmp_path: Path) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    slider = window.search_bar.min_score
    assert slider.value() == 50 and slider.value_label.text() == "50"
    assert "under 50" in slider.slider.toolTip() and "0 shows every photo" in (
        slider.slider.toolTip())
    search(qtbot, window, "a red circle")
    shown = window.results.rowCount()
    assert 0 < shown < len(library_copy.paths)
    assert all(50 <= hit.score <= 100 or hit.match != "meaning"
               for hit in window.results.hits())
    tooltip = window.results.data(window.results.index(0), Qt.ItemDataRole.ToolTipRole)
    assert re.search(r"score \d{1,3} of 100", tooltip), tooltip

    slider.slider.setFocus()
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        qtbot.keyClick(slider.slider, Qt.Key.Key_Home)  # 0: every photo, by rank
    assert window.search_bar.query().min_score == 0
    assert slider.value_label.text() == "0"
    assert window.results.rowCount() == len(library_copy.paths)
    assert "-red-circle-" in result_names(window)[0]
    assert window.results_label.text() == f"{len(library_copy.paths)} photos"
    qtbot.keyClick(slider.slider, Qt.Key.Key_Right)  # one step of 5
    assert slider.value() == 5
    window.close()
    # The window remembers it.
    again = make_window(library_copy.data, start=False)
    assert again.search_bar.min_score.value() == 5
    assert again.search_bar.query().min_score == 5


def test_a_query_without_a_good_match_says_so(qtbot: Any, make_window: Any,
                                              library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    search(qtbot, window, "a crimson ring")  # no such words; nothing the toy model knows
    assert window.results.rowCount() == 0
    text = window.message.text()
    assert window.message.isVisible() and "No good match for “a crimson ring”" in text, text
    best = int(re.search(r"the best photo scores (\d+)", text).group(1))  # type: ignore[union-attr]
    assert best < 50 and "under the minimum score of 50" in text
    lower = best // 5 * 5
    assert f"Show photos scoring {lower} and up" in text
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        window.message.linkActivated.emit("#lower")  # the link in the message
    assert window.search_bar.min_score.value() == lower
    assert window.results.rowCount() > 0 and not window.message.isVisible()
    assert "for this search only" in window.search_bar.min_score.slider.toolTip()
    assert window.settings.min_score == 50  # for this search only: not saved
    search(qtbot, window, " and a blue star")  # another search: the usual minimum is back
    assert window.search_bar.min_score.value() == 50
    assert window.search_bar.query().min_score == 50
    assert all(hit.score >= 50 or hit.match != "meaning" for hit in window.results.hits())
    window.close()
    again = make_window(library_copy.data, start=False)
    assert again.search_bar.min_score.value() == 50


def test_the_preview_shows_a_photos_captions_its_own_words_first(
        qtbot: Any, make_window: Any, library_copy: Any, tmp_path: Path) -> None:
    folder = tmp_path / "beach trip"
    beach = toyworld.write_photos(folder, toyworld.random_scenes(3, seed=4), seed=9)
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000) as finished:
        window.add_folders([str(folder)])
    assert finished.args[0].indexed == 3  # the run's report, not its tagging pass
    search(qtbot, window, "beach trip")  # the album's name: found by its words
    rows = [window.results.row_of(str(path.resolve())) for path in beach]
    assert None not in rows, result_names(window)
    captions = window.preview.captions
    with qtbot.waitSignal(window.engine.captionsReady, timeout=20_000):
        window.grid.setFocus()
        window.grid.setCurrentIndex(window.results.index(rows[0]))
        assert captions.state == "loading" and captions.note.text() == "Loading captions…"
    assert captions.state == "ready"
    rows = captions.rows()
    assert rows[0][0] == "beach trip" and rows[0][2] == "user"
    assert any(source == "vocabulary" for _, _, source in rows)
    assert all(re.fullmatch(r"\d{1,3}", score) and int(score) <= 100 for _, score, _ in rows)
    assert len(rows) == 8
    texts = [label.text() for label in captions.findChildren(QLabel, "captionText")]
    assert "“" in texts[0] and "album" in texts[0]  # marked as the user's own words
    scores = [label.text() for label in captions.findChildren(QLabel, "captionScore")]
    assert scores == [score for _, score, _ in rows]
    score = window.preview.values["score"].text()
    assert re.match(r"<b>\d{1,3}</b>", score) and "similarity" in score
    # Clicking a caption searches for it.
    word = rows[-1][0]
    with qtbot.waitSignal(window.engine.searched, timeout=10_000):
        captions.captionClicked.emit(word)
    assert window.search_bar.edit.text() == word


def test_stale_captions_are_dropped_and_errors_are_one_grey_line(
        qtbot: Any, make_window: Any, library_copy: Any) -> None:
    window = make_window(library_copy.data)
    wait_idle(qtbot, window)
    search(qtbot, window, "a red circle")
    captions = window.preview.captions
    window.grid.setFocus()
    second = window.results.hit(1).path
    with qtbot.waitSignal(window.engine.captionsReady, timeout=20_000,
                          check_params_cb=lambda path, _captions: path == second):
        window.grid.setCurrentIndex(window.results.index(0))
        window.grid.setCurrentIndex(window.results.index(1))
    assert window.preview.path == second
    assert captions.state == "ready"
    window.engine.captionsReady.emit(window.results.hit(0).path, [])  # late, another photo
    assert captions.state == "ready" and captions.rows()
    captions.show_loading()
    window.engine.captionsFailed.emit(window.preview.path, "cannot read file")
    assert captions.state == "failed" and captions.note.text() == "No captions: cannot read file"
    assert not [label for label in captions.findChildren(QLabel, "captionText")
                if not label.isHidden()]
    # A photo selected while the preview is hidden is described when it is shown again.
    window.preview_action.trigger()  # View → Preview pane (F3): off
    window.grid.setCurrentIndex(window.results.index(2))
    assert captions.state == "empty"
    with qtbot.waitSignal(window.engine.captionsReady, timeout=20_000):
        window.preview_action.trigger()
    assert captions.state == "ready" and window.preview.path == window.results.hit(2).path
