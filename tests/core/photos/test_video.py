"""What a video holds, read as players show it (core.photos.video.probe), the files that are
refused and why, and the identity that follows a moved video (video_identity).

The videos are written by tests/makers/videos.py with PyAV's own encoders: the formats a
library holds (MP4, MOV, M4V, 3GP, MKV, WebM, AVI; H.264, HEVC, VP9, AV1, MPEG-4).
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import CorruptImageError, ImageError, UnsupportedFormatError
from core.photos import video
from core.photos.video import (
    DamagedVideoError,
    NotAVideoError,
    UnsupportedVideoError,
    VideoError,
    is_video,
    probe,
    video_identity,
)
from tests.makers import videos
from tests.support import toyworld

SCENES = [(0.0, toyworld.Scene("circle", "red", "grass")),
          (1.5, toyworld.Scene("square", "blue", "sky"))]

FORMATS = [(".mp4", "libx264", "h264"), (".m4v", "libx264", "h264"), (".3gp", "libx264", "h264"),
           (".mov", "libx264", "h264"), (".mov", "libx265", "hevc"), (".mkv", "libx264", "h264"),
           (".mkv", "libsvtav1", "av1"), (".webm", "libvpx-vp9", "vp9"),
           (".avi", "mpeg4", "mpeg4")]


@pytest.mark.parametrize(("suffix", "encoder", "codec"), FORMATS,
                         ids=[f"{s[1:]}-{c}" for s, _, c in FORMATS])
def test_probe_reads_each_format_as_players_show_it(
    tmp_path: Path, suffix: str, encoder: str, codec: str
) -> None:
    path = videos.toy_scenes_video(tmp_path / f"clip{suffix}", SCENES, duration_s=3,
                                   codec=encoder)
    info = probe(path)
    assert is_video(path)
    assert (info.width, info.height, info.rotation) == (320, 180, 0)
    assert info.codec == codec
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert info.fps == pytest.approx(videos.FPS)
    assert info.has_video and not info.has_audio
    assert info.taken_at is None


def test_a_phone_video_filmed_upright_is_portrait(tmp_path: Path) -> None:
    upright = toyworld.render(toyworld.Scene("triangle", "green", "sand"), seed=2,
                              size=(180, 320))
    info = probe(videos.phone_video(tmp_path / "IMG_0001.MOV", upright))
    # stored 320x180 sideways; the header (an iPhone's matrix) turns it 90 degrees clockwise
    assert (info.rotation, info.width, info.height) == (90, 180, 320)


def test_the_date_filmed_comes_from_the_header(tmp_path: Path) -> None:
    path = videos.toy_scenes_video(tmp_path / "clip.mp4", SCENES, duration_s=1, audio=True,
                                   creation_time="2024-05-01T10:20:30.000000Z")
    info = probe(path)
    assert info.has_audio
    # MP4 stores UTC; photos' dates are local wall-clock times, so it is shown in this zone
    assert info.taken_at == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC).astimezone() \
        .replace(tzinfo=None)


def test_dates_phones_write_and_placeholders() -> None:
    # An iPhone's own tag keeps the local time it was filmed at, whatever this computer's zone.
    assert video.taken_at({"com.apple.quicktime.creationdate": "2023-07-14T21:05:09+0200",
                           "creation_time": "2023-07-14T19:05:09.000000Z"}) == \
        datetime(2023, 7, 14, 21, 5, 9)
    # The MP4 and Unix zero dates are what cameras without a clock write: no date.
    assert video.taken_at({"creation_time": "1904-01-01T00:00:00.000000Z"}) is None
    assert video.taken_at({"creation_time": "1970-01-01T00:00:00.000000Z"}) is None
    assert video.taken_at({"creation_time": "yesterday"}) is None


def _unknown_codec(tmp_path: Path) -> Path:
    """An MP4 whose pictures claim a codec nobody knows (its fourcc changed)."""
    source = videos.toy_scenes_video(tmp_path / "source.mp4", SCENES, duration_s=1)
    path = tmp_path / "odd.mp4"
    path.write_bytes(source.read_bytes().replace(b"avc1", b"zzzz"))
    return path


def _cut_off_mp4(tmp_path: Path) -> Path:
    """An MP4 written as phones do (index last) that stopped copying at 60%."""
    source = videos.toy_scenes_video(tmp_path / "source.mp4", SCENES, duration_s=3)
    return videos.cut_off(source, tmp_path / "cut.mp4")


def _start_of_a_mkv(tmp_path: Path) -> Path:
    """A Matroska video of which only the header and a few bytes arrived."""
    source = videos.toy_scenes_video(tmp_path / "source.mkv", SCENES, duration_s=3)
    return videos.cut_off(source, tmp_path / "cut.mkv", keep=0.01)


BAD_FILES = {
    "photo named .mp4": (lambda p: videos.not_a_video(p / "photo.mp4"), NotAVideoError,
                         "not a video (piped jpeg sequence)"),
    "text named .mov": (lambda p: _write(p / "notes.mov", b"shopping list\n" * 50),
                        NotAVideoError, "not a video (unknown format)"),
    "audio only": (lambda p: videos.audio_only(p / "memo.mp4"), NotAVideoError,
                   "no video stream (audio only)"),
    "cut-off MP4": (_cut_off_mp4, DamagedVideoError,
                    "damaged or cut off video: its index is missing (the file was not "
                    "completely written or copied)"),
    "start of a MKV": (_start_of_a_mkv, DamagedVideoError,
                       "damaged or cut off video: none of its pictures are there"),
    "unknown codec": (_unknown_codec, UnsupportedVideoError, "unsupported video codec"),
    "empty file": (lambda p: _write(p / "empty.mp4", b""), VideoError, "empty file"),
    "AVI without pictures": (lambda p: videos.empty_video(p / "clip.avi"), DamagedVideoError,
                             "empty video: it holds no pictures"),
    "MP4 without pictures": (lambda p: videos.empty_video(p / "clip.mp4"), NotAVideoError,
                             "no video stream (no pictures)"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_files_that_are_no_readable_video_are_refused_with_a_reason(
    tmp_path: Path, case: str
) -> None:
    make, error, reason = BAD_FILES[case]
    path = make(tmp_path)
    started = time.perf_counter()
    with pytest.raises(error) as caught:
        probe(path)
    assert caught.value.reason == reason
    assert time.perf_counter() - started < 2
    # the index run keeps them as failed files, as it does unreadable photos
    assert isinstance(caught.value, ImageError)
    if error in (NotAVideoError, DamagedVideoError):
        assert isinstance(caught.value, CorruptImageError)
    if error is UnsupportedVideoError:
        assert isinstance(caught.value, UnsupportedFormatError)


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_called_like_a_video_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(VideoError, match="not a regular file"):
        probe(fifo)
    with pytest.raises(VideoError, match="not a regular file"):
        video_identity(fifo)


def test_a_sound_file_can_be_probed_when_pictures_are_not_required(tmp_path: Path) -> None:
    info = probe(videos.audio_only(tmp_path / "memo.mp4", duration_s=2), require_video=False)
    assert not info.has_video and info.has_audio
    assert info.duration_s == pytest.approx(2.0, abs=0.1)


def test_video_names() -> None:
    assert all(is_video(f"clip{suffix}") for suffix in
               (".mp4", ".MOV", ".m4v", ".mkv", ".webm", ".avi", ".3gp"))
    assert not is_video("photo.jpg") and not is_video("song.mp3")


def test_identity_follows_a_moved_video_and_changes_with_its_content(tmp_path: Path) -> None:
    original = videos.toy_scenes_video(tmp_path / "a.mp4", SCENES, duration_s=2)
    identity = video_identity(original)
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    shutil.copyfile(original, moved)
    original.unlink()
    assert video_identity(moved) == identity
    other = videos.toy_scenes_video(tmp_path / "b.mp4", SCENES[::-1], duration_s=2)
    assert video_identity(other) != identity
    trimmed = videos.toy_scenes_video(tmp_path / "c.mp4", SCENES, duration_s=1.5)
    assert video_identity(trimmed) != identity


def test_identity_reads_a_few_mib_of_a_large_video(tmp_path: Path) -> None:
    size = 300 * 2**20
    path = tmp_path / "long.mkv"
    with path.open("wb") as file:  # sparse: 300 MiB on disk costs nothing
        file.truncate(size)
    reads = video._identity_reads(size)
    assert sum(length for _, length in reads) == (video.IDENTITY_SAMPLES + 2) * 2**20
    assert reads[0][0] == 0 and reads[-1][0] + reads[-1][1] == size
    identity = video_identity(path)
    with path.open("r+b") as file:  # a change at the end (where an MP4's index often lies)
        file.seek(size - 100)
        file.write(b"x")
    assert video_identity(path) != identity
    with path.open("r+b") as file:
        file.seek(size - 100)
        file.write(b"\0")
        file.truncate(size + 1)  # a byte more: the size is part of the identity
    assert video_identity(path) != identity


def test_writing_an_av1_video_leaves_the_tests_scheduling_alone(tmp_path: Path) -> None:
    """The SVT-AV1 encoder, run as root, switched the test process to real-time scheduling,
    which every later subprocess inherited (tests/makers/videos.py puts it back)."""
    from tests.makers.videos import static_video

    policy = os.sched_getscheduler(0)
    static_video(tmp_path / "a.mkv", duration_s=1.0, codec="libsvtav1")
    assert os.sched_getscheduler(0) == policy
