"""The videos of an index run: after its photos, stored whole or failed with a reason,
never half; a stop, the time limit, a file still being written and a crash suspect each
do what a user would expect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.library import Library
from core.store.catalog_videos import frame_key
from core.sync.indexer import Indexer
from core.sync.preparing import QUARANTINE_REASON
from core.types import Progress
from tests.makers import videos
from tests.support import toyworld

S = toyworld.Scene


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-second video of three toy scenes, 2 s each."""
    folder = tmp_path_factory.mktemp("clips")
    return videos.toy_scenes_video(folder / "trip.mp4", [
        (0.0, S("triangle", "green", "sand")), (2.0, S("circle", "red", "grass")),
        (4.0, S("cross", "purple", "night"))], duration_s=6.0, seed=2)


def _library_folder(tmp_path: Path, clip: Path) -> Path:
    folder = tmp_path / "library"
    toyworld.write_photos(folder / "photos", toyworld.random_scenes(3, seed=4), seed=4)
    videos.copy(clip, folder / "trip.mp4")
    return folder


def _run(library: Library, folder: Path, **options: object) -> list[Progress]:
    """An index run of ``folder`` through the indexer itself, with its video options."""
    roots = library.add_roots([folder])
    model_id, dim = library.model_key()
    indexer = Indexer(library.catalog, library.vector_index(writable=True),
                      lambda: library.embedder, model_id, dim, batch_size=2,
                      **options)  # type: ignore[arg-type]
    return list(indexer.run(roots))


def test_videos_come_after_the_photos_and_are_stored_whole(
        tmp_path: Path, clip: Path, tiny_clip_dir: Path) -> None:
    folder = _library_folder(tmp_path, clip)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        steps = _run(library, folder)
        current = [p.current for p in steps if p.current]
        first_video = next(i for i, path in enumerate(current) if path.endswith(".mp4"))
        assert all(not path.endswith(".mp4") for path in current[:first_video])
        assert all(path.endswith(".mp4") for path in current[first_video:])
        assert (steps[-1].indexed, steps[-1].failed) == (4, 0)
        row = library.catalog.photo_by_path(str(folder / "trip.mp4"))
        assert row is not None and row.status == "ok"
        model_id, dim = library.model_key()
        times, _ = library.catalog.moments_of([row.id], model_id, dim)[row.id]
        assert len(times) >= 3  # at least one moment per scene
        index = library.vector_index()
        assert row.id in index and all(frame_key(row.id, i) in index
                                       for i in range(len(times)))


def test_a_stopped_run_stores_nothing_of_the_video_it_was_reading(
        tmp_path: Path, clip: Path, tiny_clip_dir: Path) -> None:
    folder = _library_folder(tmp_path, clip)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        list(library.index([folder]))
        moved = folder / "moved"
        moved.mkdir()
        (folder / "trip.mp4").rename(moved / "trip.mp4")  # gone at its old place...
        videos.static_video(folder / "another.mp4", duration_s=2.0)  # read before it
        report = _run(library, folder, should_stop=lambda: True)[-1]
        # ...but the run stopped before it saw every video: nothing is taken as gone.
        assert report.removed == 0
        assert library.catalog.photo_by_path(str(folder / "another.mp4")) is None
        report = list(library.index())[-1]
        assert (report.moved, report.removed) == (1, 0)
        assert library.catalog.photo_by_path(str(folder / "another.mp4")) is not None


def test_a_video_past_the_time_limit_is_failed_with_the_reason(
        tmp_path: Path, clip: Path, tiny_clip_dir: Path) -> None:
    folder = _library_folder(tmp_path, clip)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        report = _run(library, folder, video_time_limit_s=0.0)[-1]
        assert (report.indexed, report.failed) == (3, 1)
        (failure,) = library.catalog.failures()
        assert failure.path.endswith("trip.mp4") and "time limit" in failure.error


def test_a_video_still_being_written_is_left_for_a_later_run(
        tmp_path: Path, clip: Path, tiny_clip_dir: Path) -> None:
    folder = _library_folder(tmp_path, clip)
    growing = folder / "trip.mp4"

    def still_recording() -> Callable[[], bool]:
        def check() -> bool:  # the recorder appends while Pictor reads
            with growing.open("ab") as file:
                file.write(b"\0" * 16)
            return False
        return check

    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        report = _run(library, folder, should_stop=still_recording())[-1]
        assert (report.indexed, report.failed) == (3, 0)
        assert library.catalog.photo_by_path(str(growing)) is None
        report = list(library.index())[-1]  # finished now: indexed, once
        assert (report.indexed, report.failed) == (1, 0)


def test_a_video_read_during_two_crashes_is_quarantined(
        tmp_path: Path, clip: Path, tiny_clip_dir: Path) -> None:
    folder = _library_folder(tmp_path, clip)
    video = folder / "trip.mp4"
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        stat = video.stat()
        for _ in range(2):
            library.catalog.note_crash(str(video), stat.st_size, stat.st_mtime)
        report = list(library.index([folder]))[-1]
        assert (report.indexed, report.failed) == (3, 1)
        assert [f.error for f in library.catalog.failures()] == [QUARANTINE_REASON]
