"""Small helpers shared by the window's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def wait_idle(qtbot: Any, window: Any, timeout: int = 30_000) -> None:
    """Until the model is loaded and no index run is going on."""
    engine = window.engine
    qtbot.waitUntil(lambda: engine.model_state == "ready" and not engine.indexing
                    and engine._pending_index is None, timeout=timeout)


def result_names(window: Any) -> list[str]:
    return [Path(hit.path).name for hit in window.results.hits()]
