"""The grid with thousands of results, and the model download dialog's progress/cancel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from core.types import SearchHit


def test_thousands_of_results_load_thumbnails_lazily(qtbot: Any, make_window: Any,
                                                     library_copy: Any) -> None:
    window = make_window(library_copy.data, start=False)
    paths = [str(p) for p in library_copy.paths]
    hits = [SearchHit(photo_id=i, path=path, score=1 - i / 5000) for i, path in enumerate(paths)]
    many = hits * 25  # 3000 rows over the 120 real photos
    started = time.perf_counter()
    window.results.set_hits(many)
    qtbot.wait(50)
    bar = window.grid.verticalScrollBar()
    for value in range(0, bar.maximum(), max(1, bar.maximum() // 40)):
        bar.setValue(value)
        qtbot.wait(5)
    bar.setValue(bar.maximum())
    elapsed = time.perf_counter() - started
    assert window.results.rowCount() == 3000
    assert elapsed < 10, elapsed
    pending = len(window.thumbnails._pending)
    assert pending <= len(paths)  # only rows that were on screen were ever asked for
    last = window.grid.indexAt(window.grid.viewport().rect().center())
    assert last.row() > 2500  # the view really scrolled to the end
    qtbot.waitUntil(lambda: window.thumbnails.get(many[last.row()].path) is not None,
                    timeout=10_000)


def test_download_progress_and_cancel(qtbot: Any, make_window: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from core.models import embedder

    def slow_download(name: str, *, device: str = "auto", on_download: Any = None,
                      **_: Any) -> Any:
        if "no-such" in name:
            raise embedder.ModelUnavailableError(f"model folder not found: {name}")
        for step in range(1000):  # until the callback raises (Cancel)
            on_download(step * 1_000_000, 600_000_000)
            time.sleep(0.01)
        raise AssertionError("the download was not cancelled")

    monkeypatch.setattr(embedder.Embedder, "load", slow_download)
    window = make_window(tmp_path / "data", model=str(tmp_path / "no-such-model"))
    qtbot.waitUntil(lambda: window.model_dialog is not None
                    and window.model_dialog.isVisible(), timeout=10_000)
    dialog = window.model_dialog
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
    assert dialog.cancel_button.isVisible() and not dialog.download_button.isEnabled()
    assert dialog.progress_label.text().startswith("Downloading… ")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in dialog.detail.text(), timeout=10_000)
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isVisible()
    assert window.engine.model_state == "missing"
