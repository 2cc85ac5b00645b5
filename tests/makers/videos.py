"""Real video files for tests, written with PyAV (FFmpeg's encoders, in its wheel).

A video is a list of scenes that start at known times, each a picture (fixed, or drawn
for every frame from the seconds since the scene began), so a test can check that a moment
is found within a second of each scene and shows it. Pictures come from the toy world
(tests/support/toyworld.py), whose captions the suite's trained toy model knows, so an
end-to-end test can search "a red circle" and land at the right second.

Beside well-formed videos: the files a library also holds: a damaged one (bytes
overwritten in the middle), a cut-off one (a copy that stopped at 60%), a photo or text
named ``.mp4``, a phone video stored sideways with the rotation in its header, an audio-only
file. Sizes are small (320x180, 10 fps, seconds long) so every test stays fast.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.support import toyworld

Picture = Image.Image | Callable[[float], Image.Image]
"""A scene's picture: fixed, or drawn for each frame from the seconds since the scene began."""

SIZE = (320, 180)
FPS = 10

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".3gp": "3gp", ".mkv": "matroska",
              ".webm": "webm", ".avi": "avi"}
DEFAULT_CODECS = {".webm": "libvpx-vp9", ".avi": "mpeg4"}  # H.264 in every other
_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "veryfast"},  # B-frames on: decode order differs from display order
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
    "libsvtav1": {"preset": "12"},
    "mpeg4": {},
}

