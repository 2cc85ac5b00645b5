"""The moments of a video (core.photos.video_frames): each scene found within a second of
its start and shown as it looks there, few moments of a static scene, the caps, the time
limit and cancellation, cut-off and damaged files, phone videos shown upright, and the
frame at a moment for the preview.

Scenes are toy-world pictures (tests/support/toyworld.py) drifting slowly, as a hand-held
camera does, cut at times that fall between keyframes (the encoder is told not to add
keyframes at cuts), so a cut is found by looking, not by where the encoder put keyframes.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.photos import video_frames
from core.photos.video import DamagedVideoError, VideoError, probe
from core.photos.video_frames import EVERY_S, Moment, frame_at, moments
from core.photos.video_sampling import SAMPLE_S
from tests.makers import videos
from tests.support import toyworld

SCENES = [(0.0, toyworld.Scene("circle", "red", "grass")),
          (3.4, toyworld.Scene("square", "blue", "sky")),
          (7.7, toyworld.Scene("star", "yellow", "night"))]
DURATION = 11.0


def pictures(scenes: list[tuple[float, toyworld.Scene]] = SCENES,
             size: tuple[int, int] = videos.SIZE) -> list[tuple[float, videos.Picture]]:
    return [(start, videos.toy_picture(scene, seed=toyworld.image_seed(0, i), size=size))
            for i, (start, scene) in enumerate(scenes)]


def scene_at(seconds: float, scenes: list[tuple[float, videos.Picture]]) -> int:
    return max(i for i, (start, _) in enumerate(scenes) if start <= seconds + 1e-6)


def drawn(scenes: list[tuple[float, videos.Picture]], index: int, seconds: float) -> Image.Image:
    """Scene ``index``'s picture as drawn ``seconds`` into the video."""
    start, picture = scenes[index]
    return picture(max(0.0, seconds - start)) if callable(picture) else picture


def distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference (0-1) of two pictures seen at 64x36."""
    small = [np.asarray(im.convert("RGB").resize((64, 36), Image.Resampling.BOX), np.float32)
             for im in (a, b)]
    return float(np.mean(np.abs(small[0] - small[1]))) / 255


def assert_shows_its_scene(moment: Moment, scenes: list[tuple[float, videos.Picture]]) -> None:
    """The moment's picture is its time's scene (as drawn then), not any other."""
    own = scene_at(moment.time_s, scenes)
    gaps = [distance(moment.image, drawn(scenes, i, moment.time_s)) for i in range(len(scenes))]
    assert gaps[own] < 0.06, (moment.time_s, gaps)
    assert gaps[own] == min(gaps), (moment.time_s, gaps)


def assert_each_scene_found(found: list[Moment], scenes: list[tuple[float, videos.Picture]],
                            within: float = 1.0) -> None:
    for start, _ in scenes:
        assert any(start - 0.01 <= m.time_s < start + within for m in found), (start, found)
    for moment in found:
        assert_shows_its_scene(moment, scenes)


VARIANTS: dict[str, dict[str, object]] = {
    "mp4-h264": {"suffix": ".mp4"},
    "m4v-h264": {"suffix": ".m4v"},
    "3gp-h264": {"suffix": ".3gp"},
    "mov-hevc": {"suffix": ".mov", "codec": "libx265"},
    "mkv-av1": {"suffix": ".mkv", "codec": "libsvtav1"},
    "webm-vp9": {"suffix": ".webm"},
    "avi-mpeg4": {"suffix": ".avi"},
    "keyframes-10s-apart": {"suffix": ".mp4", "gop_s": 10.0},
    "keyframes-at-cuts": {"suffix": ".mp4", "keyframes_at_cuts": True},
    "starts-at-5s": {"suffix": ".mkv", "start_s": 5.0},
    "index-first": {"suffix": ".mp4", "faststart": True},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_scene_is_found_within_a_second_of_its_start(tmp_path: Path, variant: str) -> None:
    options = dict(VARIANTS[variant])
    path = tmp_path / f"scenes{options.pop('suffix')}"
    scenes = pictures()
    videos.make_scenes_video(path, scenes, duration_s=DURATION, **options)  # type: ignore[arg-type]
    with moments(path) as found:
        chosen = list(found)
    assert found.complete and found.problem is None and found.reason is None
    assert_each_scene_found(chosen, scenes)
    assert [m.cut for m in chosen if m.time_s > 0.5].count(True) == 2
    assert chosen[0].time_s == 0.0
    assert all(m.image.size == (320, 180) for m in chosen)  # smaller than 224: its own size
    assert found.count == len(chosen) <= 8


def test_a_static_scene_gives_one_moment(tmp_path: Path) -> None:
    path = videos.static_video(tmp_path / "tripod.mp4", duration_s=40)
    with moments(path) as found:
        chosen = list(found)
    assert [m.time_s for m in chosen] == [0.0]
    assert found.complete and found.samples >= 40  # it did look, every second


def _panning(speed: float) -> videos.Picture:
    """A camera panning at ``speed`` pixels a second along a street of toy scenes."""
    street = Image.new("RGB", (320 * 6, 180))
    for i, scene in enumerate(toyworld.random_scenes(6, seed=4)):
        street.paste(toyworld.render(scene, seed=i, size=(320, 180)), (320 * i, 0))

    def at(seconds: float) -> Image.Image:
        left = int(seconds * speed) % (street.width - 320)
        return street.crop((left, 0, left + 320, 180))

    return at


@pytest.mark.parametrize("speed", [20, 150])
@pytest.mark.parametrize("gop_s", [1.0, 10.0])
def test_a_moving_scene_gives_a_moment_every_few_seconds(
    tmp_path: Path, gop_s: float, speed: int
) -> None:
    """A slow pan and a fast one (half the picture a second: every sample differs from
    the last by as much as a cut does), with keyframes every second and every 10 s."""
    path = videos.make_scenes_video(tmp_path / "pan.mp4", [(0.0, _panning(speed))],
                                    duration_s=12, gop_s=gop_s)
    with moments(path) as found:
        found_moments = list(found)
    times = [m.time_s for m in found_moments]
    assert np.diff(times).max() <= EVERY_S + SAMPLE_S + 0.15, times
    assert times[-1] >= 12 - 2 * EVERY_S, times
    assert len(times) <= 12 / EVERY_S + 2, times  # the cadence, not every sample
    # the first big step has nothing to stand out from; after it, motion is no cut
    assert sum(m.cut for m in found_moments) <= 1


def test_at_most_max_frames_spread_over_the_video(tmp_path: Path) -> None:
    every_second = [(float(i), toyworld.Scene(toyworld.SHAPES[i % 5],
                                              list(toyworld.COLOURS)[i % 6],
                                              list(toyworld.BACKGROUNDS)[i % 4]))
                    for i in range(20)]
    path = videos.make_scenes_video(tmp_path / "montage.mkv", pictures(every_second),
                                    duration_s=20)
    with moments(path, max_frames=5) as found:
        times = [m.time_s for m in found]
    assert len(times) == 5
    assert times[0] == 0.0 and times[-1] >= 12  # spread, not the first five cuts
    assert found.complete


@pytest.mark.timeout(60)
def test_a_long_video_is_sampled_by_seeking_and_capped(tmp_path: Path) -> None:
    """75 minutes (1 frame a second, 160x90, a new scene every 5 minutes): the samples are
    spread (every 4.5 s) and reached by seeking; every scene is found."""
    scenes = [(300.0 * i, toyworld.Scene(toyworld.SHAPES[i % 5], list(toyworld.COLOURS)[i % 6],
                                         list(toyworld.BACKGROUNDS)[i % 4])) for i in range(15)]
    still = [(start, videos.toy_picture(scene, seed=i, size=(160, 90), drift=False))
             for i, (start, scene) in enumerate(scenes)]
    path = videos.make_scenes_video(tmp_path / "lecture.mp4", still, duration_s=75 * 60,
                                    fps=1, size=(160, 90), gop_s=10, preset="ultrafast")
    started = time.perf_counter()
    with moments(path) as found:
        chosen = list(found)
    assert time.perf_counter() - started < 15
    assert found.complete and found.samples <= 1000
    assert_each_scene_found(chosen, still, within=10.0)
    with moments(path, max_frames=6) as capped:
        times = [m.time_s for m in capped]
    assert len(times) == 6 and times[-1] > 3000


@pytest.mark.parametrize(("suffix", "start_s"),
                         [(".mkv", 0.0), (".webm", 0.0), (".avi", 0.0), (".mkv", 20.0)])
def test_seeking_is_no_damage_in_any_container(
    tmp_path: Path, suffix: str, start_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeking from sample to sample (here from 7.5 minutes on, at 5 frames a second) skips
    seconds of packets on purpose: containers whose skipped stretches would mean damage
    when read in order must not report it, nor one that starts late call itself cut off."""
    monkeypatch.setattr(video_frames, "MAX_SAMPLES", 100)  # a sample every 4.5 s
    scenes = [(30.0 * i, toyworld.Scene(toyworld.SHAPES[i % 5], list(toyworld.COLOURS)[i % 6],
                                        list(toyworld.BACKGROUNDS)[i % 4])) for i in range(15)]
    still = [(start, videos.toy_picture(scene, seed=i, size=(160, 90), drift=False))
             for i, (start, scene) in enumerate(scenes)]
    path = videos.make_scenes_video(tmp_path / f"talk{suffix}", still, duration_s=450, fps=5,
                                    size=(160, 90), gop_s=2, preset="ultrafast",
                                    start_s=start_s)
    with moments(path) as found:
        chosen = list(found)
    assert found.complete, found.reason
    assert found.samples <= 100
    assert_each_scene_found(chosen, still, within=5.0)


