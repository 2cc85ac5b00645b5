"""Videos through the command line as a user runs it: a described scene lands in the
right second of the right video, once; a damaged and a cut-off video are listed as failed
with their reasons; a moved video keeps its vectors; a removed one leaves the search.

The videos show toy-world scenes at known times, so the suite's toy CLIP has right answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import vector_index_path
from tests.makers import videos
from tests.support import toyworld
from tests.support.cli import pictor

S = toyworld.Scene
RED_CIRCLE_AT = 3.0
"""When the red circle's scene starts in trip.mp4 (9 s long)."""


@pytest.fixture(scope="module")
def video_library(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path):
    """Photos and videos in one folder, indexed once through the command line."""
    base = tmp_path_factory.mktemp("videos")
    library = base / "library"
    # Photos of other scenes: the red circle is only in the video.
    toyworld.write_photos(library / "photos", [S("square", "blue", "sky"),
                                               S("star", "yellow", "sand"),
                                               S("triangle", "orange", "night")], seed=31)
    clips = library / "clips"
    clips.mkdir()
    trip = videos.toy_scenes_video(clips / "trip.mp4", [
        (0.0, S("triangle", "green", "sand")), (RED_CIRCLE_AT, S("circle", "red", "grass")),
        (6.0, S("cross", "purple", "night"))], duration_s=9.0, seed=3)
    other = videos.toy_scenes_video(base / "other.mkv", [
        (0.0, S("star", "orange", "sky")), (2.0, S("square", "yellow", "night"))],
        duration_s=4.0, seed=7)
    videos.damaged(trip, clips / "damaged.mp4", at=0.5, length=20_000)
    videos.cut_off(other, clips / "cut.mkv")
    result = pictor("index", str(library), "--model", str(toy_clip_dir), "--json",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    return base, library, json.loads(result.stdout)


def _search(base: Path, *args: str) -> list[dict]:
    result = pictor("search", *args, "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_described_scene_lands_in_the_right_second_of_the_video(video_library) -> None:
    base, library, report = video_library
    assert (report["indexed"], report["failed"]) == (4, 2)  # 3 photos and the good video
    hits = _search(base, "a red circle", "-n", "10", "--min-score", "0")
    best = hits[0]
    assert best["path"] == str(library / "clips" / "trip.mp4")
    assert best["kind"] == "video" and abs(best["time_s"] - RED_CIRCLE_AT) <= 1.0
    assert best["duration_s"] == pytest.approx(9.0, abs=0.2)
    assert [h["path"] for h in hits].count(best["path"]) == 1  # once, at its best moment
    assert all(h["kind"] == "photo" and h["time_s"] is None for h in hits[1:])
    # Another scene of the same video, within a folder (a filtered search reaches the
    # moments too): the same video, at that scene's second.
    night = _search(base, "a purple cross at night", "-n", "1", "--min-score", "0",
                    "--folder", str(library / "clips"))[0]
    assert night["kind"] == "video" and abs(night["time_s"] - 6.0) <= 1.0


def test_the_table_marks_the_video_and_its_moment(video_library) -> None:
    base, _, _ = video_library
    result = pictor("search", "a red circle", "-n", "2", "--min-score", "0",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[1]
    assert first.endswith("trip.mp4  \u25b6 0:03 / 0:09")


def test_damaged_and_cut_off_videos_are_listed_as_failed(video_library) -> None:
    base, _, _ = video_library
    result = pictor("status", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    failures = {Path(f["path"]).name: f["error"] for f in json.loads(result.stdout)["failures"]}
    assert set(failures) == {"damaged.mp4", "cut.mkv"}
    assert "damaged" in failures["damaged.mp4"]
    assert "cut off" in failures["cut.mkv"]


def test_a_moved_video_keeps_its_vectors_and_a_removed_one_leaves(video_library) -> None:
    base, library, _ = video_library
    trip = library / "clips" / "trip.mp4"
    moved = library / "holiday" / "trip.mp4"
    moved.parent.mkdir()
    trip.rename(moved)
    result = pictor("index", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["moved"], report["indexed"], report["removed"]) == (1, 0, 0)  # no model run
    best = _search(base, "a red circle", "-n", "1", "--min-score", "0")[0]
    assert best["path"] == str(moved) and abs(best["time_s"] - RED_CIRCLE_AT) <= 1.0

    moved.unlink()
    report = json.loads(pictor("index", "--json", data=base / "data").stdout)
    assert report["removed"] == 1
    hits = _search(base, "a red circle", "-n", "10", "--min-score", "0")
    assert [h["kind"] for h in hits] == ["photo"] * 3
    # The saved search index holds the photos' keys only: the moments left with the video.
    status = json.loads(pictor("status", "--json", data=base / "data").stdout)
    sidecar = vector_index_path(base / "data", status["model"]).with_suffix(".json")
    assert json.loads(sidecar.read_text())["count"] == 3
