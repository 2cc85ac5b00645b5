"""The frames of a video worth looking at, for core.photos.video_frames: keyframes first,
whole stretches where keyframes are far apart, seeking in long videos; a second reader
that finds the first frame of a new scene between two samples; tiny signatures to compare
frames with; and the conversion of a chosen frame to an upright RGB picture.

Every read is bounded: the reader's own time (:class:`Reading`) and the caller's
``should_stop`` are checked between packets, and a read error or undecodable packet is
counted, never raised, so that a damaged file gives what it can and says why.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final, Literal

import av.error
import numpy as np
import numpy.typing as npt
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from core.photos.video import displayed_size, duration_s, open_video, rotation, start_s
from core.photos.video_names import clock as clock

SAMPLE_S: Final = 0.5
"""The finest spacing of the samples looked at (keyframes closer than this are skipped)."""
SEEK_STEP_S: Final = 4.0
"""From this spacing of the samples on, each is reached by seeking, not by reading on."""
SIGNATURE_WIDTH: Final = 32
END_SLACK_S: Final = 2.0
"""A video whose packets end more than this before its stated length is cut off."""
GAP_S: Final = 2.0
"""Packets this far apart (and 20 frames or more) in a Matroska, WebM or AVI file: the
demuxer skipped a damaged stretch."""
TOLERANCE_S: Final = 0.05
_SEEK_PACKETS: Final = 300  # looked at after a seek for its keyframe

Problem = Literal["cut off", "damaged", "unreadable", "time limit", "cancelled"]
PARTS: Final = ("demux", "decode", "choose", "refine", "convert")
"""What the time of a reading is split into (each only counted while looking)."""
Signature = npt.NDArray[np.float32]
Sample = tuple[float, Signature]
"""A looked-at frame's time and :func:`signature`."""
if TYPE_CHECKING:  # generic only in PyAV's type stubs
    VideoPacket = Packet[VideoStream]
else:
    VideoPacket = Packet