def test_the_time_limit_stops_reading_and_says_so(tmp_path: Path) -> None:
    path = videos.make_scenes_video(tmp_path / "clip.mp4", pictures(), duration_s=DURATION)
    with moments(path, time_limit_s=0.0) as found:
        assert list(found) == []
    assert found.finished and not found.complete
    assert found.problem == "time limit"
    assert found.reason is not None and "time limit of 0 s" in found.reason


def test_the_time_limit_counts_the_readers_own_time_only(tmp_path: Path) -> None:
    path = videos.make_scenes_video(tmp_path / "clip.mp4", pictures(), duration_s=DURATION)
    with moments(path, time_limit_s=0.6) as found:
        for _ in found:
            time.sleep(0.2)  # the caller embedding a batch
    assert found.complete and found.count >= 5  # a second of the caller's time: no stop


def test_should_stop_cancels_between_packets(tmp_path: Path) -> None:
    path = videos.make_scenes_video(tmp_path / "clip.mp4", pictures(), duration_s=DURATION)
    stop = False
    with moments(path, should_stop=lambda: stop) as found:
        first = next(found)
        stop = True
        rest = list(found)
    assert first.time_s == 0.0 and rest == []
    assert found.problem == "cancelled" and not found.complete


@pytest.mark.timeout(30)
@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".mp4"])
def test_a_cut_off_video_gives_what_it_could_and_says_so(tmp_path: Path, suffix: str) -> None:
    source = videos.make_scenes_video(tmp_path / f"whole{suffix}", pictures(),
                                      duration_s=DURATION, faststart=True)
    path = videos.cut_off(source, tmp_path / f"cut{suffix}", keep=0.6)
    with moments(path) as found:
        chosen = list(found)
    assert found.problem == "cut off" and not found.complete
    assert found.reason is not None and found.reason.startswith("cut off video: it ends at 0:0")
    assert found.reason.endswith("of 0:11")
    assert chosen and max(m.time_s for m in chosen) < 0.7 * DURATION
    assert_each_scene_found(chosen, pictures()[:2])  # the scenes before the cut


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("suffix", "what"), [(".mp4", "pictures looked at could not be decoded"),
                                              (".mkv", "0:04-0:07 could not be read"),
                                              (".webm", "could not be read")])
