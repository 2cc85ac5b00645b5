"""`python main.py watch` picks up a video copied into a watched folder as it does a photo:
the video is indexed once it has settled and a search lands on it."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from tests.makers.videos import static_video
from tests.support import toyworld
from tests.support.cli import WatchProcess, pictor


def test_watch_indexes_a_copied_video(tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(2, seed=21), seed=21)
    (tmp_path / "staging").mkdir()
    clip = static_video(tmp_path / "staging" / "holiday.mp4", duration_s=2.0)
    data = tmp_path / "data"
    watch = WatchProcess(str(photos), "--model", str(tiny_clip_dir), data=data)
    try:
        watch.wait_event({"event": "reconciled"})
        watch.wait_watching()
        target = photos.resolve() / "holiday.mp4"
        shutil.copy(clip, target)
        watch.wait_event({"event": "indexed", "path": str(target)})
        found = pictor("search", "holiday", "--json", data=data)
        assert found.returncode == 0, found.stderr
        hits = [h for h in json.loads(found.stdout) if h["path"] == str(target)]
        assert hits and hits[0]["kind"] == "video"
        assert watch.stop(signal.SIGTERM) == 0
    finally:
        if watch.proc.poll() is None:
            watch.proc.kill()
