"""Moving to the Trash refuses, with a reason, a file that is gone or changed since the
user saw it listed: the one change Pictor makes to a user's files is never made blind."""

from __future__ import annotations

import os
from pathlib import Path

from core.sync.trash import move_to_trash


def test_a_file_changed_since_it_was_listed_stays_where_it_is(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(b"x" * 100)
    listed = os.stat(photo)
    photo.write_bytes(b"y" * 120)  # edited after the listing
    result = move_to_trash(str(photo), size=listed.st_size, mtime=listed.st_mtime)
    assert not result.moved and "changed" in (result.reason or "")
    assert photo.read_bytes() == b"y" * 120


def test_a_file_already_gone_is_reported_not_an_error(tmp_path: Path) -> None:
    result = move_to_trash(str(tmp_path / "gone.jpg"), size=1, mtime=0.0)
    assert not result.moved and "no longer there" in (result.reason or "")