IPHONE_PORTRAIT = (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
"""The display matrix (QuickTime ``tkhd``, 16.16 fixed point) of a video filmed holding an
iPhone upright: the sensor stores it sideways, and players turn it 90 degrees clockwise."""


def toy_picture(scene: toyworld.Scene, *, seed: int, size: tuple[int, int] = SIZE,
                drift: bool = True) -> Picture:
    """A toy-world scene as a video picture: rendered once, then (``drift``) panned slowly,
    a few pixels a second, as a hand-held camera does, so consecutive frames differ a little."""
    wide = toyworld.render(scene, seed=seed, size=(size[0] + 16, size[1] + 8))
    if not drift:
        return wide.crop((8, 4, 8 + size[0], 4 + size[1]))

    def at(seconds: float) -> Image.Image:
        dx = 8 + round(6 * math.sin(seconds * 0.9))
        dy = 4 + round(3 * math.sin(seconds * 0.7))
        return wide.crop((dx, dy, dx + size[0], dy + size[1]))

    return at


def make_scenes_video(
    path: Path,
    scenes: Sequence[tuple[float, Picture]],
    *,
    duration_s: float,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    codec: str | None = None,
    gop_s: float = 1.0,
    keyframes_at_cuts: bool = False,
    display_matrix: Sequence[int] | None = None,
    audio: bool = False,
    creation_time: str | None = None,
    faststart: bool = False,
    start_s: float = 0.0,
    preset: str | None = None,
    pixel_aspect: Fraction | None = None,
) -> Path:
    """Write a video whose ``scenes`` (start second, picture) follow each other.

    The container comes from the suffix (.mp4 .m4v .mov .3gp .mkv .webm .avi), the codec by
    default too (H.264; VP9 in WebM, MPEG-4 Part 2 in AVI). A keyframe every ``gop_s``
    seconds; ``keyframes_at_cuts`` False keeps the encoder from adding one where a scene
    starts (H.264), so a cut falls inside a group of pictures, as in a re-encoded film.
    ``display_matrix``: the rotation players apply (see :data:`IPHONE_PORTRAIT`);
    ``creation_time``: ISO 8601 UTC, as cameras write it; ``faststart``: the MP4 index first;
    ``start_s``: the first frame's timestamp (a trimmed or broadcast recording starts late;
    players still show it as 0:00); ``preset``: the encoder's speed preset;
    ``pixel_aspect``: pixels wider than tall (a DV or HDV camera's), shown widened.
    """
    suffix = path.suffix.lower()
    codec = codec or DEFAULT_CODECS.get(suffix, "libx264")
    container_options = {"movflags": "+faststart"} if faststart else {}
    with _scheduling_kept(), \
            av.open(str(path), "w", format=CONTAINERS[suffix], options=container_options) as out:
        stream = _video_stream(out, codec, fps, size, gop_s, keyframes_at_cuts, preset)
        if pixel_aspect is not None:
            stream.codec_context.sample_aspect_ratio = pixel_aspect
        if display_matrix is not None:
            stream.set_display_matrix(list(display_matrix))
        if creation_time is not None:
            out.metadata["creation_time"] = creation_time
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        starts = sorted(scenes, key=lambda scene: scene[0])
        still: dict[int, av.VideoFrame] = {}  # a fixed picture is converted once
        for index in range(round(duration_s * fps)):
            seconds = index / fps
            start, picture = _scene_at(starts, seconds)
            if callable(picture):
                frame = av.VideoFrame.from_image(_fitted(picture(seconds - start), size))
            else:
                frame = still.setdefault(
                    id(picture), av.VideoFrame.from_image(_fitted(picture, size)))
            frame.pts = index + round(start_s * fps)  # the encoder takes it as sent
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            _write_tone(out, sound, duration_s)
    return path


@contextmanager
def _scheduling_kept() -> Iterator[None]:
    """Put the calling thread's scheduling back as it was: the SVT-AV1 encoder, run as
    root, switches it to real-time SCHED_FIFO, which every process started afterwards
    inherits; two such processes that wait on their own worker threads then starve them
    (an index run in a later test took 14 minutes instead of a few seconds)."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if os.sched_getscheduler(0) != policy:
            os.sched_setscheduler(0, policy, param)


def _video_stream(out: av.container.OutputContainer, codec: str, fps: int,
                  size: tuple[int, int], gop_s: float, keyframes_at_cuts: bool,
                  preset: str | None) -> av.video.stream.VideoStream:
    options = dict(_OPTIONS.get(codec, {}))
    if preset is not None:
        options["preset"] = preset
    gop = max(1, round(gop_s * fps))
    if codec == "libx264":
        options["x264-params"] = f"keyint={gop}:min-keyint={gop}" + (
            "" if keyframes_at_cuts else ":scenecut=0")
    elif codec == "libx265":
        options["x265-params"] += f":keyint={gop}:min-keyint={gop}" + (
            "" if keyframes_at_cuts else ":scenecut=0")
    stream = out.add_stream(codec, rate=fps, options=options)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, fps)
    stream.codec_context.gop_size = gop
    if codec == "mpeg4":
        stream.bit_rate = 800_000
    return stream


def _scene_at(scenes: Sequence[tuple[float, Picture]], seconds: float
              ) -> tuple[float, Picture]:
    found = scenes[0]
    for scene in scenes:
        if scene[0] <= seconds + 1e-9:
            found = scene
    return found


def _fitted(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)


def _write_tone(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                duration_s: float) -> None:
    rate, chunk = 16000, 1024
    samples = np.sin(np.arange(round(duration_s * rate)) * 2 * math.pi * 440 / rate)
    for start in range(0, len(samples), chunk):
        piece = samples[start:start + chunk].astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def toy_scenes_video(path: Path, scenes: Sequence[tuple[float, toyworld.Scene]], *,
                     duration_s: float, seed: int = 0, **options: object) -> Path:
    """:func:`make_scenes_video` of toy-world scenes (each drifting slowly)."""
    pictures = [(start, toy_picture(scene, seed=toyworld.image_seed(seed, i)))
                for i, (start, scene) in enumerate(scenes)]
    return make_scenes_video(path, pictures, duration_s=duration_s, **options)  # type: ignore[arg-type]


def static_video(path: Path, *, duration_s: float, **options: object) -> Path:
    """One picture that never changes, for ``duration_s`` seconds (a camera left running)."""
    picture = toy_picture(toyworld.Scene("circle", "red", "grass"), seed=1, drift=False)
    return make_scenes_video(path, [(0.0, picture)], duration_s=duration_s, **options)  # type: ignore[arg-type]


def phone_video(path: Path, upright: Image.Image, *, duration_s: float = 2.0) -> Path:
    """A phone video filmed upright (``upright`` is portrait): the frames are stored
    sideways (turned a quarter counter-clockwise) with :data:`IPHONE_PORTRAIT` in the header."""
    stored = upright.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    return make_scenes_video(path, [(0.0, stored)], duration_s=duration_s, size=stored.size,
                             display_matrix=IPHONE_PORTRAIT)


def empty_video(path: Path) -> Path:
    """A video file with its header written and not one picture (a recording that never
    got its first frame)."""
    with av.open(str(path), "w", format=CONTAINERS[path.suffix.lower()]) as out:
        stream = _video_stream(out, "libx264", FPS, SIZE, 1.0, False, None)
        out.start_encoding()
        out.mux(stream.encode(None))
    return path


def audio_only(path: Path, *, duration_s: float = 2.0) -> Path:
    """An MP4 holding only sound (a voice memo saved as .mp4)."""
    with av.open(str(path), "w", format="mp4") as out:
        _write_tone(out, out.add_stream("aac", rate=16000, layout="mono"), duration_s)
    return path


def damaged(source: Path, dest: Path, *, at: float = 0.5, length: int = 4096,
            seed: int = 0) -> Path:
    """A copy of ``source`` with ``length`` bytes at ``at`` (a share of its size) replaced by
    noise, as a bad sector or a broken transfer leaves it."""
    data = bytearray(source.read_bytes())
    start = int(len(data) * at)
    noise = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    data[start:start + length] = noise[: len(data) - start]
    dest.write_bytes(bytes(data))
    return dest


def cut_off(source: Path, dest: Path, *, keep: float = 0.6) -> Path:
    """The first ``keep`` of ``source``'s bytes: a copy or download that stopped."""
    with source.open("rb") as file:
        dest.write_bytes(file.read(int(source.stat().st_size * keep)))
    return dest


def not_a_video(path: Path) -> Path:
    """A file named like a video that holds something else (a photo renamed by mistake)."""
    toyworld.render(toyworld.Scene("star", "blue", "sky"), seed=3).save(path, format="JPEG")
    return path


def copy(source: Path, dest: Path) -> Path:
    """``source`` copied to ``dest`` with its times (a move to another drive)."""
    shutil.copy2(source, dest)
    return dest
