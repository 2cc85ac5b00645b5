"""The video benchmark's smoke size runs and reports what the README quotes: a video read
faster than it plays, end to end with a model, each cut's moment at the cut, and photos
indexed with a video among them at about their rate alone (a broken reader or a broken
benchmark fails here; a busy machine does not: the floors are far below the measured
ratios)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from core.types import Progress

REPO = Path(__file__).resolve().parents[2]


def _bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    return importlib.import_module("video")


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
    mixed = report["mixed"]
    alone, among = mixed["photos_alone"], mixed["photos_with_videos"]
    assert alone["photos"] == among["photos"] == mixed["photos"]["count"] == 8
    assert alone["indexed"] == 8 and among["indexed"] == 8 + mixed["videos"]["count"]
    assert alone["videos_s"] == 0 and among["videos_s"] > 0
    assert 0 < among["photos_s"] < among["wall_s"]
    # measured 0.6-1.1 on a busy 2-core VM (8 photos: a fraction of a second each)
    assert report["ratios"]["photos_with_videos_vs_alone"] == mixed["ratio"] > 0.2


@pytest.mark.slow
def test_video_mixed_alone_runs_only_the_photos_among_videos() -> None:
    done = subprocess.run([sys.executable, "bench/video.py", "--size", "smoke", "--mixed",
                           "--json"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert "moments" not in report and report["mixed"]["ratio"] > 0.2


def test_the_photos_rate_counts_the_photo_batches_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """From the embed phase's start to the last photo batch: the videos after them, the
    scan before and the tag pass after do not count."""
    video = _bench(monkeypatch)
    steps = [(0.0, Progress(phase="scan", done=0, total=0)),
             (1.0, Progress(phase="embed", done=0, total=66)),
             (3.0, Progress(phase="embed", done=32, total=66, indexed=32, current="/p/a.jpg",
                            rate=16.0)),
             (5.0, Progress(phase="embed", done=64, total=66, indexed=64, current="/p/b.JPG",
                            rate=16.0)),
             (9.0, Progress(phase="embed", done=64, total=66, indexed=64,
                            current="/p/v.mp4", rate=16.0)),
             (14.0, Progress(phase="embed", done=66, total=66, indexed=66,
                             current="/p/w.MOV", rate=16.0)),
             (15.0, Progress(phase="tag", done=66, total=66, indexed=66)),
             (16.0, Progress(phase="done", done=66, total=66, indexed=66, rate=16.0))]
    phases = video.run_phases(steps, 0.0, 16.5)
    assert phases["photos"] == 64 and phases["photos_s"] == 4.0
    assert phases["photos_per_s"] == 16.0 and phases["photos_per_s_between_batches"] == 16.0
    assert phases["videos_s"] == 9.0 and phases["scan_s"] == 1.0
    assert phases["after_s"] == 2.5 and phases["wall_s"] == 16.5 and phases["indexed"] == 66
