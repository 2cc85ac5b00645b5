"""`python main.py watch` as a user runs it: a subprocess that indexes a photo copied into
a watched folder, makes it findable, and stops cleanly on Ctrl-C (SIGINT) or SIGTERM
without touching the photos."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import toyworld
from tests.support.cli import TIMEOUT, WatchProcess

ROOT = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_watch_indexes_a_copied_photo_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(3, seed=11), seed=11)
    new = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(1, seed=12),
                                seed=12)[0]
    data = tmp_path / "data"
    watch = WatchProcess(str(photos), "--model", str(tiny_clip_dir), data=data)
    try:
        reconciled = watch.wait_event({"event": "reconciled"})
        assert reconciled["indexed"] == 3
        watch.wait_watching()
        target = photos.resolve() / "copied" / new.name
        target.parent.mkdir()
        shutil.copy(new, target)
        watch.wait_event({"event": "indexed", "path": str(target)})
        before = tree_digest(photos)

        env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
        search = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "search", "a photo", "-n", "10", "--json",
             "--min-score", "0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert search.returncode == 0, search.stderr
        assert str(target) in [hit["path"] for hit in json.loads(search.stdout)]
        assert watch.stop(signal.SIGINT) == 0
    finally:
        if watch.proc.poll() is None:
            watch.proc.kill()
    stderr = watch.stderr()
    assert "Traceback" not in stderr, stderr
    assert watch.wait_event({"event": "stopped"}, timeout=5)
    assert tree_digest(photos) == before  # Pictor never modifies a user's photo


def test_watch_without_path_watches_the_library_and_stops_on_sigterm(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(2, seed=13), seed=13)
    env = {**os.environ, "PICTOR_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    empty = subprocess.run([sys.executable, str(ROOT / "main.py"), "watch"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert empty.returncode == 2 and "no folders to watch" in empty.stderr

    index = subprocess.run([sys.executable, str(ROOT / "main.py"), "index", str(photos),
                            "--model", str(tiny_clip_dir)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert index.returncode == 0, index.stderr
    watch = WatchProcess(data=tmp_path / "data")  # the library's folders and model
    try:
        assert watch.wait_event({"event": "reconciled"})["skipped"] == 2
        watch.wait_watching()
    finally:
        assert watch.stop(signal.SIGTERM) == 0
    assert "Traceback" not in watch.stderr()
