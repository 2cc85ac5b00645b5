"""The moments of a video: the few timed frames a model embeds so that a search can land
in the right second, and the frame at a moment for a preview (:func:`frame_at`).

How moments are chosen (:func:`moments`; the reading itself: core.photos.video_sampling):

* **Sampling, keyframes first.** The video is demuxed in order and only its keyframes are
  decoded (a keyframe stands alone; decoding every frame costs ten to thirty times more),
  at most one every :data:`~core.photos.video_sampling.SAMPLE_S` (0.5 s). Where keyframes
  are further apart than ``every_s`` (a film re-encoded with one every 10 s), that
  stretch is decoded whole and sampled every 0.5 s. A video longer than
  :data:`MAX_SAMPLES` samples is sampled more sparsely, and from a sample every 4 s on
  (over about an hour) by seeking to each sample's keyframe instead of reading it all.
* **Choosing, on tiny frames.** Each sample is shrunk to 32 pixels wide (about 0.3 ms)
  and compared with the previous sample and with the last moment: the mean absolute
  difference of their pixels, 0 to 1. A sample is a moment when it is the first, when
  the scene changed (at least :data:`CUT` from both, and :data:`CUT_CONTRAST` times the
  usual difference between samples lately, so fast motion is no cut), or when ``every_s``
  passed since the last moment and the picture moved on at all (at least :data:`SAME`):
  a scene left static for a minute gives one moment, not thirty. The samples around a
  cut may be a second or more apart, so the stretch between them is decoded (on a second
  reader, skipping the frames no other frame needs) to find the first frame of the new
  scene, or the one after it, which becomes the moment.
* **Only moments are converted to RGB**, straight from the decoder's planes to the
  model's size: short side ``min_side`` (never larger than the video), turned as players
  show it (a phone filmed upright stores its frames sideways) and non-square pixels widened.
* **Limits.** At most ``max_frames`` moments, spread over the video's length (by any
  time ``t``, no more than ``max_frames * t / duration`` plus a small burst); reading
  stops after ``time_limit_s`` of its own time (the caller's time between moments does
  not count) or when ``should_stop()`` says so, keeping what it found.

Bad files: :func:`moments` raises :class:`~core.photos.video.VideoError` subclasses for a
file that is not a video, has no video stream, uses an unsupported codec or shows nothing
(damaged or cut off before its first picture). A video that shows something gives its
moments and says after them what went wrong: :attr:`Moments.problem` is ``"cut off"``
(its packets end before the length its header gives: a copy or a recording that
stopped), ``"damaged"`` (pictures the decoder refused, or a stretch the demuxer skipped),
``"unreadable"`` (a read error mid-way), ``"time limit"`` or ``"cancelled"``; None when
the whole video was read. Damage the decoder does not notice (bytes overwritten inside a
picture that still decodes) cannot be told apart from a picture.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Final

import av.error
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from core.photos.video import DamagedVideoError, VideoInfo, duration_s, open_video, probe, start_s
from core.photos.video_sampling import (
    PARTS,
    SAMPLE_S,
    TOLERANCE_S,
    Problem,
    Reading,
    Refiner,
    Sample,
    Sampler,
    clock,
    difference,
    picture,
    seconds_of,
    signature,
)

__all__ = ["CUT", "EVERY_S", "MAX_FRAMES", "PARTS", "SAME", "TIME_LIMIT_S", "Moment",
           "Moments", "Problem", "frame_at", "moments"]

EVERY_S: Final = 2.0
"""A moment at least this often while the picture moves on. A moment stands for the
seconds around it: 2 s keeps a described scene within a second of a moment, and a minute
of moving video at about 30 moments, which a ViT-B/32 embeds in about a second on 2 cores."""
MAX_FRAMES: Final = 240
"""Moments of one video at most: 8 minutes at one every 2 s; longer videos are spread."""
TIME_LIMIT_S: Final = 120.0
"""Reading one video stops after this long (its own time), keeping what it found. The
most it samples, 1000 keyframes, takes about 45 s at 1080p on 2 cores (43 ms each)."""
MAX_SAMPLES: Final = 1000
"""Samples looked at in one video at most: past 500 s they are spread wider than 0.5 s."""
CUT: Final = 0.08
"""A difference of at least this from both the previous sample and the last moment is a
new scene. Measured: cuts between toy-world scenes 0.2-0.6, a slow pan or a hand-held
drift 0.005-0.015 between samples half a second apart."""
CUT_CONTRAST: Final = 3.0
"""...and at least this many times the usual difference between samples lately: in a
fast pan or a game every sample differs from the last, and none of them is a cut (they
come at the cadence instead, and no stretch is decoded to look for a first frame)."""
_RECENT: Final = 8  # samples whose differences make "lately"
SAME: Final = 0.02
"""Less than this from the last moment is the same picture (5 levels of 255 on average)."""
_FORWARD_S: Final = 20.0  # frame_at decodes at most this far past its keyframe


@dataclass(frozen=True, slots=True)
class Moment:
    """One chosen frame: ``time_s`` seconds from the start as players count it, the
    picture (RGB, upright, short side ``min_side``), and whether a new scene starts there
    (False: the first moment, or one of a scene that moved on)."""

    time_s: float
    image: Image.Image
    cut: bool = False


@dataclass(frozen=True, slots=True)
class _Settings:
    min_side: int | None
    every_s: float
    max_frames: int
    step_s: float


class Moments:
    """The moments of one video, read as they are iterated (see the module's notes).

    Made by :func:`moments`, which probes first: ``info`` is the video's
    :class:`~core.photos.video.VideoInfo`. Once iteration ends (``finished``),
    :attr:`problem` and :attr:`reason` say whether the whole video was read and
    :attr:`timings` splits the reading's time into :data:`PARTS` (seconds). Iterating
    raises :class:`~core.photos.video.DamagedVideoError` when the video was cut off,
    damaged or unreadable before any moment. :meth:`close` (or leaving a ``with`` block)
    releases the file when stopping early.
    """

    def __init__(self, path: str | os.PathLike[str], info: VideoInfo, settings: _Settings,
                 reading: Reading) -> None:
        self.path, self.info = path, info
        self.problem: Problem | None = None
        self.reason: str | None = None
        self.finished = False
        self.count = 0
        self.samples = 0
        self._settings, self._reading = settings, reading
        self._run: Generator[Moment, None, None] = self._moments()

    @property
    def complete(self) -> bool:
        """Whether iteration ended having read the whole video."""
        return self.finished and self.problem is None

    @property
    def timings(self) -> dict[str, float]:
        return dict(self._reading.timings)

    def __iter__(self) -> Moments:
        return self

    def __next__(self) -> Moment:
        self._reading.run()
        try:
            return next(self._run)
        finally:
            self._reading.pause()

    def close(self) -> None:
        self._run.close()

    def __enter__(self) -> Moments:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _moments(self) -> Generator[Moment, None, None]:
        settings = self._settings
        with open_video(self.path) as (container, stream), contextlib.ExitStack() as stack:
            assert stream is not None  # open_video requires one
            sampler = Sampler(container, stream, self._reading, step=settings.step_s,
                              max_gap=settings.every_s)
            chooser = _Chooser(self, Refiner(self.path, self._reading, stack), stream)
            for seconds, frame in sampler.samples():
                self.samples += 1
                moment = chooser.consider(seconds, frame)
                if moment is not None:
                    self.count += 1
                    yield moment
            self.problem, self.reason = sampler.outcome()
        self.finished = True
        if self.count == 0 and self.problem in ("cut off", "damaged", "unreadable"):
            raise DamagedVideoError(f"{self.reason}; no picture could be shown")


def moments(path: str | os.PathLike[str], *, min_side: int | None = 224,
            every_s: float = EVERY_S, max_frames: int = MAX_FRAMES,
            time_limit_s: float = TIME_LIMIT_S,
            should_stop: Callable[[], bool] | None = None) -> Moments:
    """The moments of the video at ``path``, read lazily as the result is iterated.

    ``min_side``: the short side of each moment's picture (None: the video's own size).
    Raises :class:`~core.photos.video.VideoError` at once for a file that is not a
    readable video (see :func:`~core.photos.video.probe`). Typical use::

        with moments(path) as found:
            pictures = list(found)
        if found.problem: ...   # "cut off", "damaged", ...; found.reason says more
    """
    info = probe(path)
    step = max(SAMPLE_S, (info.duration_s or 0.0) / MAX_SAMPLES)
    settings = _Settings(min_side, every_s, max(1, max_frames), step)
    return Moments(path, info, settings, Reading(time_limit_s, should_stop))


class _Chooser:
    """Which samples become moments (see the module's notes)."""

    def __init__(self, run: Moments, refiner: Refiner, stream: VideoStream) -> None:
        self.run, self.refiner, self.stream = run, refiner, stream
        self.settings = run._settings
        self.timed = run._reading.timed
        self.last: Sample | None = None  # the last moment
        self.previous: Sample | None = None  # the previous sample
        self.recent: list[float] = []  # differences between the last samples
        self.burst = max(1, self.settings.max_frames // 20)
        self.scalers = VideoReformatter(), VideoReformatter()  # signatures, pictures

    def consider(self, seconds: float, frame: VideoFrame) -> Moment | None:
        with self.timed("choose"):
            sign = signature(frame, self.scalers[0])
        previous, self.previous = self.previous, (seconds, sign)
        cut = False
        if previous is not None:
            step = difference(sign, previous[1])
            usual = float(np.median(self.recent)) if self.recent else 0.0
            self.recent = [*self.recent[1 - _RECENT:], step]
            cut = step >= max(CUT, CUT_CONTRAST * usual)
        if self.last is not None:
            moved = difference(sign, self.last[1])
            cut = cut and moved >= CUT
            due = seconds - self.last[0] >= self.settings.every_s - TOLERANCE_S \
                and moved >= SAME
            if not (cut or due) or not self._allowed(seconds):
                return None
        if cut and previous is not None and seconds - previous[0] > SAMPLE_S + TOLERANCE_S:
            with self.timed("refine"):
                found = self.refiner.first_of_scene(previous, (seconds, sign))
            if found is not None:
                seconds, frame, sign = found
        self.last = (seconds, sign)
        with self.timed("convert"):
            image = picture(frame, self.stream, self.settings.min_side, self.scalers[1])
        return Moment(round(seconds, 3), image, cut)

    def _allowed(self, seconds: float) -> bool:
        """Within the moments' budget by ``seconds`` (spread over the video's length)."""
        count, cap = self.run.count, self.settings.max_frames
        length = self.run.info.duration_s
        return count < cap and (not length or count < cap * seconds / length + self.burst)


def frame_at(path: str | os.PathLike[str], time_s: float, *,
             min_side: int | None = None) -> Image.Image:
    """The picture shown ``time_s`` seconds into the video (clamped to its length), as
    players show it: RGB, upright, short side ``min_side`` (None: the video's own size).

    Seeks to the keyframe before and decodes forward to the time (at most 20 s of frames
    past that keyframe). Raises :class:`~core.photos.video.VideoError` subclasses for a
    file that cannot be read (see :func:`~core.photos.video.open_video`), and
    ``damaged video`` when no picture near that time decodes.
    """
    with open_video(path) as (container, stream):
        assert stream is not None
        start, length = start_s(container, stream), duration_s(container, stream)
        target = max(0.0, min(time_s, length - 0.001) if length else time_s)
        base = stream.time_base
        assert base is not None
        with contextlib.suppress(av.error.FFmpegError):  # unseekable: read from the start
            container.seek(int((target + start) / base), stream=stream, backward=True)
        frame = _decode_to(container, stream, target, start)
        if frame is None:
            raise DamagedVideoError(f"damaged video: no picture at {clock(target)}")
        return picture(frame, stream, min_side)


def _decode_to(container: InputContainer, stream: VideoStream, target: float,
               start: float) -> VideoFrame | None:
    """The first frame at or after ``target`` (the last one decoded when the video ends
    before it, or when :data:`_FORWARD_S` of frames did not reach it)."""
    found: VideoFrame | None = None
    began: float | None = None
    try:
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except (av.error.FFmpegError, ValueError):
                continue
            for frame in frames:
                seconds = seconds_of(frame.pts, frame.dts, stream, start)
                if seconds is None or frame.is_corrupt:
                    continue
                found, began = frame, seconds if began is None else began
                if seconds >= target - TOLERANCE_S or seconds - began > _FORWARD_S:
                    return found
    except (av.error.FFmpegError, OSError):
        pass  # a read error past the picture wanted: what was found is still good
    return found
