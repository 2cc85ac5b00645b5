"""Starting Pictor a second time on the same library shows the first window instead."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from desktop.single_instance import SingleInstance, server_name


def test_a_second_start_asks_the_first_to_show_itself(qtbot: Any) -> None:
    name = f"pictor-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(name)
    assert first.claim()
    with qtbot.waitSignal(first.activated, timeout=5_000):
        assert not SingleInstance(name).claim()
    first.server.close()  # type: ignore[union-attr]  # the first quits (or crashed):
    assert SingleInstance(name).claim()  # the next start runs


def test_each_library_and_user_has_its_own_name(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "x" / ".." / "a")