def test_a_damaged_video_reads_past_the_damage_and_says_so(
    tmp_path: Path, suffix: str, what: str
) -> None:
    source = videos.make_scenes_video(tmp_path / f"whole{suffix}", pictures(),
                                      duration_s=DURATION)
    path = videos.damaged(source, tmp_path / f"damaged{suffix}", at=0.45,
                          length=source.stat().st_size // 10)
    started = time.perf_counter()
    with moments(path) as found:
        chosen = list(found)
    assert time.perf_counter() - started < 5
    assert found.problem == "damaged" and not found.complete
    assert found.reason is not None and found.reason.startswith("damaged video: ")
    assert what in found.reason
    assert chosen[0].time_s == 0.0 and chosen[-1].time_s > 0.7 * DURATION


def test_a_video_that_shows_nothing_raises_at_once(tmp_path: Path) -> None:
    source = videos.make_scenes_video(tmp_path / "whole.webm", pictures(), duration_s=3)
    path = videos.cut_off(source, tmp_path / "cut.webm", keep=0.01)
    with pytest.raises(DamagedVideoError):
        moments(path)
    with pytest.raises(VideoError, match="not a video"):
        moments(videos.not_a_video(tmp_path / "photo.mp4"))


def test_a_phone_video_filmed_upright_shows_upright(tmp_path: Path) -> None:
    # the sky darkens upwards: the picture turned any other way is plainly different
    upright = toyworld.render(toyworld.Scene("triangle", "green", "sky"), seed=2,
                              size=(180, 320))
    path = videos.phone_video(tmp_path / "IMG_0002.MOV", upright)
    with moments(path, min_side=None) as found:
        chosen = list(found)
    assert chosen[0].image.size == (180, 320)
    assert distance(chosen[0].image, upright) < 0.05
    assert distance(chosen[0].image, upright.transpose(Image.Transpose.ROTATE_180)) > 0.1
    preview = frame_at(path, 1.0, min_side=90)
    assert preview.size == (90, 160) and distance(preview, upright) < 0.05


def test_moments_are_decoded_at_the_models_size(tmp_path: Path) -> None:
    path = videos.make_scenes_video(tmp_path / "hd.mp4", pictures(size=(1280, 720))[:1],
                                    duration_s=1, size=(1280, 720))
    with moments(path) as found:
        assert [m.image.size for m in found] == [(398, 224)]
    with moments(path, min_side=None) as found:
        assert [m.image.size for m in found] == [(1280, 720)]
    assert probe(path).width == 1280


def test_wide_pixels_are_shown_widened(tmp_path: Path) -> None:
    """An HDV camera stores 1440x1080 with pixels a third wider than tall: players show
    1920x1080, and so do the moments (here 240x180 stored, 320x180 shown)."""
    shown = videos.toy_picture(toyworld.Scene("circle", "purple", "sand"), seed=7,
                               drift=False)
    assert isinstance(shown, Image.Image)
    stored = shown.resize((240, 180), Image.Resampling.BICUBIC)
    path = videos.make_scenes_video(tmp_path / "hdv.mkv", [(0.0, stored)], duration_s=1,
                                    size=(240, 180), pixel_aspect=Fraction(4, 3))
    assert (probe(path).width, probe(path).height) == (320, 180)
    with moments(path, min_side=None) as found:
        [moment] = list(found)
    assert moment.image.size == (320, 180) and distance(moment.image, shown) < 0.05


def test_frame_at_shows_the_picture_at_that_second(tmp_path: Path) -> None:
    scenes = pictures()
    path = videos.make_scenes_video(tmp_path / "scenes.mkv", scenes, duration_s=DURATION)
    for seconds, scene in [(0.0, 0), (3.3, 0), (3.4, 1), (5.0, 1), (9.95, 2)]:
        picture = frame_at(path, seconds)
        assert picture.size == (320, 180)
        assert distance(picture, drawn(scenes, scene, seconds)) < 0.05, seconds
    beyond = frame_at(path, 60.0, min_side=90)  # past the end: the last picture
    assert beyond.size == (160, 90)
    assert distance(beyond, drawn(scenes, 2, DURATION)) < 0.06
