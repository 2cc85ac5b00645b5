"""The smoke benchmarks run and report sane ratios (a broken benchmark or a broken fast path
fails here; a slow or busy machine does not: the floors are far below the measured ratios)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench(name: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "bench/run.py", name, "--size", "smoke", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["benchmark"] == name and report["size"] == "smoke"
    assert report["machine"]["cores"] >= 1
    return report


@pytest.mark.slow
def test_ingest_smoke_ratios() -> None:
    report = _bench("ingest")
    assert report["indexer"]["photos"] == report["photos"]["count"] == 8
    assert report["naive"]["photos_per_s"] > 0
    assert report["model_only"]["best_photos_per_s"] > 0
    # Measured 2.6x and 0.67 on a busy 2-core VM (a burst of other work during one half of
    # the run can cost 3x); an indexer that stopped prefetching or draft-decoding drops below.
    assert report["ratios"]["indexer_vs_naive"] > 0.5
    assert report["ratios"]["indexer_vs_model_only"] > 0.1
    # The int8 tower is prepared once per model; whether it is accepted for a 2-layer model
    # depends on the machine, but either path must index every photo.
    assert report["indexer"]["precision"] in {"int8", "bf16", "fp32"}
    assert report["indexer_pytorch_images"]["photos"] == 8
    assert report["ratios"]["int8_tower_vs_pytorch_indexer"] > 0.2


@pytest.mark.slow
def test_query_smoke_ratios() -> None:
    report = _bench("query")
    search, inverted = report["vector_search"]
    assert (search["vectors"], search["mode"]) == (10_000, "exact")
    assert search["recall_at_10"] >= 0.95
    assert 500 < search["bytes_per_vector"] < 2000  # float16 vectors plus the graph
    assert search["median_ms"] > 0 and search["exact_median_ms"] > 0
    assert (inverted["vectors"], inverted["mode"]) == (30_000, "ivf")
    assert inverted["recall_at_10"] >= 0.95
    assert 1024 < inverted["bytes_per_vector"] < 2000  # float16 vectors plus the codes
    (e2e,) = report["end_to_end"]
    for key in ("text_median_ms", "repeated_text_median_ms", "image_12mp_median_ms"):
        assert e2e[key] > 0
    assert report["ratios"]["recall_at_10"] >= 0.95
