"""The video benchmark's smoke size runs and reports what the README quotes: a video read
faster than it plays, end to end with a model, and each cut's moment at the cut (a broken
reader or a broken benchmark fails here; a busy machine does not: the floors are far below
the measured ratios)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_video_smoke_reads_faster_than_real_time_and_finds_the_cuts() -> None:
    done = subprocess.run([sys.executable, "bench/video.py", "--size", "smoke", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["benchmark"] == "video" and report["size"] == "smoke"
    moments = report["moments"]
    assert moments["complete"] and 3 <= moments["moments"] <= moments["samples"]
    assert set(moments["parts_s"]) == {"probe", "demux", "decode", "choose", "refine",
                                       "convert"}
    # each cut's moment is its first frame, or the one after (B-frames are not decoded)
    assert all(offset is not None and 0 <= offset <= 0.1
               for offset in report["cuts"]["moment_after_cut_s"])
    # measured 27x and 13x on a busy 2-core VM
    assert report["ratios"]["end_to_end_x_real_time"] > 1
    assert report["ratios"]["end_to_end_overlapped_x_real_time"] > 1
    assert report["ratios"]["moments_vs_decode_every_frame"] > 0.5
