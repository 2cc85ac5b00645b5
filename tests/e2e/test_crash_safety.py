"""Kill the indexer with SIGKILL at random points: nothing is lost, nothing is corrupted.

Each round starts `python main.py index`, waits until it has committed at least one more
batch, kills it at a random moment soon after, and then checks what a user would rely on
next time: the database passes integrity_check, the vector index and the catalog agree on
which photos have vectors, and a final run finishes the rest without redoing any of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from core.library import Library
from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("PICTOR_KILL_ROUNDS", "6"))
PHOTOS = 240


def _embedded(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return 0


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_sigkill_at_random_points_loses_and_corrupts_nothing(tmp_path: Path,
                                                             tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(PHOTOS, seed=21), seed=21)
    before = _digest(photos)
    data = tmp_path / "data"
    db = data / "library.db"
    env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(ROOT / "main.py"), "index", str(photos), "--model",
               str(tiny_clip_dir), "--batch-size", "4", "--json"]
    rng = random.Random(1234)
    killed = 0
    for _ in range(ROUNDS):
        start_count = _embedded(db)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while (_embedded(db) <= start_count and process.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.01)
        # The tiny model embeds ~500 photos/s: a kill within 50 ms lands mid-run and
        # leaves work for the next rounds (0.3 s let one round finish nearly all).
        time.sleep(rng.uniform(0, 0.05))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)

        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with Library(data) as library:
            model_id = library.model_key()[0]
            keys = set(library.vector_index().keys().tolist())
            assert keys == library.catalog.ids_with_embedding(model_id)
    assert killed >= ROUNDS // 2, "the indexer finished before most kills: use more photos"

    done_before = _embedded(db)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["indexed"] + report["skipped"] == PHOTOS
    assert report["skipped"] >= done_before
    with Library(data) as library:
        status = library.status()
        assert (status.photos, status.indexed, status.failed) == (PHOTOS, PHOTOS, 0)
    assert _digest(photos) == before  # the photos themselves were never touched