class Reading:
    """One video's reading: its own time, the caller's stop, and where the time went."""

    def __init__(self, time_limit_s: float, should_stop: Callable[[], bool] | None) -> None:
        self.time_limit_s = time_limit_s
        self.should_stop = should_stop
        self.timings: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self._spent = 0.0
        self._since: float | None = None

    def run(self) -> None:
        self._since = time.monotonic()

    def pause(self) -> None:
        if self._since is not None:
            self._spent += time.monotonic() - self._since
            self._since = None

    def elapsed(self) -> float:
        return self._spent + (0.0 if self._since is None else time.monotonic() - self._since)

    def stop(self) -> Problem | None:
        """Why reading must stop now (the time limit or the caller), if it must."""
        if self.elapsed() > self.time_limit_s:
            return "time limit"
        if self.should_stop is not None and self.should_stop():
            return "cancelled"
        return None

    @contextlib.contextmanager
    def timed(self, part: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[part] += time.perf_counter() - started


def for_looking(stream: VideoStream) -> None:
    """Decode for looking, not for showing: no deblocking (its traces do not survive the
    shrinking to a model's size; H.264 decodes about a quarter faster), and no frame that
    no other frame needs (B-frames mostly) where a stretch is decoded whole."""
    stream.codec_context.options = {"skip_loop_filter": "all"}
    stream.codec_context.skip_frame = "NONREF"


def seconds_of(stamp: int | None, other: int | None, stream: VideoStream,
               start: float) -> float | None:
    """A timestamp (else ``other``) on ``stream``'s clock, in seconds from ``start``."""
    base = stream.time_base
    value = stamp if stamp is not None else other
    return None if value is None or base is None else float(value * base) - start


class Sampler:
    """The frames worth looking at, with their times in seconds from the start: one at
    most every ``step`` seconds; a stretch whose keyframes are more than ``max_gap``
    apart is decoded whole."""

    def __init__(self, container: InputContainer, stream: VideoStream, reading: Reading,
                 *, step: float, max_gap: float) -> None:
        self.container, self.stream, self.reading = container, stream, reading
        self.step, self.max_gap = step, max(max_gap, step)
        self.start = start_s(container, stream)
        self.duration = duration_s(container, stream)
        self.last_sample = -math.inf
        self.last_packet: float | None = None
        self.errors = self.pictures = 0
        self.lost: list[tuple[float, float]] = []  # stretches the demuxer skipped over
        rate = stream.average_rate or stream.guessed_rate
        # An MP4's index lists every packet: a gap there is the recording's own (a screen
        # recording that only writes frames when something changes). Other demuxers
        # resynchronise after damage, skipping what they could not read.
        self.max_skip = math.inf if container.format.name.startswith("mov,") else \
            max(GAP_S, 20 / float(rate) if rate else 0.0)
        self.last_dts: float | None = None
        self.stopped: Problem | None = None
        self.read_error: str | None = None
        for_looking(stream)

    def samples(self) -> Iterator[tuple[float, VideoFrame]]:
        if self.step >= SEEK_STEP_S and self.duration:
            yield from self._seeking(self.duration)
        else:
            yield from self._linear()

    def _linear(self) -> Iterator[tuple[float, VideoFrame]]:
        """Demux in order: keyframes alone, or a whole stretch where they are far apart."""
        gop: list[VideoPacket] = []  # the current group's packets not sent to the decoder
        key_at = first = None
        live = False  # this group is decoded whole
        last_sent = -math.inf
        for packet, seconds in self._packets():
            first = seconds if first is None else first
            if packet.is_keyframe:
                gop, key_at, live = [packet], seconds, False
                if seconds >= last_sent + self.step - TOLERANCE_S:
                    gop, last_sent = [], seconds
                    yield from self._decode(packet)
            elif live:
                yield from self._decode(packet)
            elif key_at is not None or seconds - first > self.max_gap:
                gop.append(packet)  # (no keyframe marks at all: decode everything)
                if seconds - (first if key_at is None else key_at) > self.max_gap:
                    live = True
                    for waiting in gop:
                        yield from self._decode(waiting)
                    gop = []
        if not self.stopped:
            yield from self._decode(None)  # the frames still inside the decoder

    def _seeking(self, duration: float) -> Iterator[tuple[float, VideoFrame]]:
        """Seek to each sample's keyframe (long videos): one keyframe decoded per sample,
        drained at once (a decoder holds frames back to reorder them)."""
        for index in range(math.ceil(duration / self.step)):
            packets = self._after_seek(index * self.step)
            for packet, seconds in itertools.islice(packets, _SEEK_PACKETS):
                if not packet.is_keyframe:
                    continue  # a demuxer may land before its keyframe
                if seconds > self.last_sample + TOLERANCE_S:  # else: sampled already
                    yield from [*self._decode(packet), *self._decode(None)][:1]
                break
            if self.stopped:
                return
        # Where its packets really end, for outcome() (see there for the start's part).
        for _ in itertools.islice(
                self._after_seek(duration - self.start - 3 * END_SLACK_S), 1000):
            pass

    def _after_seek(self, seconds: float) -> Iterator[tuple[VideoPacket, float]]:
        base = self.stream.time_base
        assert base is not None
        try:
            with self.reading.timed("demux"):
                self.container.seek(max(0, int((seconds + self.start) / base)),
                                    stream=self.stream, backward=True)
                self.stream.codec_context.flush_buffers()
        except (av.error.FFmpegError, OSError):
            self.errors += 1
            return iter(())
        self.last_dts = None  # the jump is ours, not a stretch the demuxer skipped
        return self._packets()

    def _packets(self) -> Iterator[tuple[VideoPacket, float]]:
        """The video's packets with their times, until the end, a read error or a stop."""
        demux = self.container.demux(self.stream)
        while not self._stopping():
            try:
                with self.reading.timed("demux"):
                    packet = next(demux)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as error:
                self.read_error = str(getattr(error, "strerror", None) or error)
                return
            seconds = seconds_of(packet.pts, packet.dts, self.stream, self.start)
            if packet.size == 0 or seconds is None:
                continue  # the end-of-stream marker, or a packet without a time
            if self.last_packet is None or seconds > self.last_packet:
                self.last_packet = seconds
            self._check_gap(seconds_of(packet.dts, packet.pts, self.stream, self.start))
            yield packet, seconds

    def _check_gap(self, dts: float | None) -> None:
        if dts is None:
            return
        if self.last_dts is not None and dts - self.last_dts > self.max_skip:
            self.lost.append((self.last_dts, dts))
        self.last_dts = dts

    def _stopping(self) -> bool:
        self.stopped = self.stopped or self.reading.stop()
        return self.stopped is not None

    def _decode(self, packet: VideoPacket | None) -> Iterator[tuple[float, VideoFrame]]:
        """The frames ``packet`` completes, at least a step after the last sample."""
        try:
            with self.reading.timed("decode"):
                frames = self.stream.decode(packet)
        except (av.error.FFmpegError, ValueError):
            # (before any picture: a stream that starts mid-way, waiting for its keyframe)
            self.errors += self.pictures > 0
            return
        for frame in frames:
            self.pictures += 1
            seconds = seconds_of(frame.pts, frame.dts, self.stream, self.start)
            if frame.is_corrupt:
                self.errors += 1
            elif seconds is not None and seconds >= self.last_sample + self.step - TOLERANCE_S:
                self.last_sample = seconds
                yield max(0.0, seconds), frame

    def outcome(self) -> tuple[Problem | None, str | None]:
        """Whether the whole video was read, and if not, why (a short sentence)."""
        if self.stopped == "time limit":
            return self.stopped, (f"stopped after the time limit of "
                                  f"{self.reading.time_limit_s:g} s, at "
                                  f"{clock(max(0.0, self.last_sample))} of {clock(self.duration)}")
        if self.stopped == "cancelled":
            return self.stopped, "cancelled"
        if self.read_error is not None:
            return "unreadable", (f"cannot read file past {clock(self.last_packet)}: "
                                  f"{self.read_error}")
        end = self.last_packet
        # FFmpeg gives some formats' length from 0, not from the first frame (a Matroska
        # file cut from a broadcast starts at 5 s and says 16 s): compare where it ends.
        if self.duration and (end is None or end + self.start < self.duration - END_SLACK_S):
            return "cut off", (f"cut off video: it ends at {clock(end)} of "
                               f"{clock(self.duration)}")
        damage = [f"{clock(a)}-{clock(b)} could not be read" for a, b in self.lost[:3]]
        if self.errors:
            damage.append(f"{self.errors} of {self.pictures + self.errors} pictures looked "
                          "at could not be decoded")
        return ("damaged", "damaged video: " + "; ".join(damage)) if damage else (None, None)


class Refiner:
    """Finds the first frame of a new scene between two samples, decoding the stretch
    between them on a second reader of the file (opened at the first cut)."""

    def __init__(self, path: str | os.PathLike[str], reading: Reading,
                 stack: contextlib.ExitStack) -> None:
        self.path, self.reading, self.stack = path, reading, stack
        self.video: tuple[InputContainer, VideoStream, float] | None = None
        self.scaler = VideoReformatter()

    def first_of_scene(self, old: Sample, new: Sample
                       ) -> tuple[float, VideoFrame, Signature] | None:
        """The first frame after ``old``'s time that looks more like ``new`` than like
        ``old``; None when it is ``new`` itself or the stretch cannot be read."""
        try:
            container, stream, start = self._open()
            base = stream.time_base
            assert base is not None
            container.seek(max(0, int((old[0] + start) / base)), stream=stream, backward=True)
            stream.codec_context.flush_buffers()
            for packet in container.demux(stream):
                if self.reading.stop() is not None:
                    return None
                for frame in stream.decode(packet):
                    seconds = seconds_of(frame.pts, frame.dts, stream, start)
                    if seconds is None or seconds <= old[0] + TOLERANCE_S:
                        continue
                    if seconds >= new[0] - TOLERANCE_S:
                        return None
                    sign = signature(frame, self.scaler)
                    if difference(sign, new[1]) < difference(sign, old[1]):
                        return max(0.0, seconds), frame, sign
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        return None

    def _open(self) -> tuple[InputContainer, VideoStream, float]:
        if self.video is None:
            container, stream = self.stack.enter_context(open_video(self.path))
            assert stream is not None
            for_looking(stream)
            self.video = container, stream, start_s(container, stream)
        return self.video


def signature(frame: VideoFrame, scaler: VideoReformatter | None = None) -> Signature:
    """The frame shrunk to :data:`SIGNATURE_WIDTH` pixels wide (area filter), RGB, 0-1.
    A ``scaler`` kept for a whole video keeps FFmpeg's scaling tables (0.6 ms, not 1.4)."""
    height = max(4, round(SIGNATURE_WIDTH * frame.height / max(1, frame.width)))
    small = (scaler or VideoReformatter()).reformat(
        frame, width=SIGNATURE_WIDTH, height=height, format="rgb24", interpolation="AREA")
    return small.to_ndarray().astype(np.float32) / 255.0


def difference(a: Signature, b: Signature) -> float:
    """The mean absolute difference of two signatures' pixels, 0 (same) to 1."""
    return float(np.mean(np.abs(a - b))) if a.shape == b.shape else 1.0


_TURNS: Final = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                 270: Image.Transpose.ROTATE_90}  # clockwise degrees: Pillow turns the other way


def picture(frame: VideoFrame, stream: VideoStream, min_side: int | None,
            scaler: VideoReformatter | None = None) -> Image.Image:
    """``frame`` as players show it, RGB, its short side ``min_side`` (or the frame's own
    when smaller, or None): scaled once from the decoder's planes, then turned."""
    turn = rotation(frame)
    width, height = displayed_size(frame, stream, 0)  # stored orientation, pixels widened
    scale = 1.0 if min_side is None else min(1.0, min_side / min(width, height))
    size = max(1, round(width * scale)), max(1, round(height * scale))
    rgb = (scaler or VideoReformatter()).reformat(
        frame, width=size[0], height=size[1], format="rgb24",
        interpolation="AREA" if scale < 1 else "BICUBIC")
    image = Image.fromarray(rgb.to_ndarray(), "RGB")
    return image.transpose(_TURNS[turn]) if turn in _TURNS else image
