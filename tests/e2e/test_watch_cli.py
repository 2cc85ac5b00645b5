"""`python main.py watch` as a user runs it: a subprocess that indexes a photo copied into
a watched folder, makes it findable, and stops cleanly on Ctrl-C (SIGINT) or SIGTERM
without touching the photos."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class WatchProcess:
    """``main.py watch ... --json`` with its stdout read line by line as JSON events."""

    def __init__(self, *args: str, data: Path) -> None:
        env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "watch", *args, "--json"], cwd=ROOT,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait_event(self, match: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no {match} event; stderr: {self.stderr()}") from None
            if all(event.get(k) == v for k, v in match.items()):
                return event

    def wait_watching(self) -> None:
        while not self.wait_event({"event": "message"})["message"].startswith("watching"):
            pass

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(TIMEOUT)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


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
