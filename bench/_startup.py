"""The startup benchmark: bench/startup.py (process start to first paint) and process start
to the first search answered by ``main.py search``, against a bare ``python -c pass``."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CACHE, REPO, build_model, make_photos


def first_search(runs: int) -> float:
    """Median seconds for ``main.py search`` (model load included) on a small library."""
    from core.library import Library

    model = build_model(CACHE / "models" / "vitb32-L12", layers=None)
    photos = make_photos(CACHE / "photos" / "1600x1200-8", 8, 1600, 1200)[0].parent
    with tempfile.TemporaryDirectory(prefix="pictor-bench-") as tmp:
        with Library(Path(tmp), model=str(model), device="cpu") as lib:
            for _ in lib.index([photos]):
                pass
        env = dict(os.environ, PICTOR_DATA_DIR=tmp)
        command = [sys.executable, "main.py", "search", "a dog", "--json", "-n", "5"]
        samples = []
        for _ in range(runs + 1):  # the first only warms the file cache
            start = time.perf_counter()
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                  check=False)
            samples.append(time.perf_counter() - start)
            if done.returncode != 0 or not json.loads(done.stdout):
                raise SystemExit(f"search failed ({done.returncode}): {done.stderr}")
    return statistics.median(samples[1:])


def run(size: str) -> dict[str, Any]:
    runs = 2 if size == "smoke" else 7
    done = subprocess.run([sys.executable, str(REPO / "bench" / "startup.py"), "--runs",
                           str(runs)], capture_output=True, text=True, check=True)
    paint = json.loads(done.stdout)
    paint.pop("machine", None)
    search = first_search(runs)
    return {
        "benchmark": "startup",
        "first_paint": paint,
        "first_search_cli_s": round(search, 3),
        "ratios": {"first_paint_vs_bare_python": paint["ratio_to_bare_python"],
                   "first_search_vs_bare_python":
                       round(search / paint["baseline_bare_python_s"], 1)},
        "targets": {"first_paint_s": 1.0},
    }
