"""bench/api_load.py at its smoke size: 16 clients searching while serve indexes photos
moved into its folder get no errors, and the report is sane (latency is the full run's to
judge: a busy machine makes the smoke run slow, not wrong)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_api_load_smoke_has_no_errors() -> None:
    done = subprocess.run([sys.executable, "bench/api_load.py", "--size", "smoke", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["benchmark"] == "api_load" and report["size"] == "smoke"
    assert report["clients"] == 16 and report["indexer"] == "serve"
    for name in ("one_client", "baseline", "during_index"):
        phase = report[name]
        assert phase["errors"] == 0, phase["error_samples"]
        assert phase["requests"] == phase["ok"] > (0 if name == "during_index" else 16)
        assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
        assert phase["requests_per_s"] > 0
    assert report["index_run"]["finished"], report["index_run"]
    assert report["photos_after"] == report["photos"] + report["second_folder_photos"]
    assert report["serve_exit_code"] == 0
