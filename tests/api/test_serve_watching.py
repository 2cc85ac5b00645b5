"""``main.py serve`` runs Pictor without a window: its folders watched and indexed (new,
moved, removed photos) while it answers, the run's progress in ``/status``, and SIGTERM in
the middle of a run stops it cleanly within seconds, the library whole."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import DATABASE_NAME
from core.library import Library
from tests.api.api_client import Server, multipart, start_server
from tests.support import toyworld

WAIT_S = 60.0


def unindexed_library(root: Path, photos: int, *, seed: int) -> tuple[Path, Path]:
    """``photos`` toy photos in a folder of a new library, not indexed yet: serve's
    start-up scan finds them. Returns the folder and the data folder."""
    folder, data = root / "photos", root / "data"
    toyworld.write_photos(folder, toyworld.random_scenes(photos, seed=seed), seed=seed)
    with Library(data) as library:
        library.add_roots([folder])
    return folder, data


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_S:.0f} s: {what}")


def first_hit_by_image(server: Server, photo: Path) -> str | None:
    body, kind = multipart({"n": "1", "min_score": "0"},
                           {"image": (photo.name, photo.read_bytes())})
    status, _, answer = server.request("POST", "/search", body=body,
                                       headers={"Content-Type": kind})
    assert status == 200, answer
    hits = json.loads(answer)
    return hits[0]["path"] if hits else None


def known(server: Server, photo: Path) -> bool:
    return server.request("GET", "/thumbnail", {"photo": str(photo), "size": 16})[0] == 200


def test_serve_keeps_its_folders_indexed(tmp_path: Path, tiny_clip_dir: Path) -> None:
    folder, data = unindexed_library(tmp_path, 4, seed=5)
    server = start_server(data, "--model", str(tiny_clip_dir))
    try:
        wait_for(lambda: server.get_json("/status")["indexed"] == 4, "the start-up scan")
        new = toyworld.write_photos(folder / "new",
                                    toyworld.random_scenes(3, seed=6), seed=6)
        wait_for(lambda: server.get_json("/status")["photos"] == 7, "new photos indexed")
        assert first_hit_by_image(server, new[1]) == str(new[1])  # found by its pixels

        moved = new[1].with_name("renamed.jpg")
        new[1].rename(moved)
        wait_for(lambda: known(server, moved) and not known(server, new[1]), "a move")
        assert server.get_json("/status")["photos"] == 7
        assert first_hit_by_image(server, moved) == str(moved)

        moved.unlink()  # the test's own file
        wait_for(lambda: server.get_json("/status")["photos"] == 6, "a removal")
        assert server.stop(signal.SIGTERM) == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def test_sigterm_in_the_middle_of_an_index_run(tmp_path: Path, tiny_clip_dir: Path) -> None:
    _, data = unindexed_library(tmp_path, 300, seed=9)
    server = start_server(data, "--model", str(tiny_clip_dir))  # indexes them at once
    try:
        running = wait_for(lambda: server.get_json("/status")["indexing"], "an index run")
        assert {"phase", "done", "total", "indexed"} <= set(running)
        assert 0 <= running["done"] <= running["total"]
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
    assert code == 0, server.proc.communicate()
    assert stopped_in < 5.0, f"stopping took {stopped_in:.1f} s"
    assert not (data / "api.json").exists()

    with sqlite3.connect(data / DATABASE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Library(data) as library:  # the model serve used, remembered
        status = library.status()
        assert status.indexed < 300  # stopped midway: the rest is for the next run
        assert status.failed == 0
        # Every vector the catalog holds is searchable (the index file, synced on open).
        assert len(library.vector_index()) == status.indexed


def test_no_watch_only_answers(tmp_path: Path, tiny_clip_dir: Path) -> None:
    _, data = unindexed_library(tmp_path, 2, seed=10)
    server = start_server(data, "--no-watch", "--model", str(tiny_clip_dir))
    try:
        time.sleep(2.0)  # serve's start-up scan would have indexed them by now
        status = server.get_json("/status")
        assert status["indexed"] == 0 and status["indexing"] is None
        assert server.stop(signal.SIGTERM) == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
