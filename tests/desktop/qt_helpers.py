"""Small helpers shared by the window's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def wait_idle(qtbot: Any, window: Any, timeout: int = 30_000) -> None:
    """Until the model is loaded and no index run is going on."""
    engine = window.engine
    qtbot.waitUntil(lambda: engine.model_state == "ready" and not engine.indexing
                    and engine._pending_index is None, timeout=timeout)


def watch_added_folder(qtbot: Any, window: Any, folder: Path) -> str:
    """Add ``folder`` in the window, wait for its index run and for its watcher to take
    events; its root as the watcher names it."""
    with qtbot.waitSignal(window.engine.indexFinished, timeout=60_000):
        window.add_folders([str(folder)])
    root = str(folder.resolve())
    qtbot.waitUntil(lambda: window.watcher.modes().get(root) == "events", timeout=10_000)
    return root


def result_names(window: Any) -> list[str]:
    return [Path(hit.path).name for hit in window.results.hits()]
