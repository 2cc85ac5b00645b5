"""Video files: which names are videos, what a video holds (:func:`probe`), opening one
safely for decoding (:func:`open_video`), and an identity that follows a moved video
(:func:`video_identity`).

Videos are read through PyAV, whose wheels carry FFmpeg's demuxers and decoders (H.264,
HEVC, VP9, AV1 through libdav1d, MPEG-4 Part 2, ...), so nothing is needed from the system.
The moments of a video (the frames a model embeds) come from core.photos.video_frames.

A file is opened only when ``stat`` says it is a regular file (a FIFO named ``clip.mp4``
would block FFmpeg forever) and it is checked again on the open descriptor, as
core.photos.reading does for photos; FFmpeg then reads it through that descriptor. Only
video containers are accepted: FFmpeg also reads photos, sounds and raw streams, which are
not videos here. Every refusal is a :class:`VideoError` (an :class:`~core.errors.ImageError`
with a short ``reason``, which the catalog keeps like any unreadable photo's).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Final

import av
import av.error
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from core.errors import CorruptImageError, ImageError, UnsupportedFormatError
from core.photos.video_names import VIDEO_EXTENSIONS as VIDEO_EXTENSIONS
from core.photos.video_names import is_video as is_video

CONTAINERS: Final = {
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4", "matroska,webm": "Matroska", "avi": "AVI",
    "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "flv": "FLV", "asf": "ASF", "ogg": "Ogg",
}
"""FFmpeg's demuxers of video containers, by the name people know them by. Anything else
FFmpeg recognises (a JPEG, an MP3, a raw H.264 stream without timestamps) is refused."""

_OPEN_FLAGS: Final = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                      | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_READ_BUFFER: Final = 256 * 1024  # FFmpeg's reads through Python: few, large calls
_OPEN_TIMEOUT_S: Final = 20.0  # a header that takes longer to read is on a dying drive
_MIB: Final = 1 << 20
IDENTITY_SAMPLES: Final = 4
"""MiB-sized samples read between a video's first and last MiB by :func:`video_identity`."""


class VideoError(ImageError):
    """A video that cannot be read; ``reason`` says why in a few words."""


class NotAVideoError(VideoError, CorruptImageError):
    """The file is not a video: another kind of file, or a container without pictures."""


class DamagedVideoError(VideoError, CorruptImageError):
    """The file is a video, but damaged or cut off so that nothing of it can be shown."""


class UnsupportedVideoError(VideoError, UnsupportedFormatError):
    """The video's pictures are in a codec this build of FFmpeg cannot decode."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a video file holds, as a player shows it.

    ``width`` and ``height`` are as displayed: after ``rotation`` (the degrees a player
    turns the stored pictures clockwise, 0/90/180/270: a phone filmed upright stores its
    pictures sideways and says 90) and a non-square pixel shape. ``duration_s`` is None
    when the file does not say (an unfinished recording). ``taken_at`` is when it was
    filmed, local time without a zone as for photos (EXIF): a phone's own local creation
    date when it wrote one, else the container's UTC ``creation_time`` in this computer's
    zone; None when absent or a placeholder (1904 or 1970: the formats' zero dates).
    """

    duration_s: float | None
    width: int
    height: int
    codec: str
    """FFmpeg's name of the pictures' codec: h264, hevc, vp9, av1, mpeg4, ..."""
    fps: float | None
    rotation: int
    taken_at: datetime | None
    has_video: bool
    has_audio: bool
    container: str


def _open_file(path: str | os.PathLike[str]) -> BinaryIO:
    """The file opened for reading, refused unless it is a non-empty regular file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a device or FIFO is never opened
            raise VideoError("not a regular file")
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise VideoError(f"cannot read file: {error.strerror or error}") from error
    try:
        info = os.fstat(fd)  # what was opened, not what the name showed a moment ago
        if not stat.S_ISREG(info.st_mode):
            raise VideoError("not a regular file")
        if info.st_size == 0:
            raise VideoError("empty file")
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def open_video(path: str | os.PathLike[str], *,
               require_video: bool = True) -> Iterator[tuple[InputContainer, VideoStream | None]]:
    """The opened container and its main video stream (None only if not
    ``require_video``), closed on leaving. Raises :class:`VideoError` subclasses: not a
    video, no video stream, damaged or cut off (an MP4 whose index was never written),
    unsupported codec, or ``cannot read file: ...``."""
    with _open_file(path) as file:
        head = file.read(12)
        file.seek(0)
        try:
            container = av.open(file, "r", buffer_size=_READ_BUFFER, timeout=_OPEN_TIMEOUT_S)
        except av.error.FFmpegError as error:
            raise _open_refusal(head, error) from error
        with container:
            stream = _video_stream(container, require_video)
            if stream is not None:
                # Slice threads only: frame threads hold frames back and, when a cut-off
                # file ends in a broken frame, lose the ones still inside the decoder.
                stream.thread_type = "SLICE"
            yield container, stream


def _open_refusal(head: bytes, error: Exception) -> VideoError:
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):  # an MP4/MOV's first box
        return DamagedVideoError(
            "damaged or cut off video: its index is missing (the file was not completely "
            "written or copied)")
    if head[:4] in (b"\x1aE\xdf\xa3", b"RIFF"):
        return DamagedVideoError("damaged video: its header cannot be read")
    if isinstance(error, OSError) and not isinstance(error, av.error.InvalidDataError):
        return VideoError(f"cannot read file: {error.strerror or error}")
    return NotAVideoError("not a video (unknown format)")


def _video_stream(container: InputContainer, require_video: bool) -> VideoStream | None:
    name = container.format.name
    if name not in CONTAINERS:
        raise NotAVideoError(f"not a video ({container.format.long_name or name})")
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]  # cover art
    if not streams:
        if require_video:
            what = "audio only" if container.streams.audio else "no pictures"
            raise NotAVideoError(f"no video stream ({what})")
        return None
    stream = max(streams, key=_preference)
    if stream.codec_context is None:
        tag = getattr(stream, "codec_tag", None)
        raise UnsupportedVideoError(f"unsupported video codec{f' ({tag})' if tag else ''}")
    return stream


def _preference(stream: VideoStream) -> tuple[bool, bool, int]:
    """The main video stream: the default one, decodable, largest."""
    context = stream.codec_context
    return (bool(stream.disposition & av.stream.Disposition.default), context is not None,
            context.width * context.height if context is not None else 0)


def probe(path: str | os.PathLike[str], *, require_video: bool = True) -> VideoInfo:
    """What the video at ``path`` holds, from its header and its first picture (decoded,
    so a video that cannot show anything is refused here, quickly).

    Raises :class:`VideoError` subclasses (see :func:`open_video`), and: ``empty video``
    when it holds no picture or lasts zero seconds, ``damaged video`` when its first
    picture cannot be decoded. With ``require_video`` False a file without a video stream
    (a voice memo saved as .mp4) gives ``has_video`` False instead.
    """
    with open_video(path, require_video=require_video) as (container, stream):
        has_audio = bool(container.streams.audio)
        kind = CONTAINERS[container.format.name]
        if stream is None:
            return VideoInfo(_seconds(container.duration), 0, 0, "", None, 0,
                             taken_at(container.metadata), False, has_audio, kind)
        duration = duration_s(container, stream)
        if duration is not None and duration <= 0:
            raise DamagedVideoError("empty video: it lasts zero seconds")
        first = first_frame(container, stream, announced=duration is not None)
        turn = rotation(first)
        width, height = displayed_size(first, stream, turn)
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(duration, width, height, stream.codec_context.codec.canonical_name,
                         float(rate) if rate else None, turn,
                         taken_at({**container.metadata, **stream.metadata}), True, has_audio,
                         kind)


def _seconds(microseconds: int | None) -> float | None:
    return None if microseconds is None else microseconds / 1_000_000


def duration_s(container: InputContainer, stream: VideoStream) -> float | None:
    """The video stream's length in seconds (the container's when it does not say)."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return _seconds(container.duration)


def start_s(container: InputContainer, stream: VideoStream) -> float:
    """The time players show as 0:00, on the stream's clock: the container's start (the
    earliest of its streams), else the stream's own, else 0."""
    if container.start_time is not None:
        return container.start_time / 1_000_000
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def first_frame(container: InputContainer, stream: VideoStream, *,
                announced: bool = False) -> VideoFrame:
    """The first picture that decodes, looking at most at the first 64 packets
    (``announced``: the header gives the video a length, so no picture means cut off)."""
    failures = 0
    for count, packet in enumerate(container.demux(stream)):
        if count >= 64:
            break
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError:
            failures += 1
            continue
        if frames:
            return frames[0]
    if failures:
        raise DamagedVideoError("damaged video: its first pictures cannot be decoded")
    if announced:
        raise DamagedVideoError("damaged or cut off video: none of its pictures are there")
    raise DamagedVideoError("empty video: it holds no pictures")


def rotation(frame: VideoFrame) -> int:
    """Degrees a player turns ``frame`` clockwise to show it (0, 90, 180 or 270), from its
    display matrix (FFmpeg gives the counter-clockwise angle)."""
    return (-round(frame.rotation / 90) * 90) % 360


def displayed_size(frame: VideoFrame, stream: VideoStream, turn: int) -> tuple[int, int]:
    """``frame``'s size as shown: pixels widened by their aspect ratio, then turned."""
    width, height = frame.width, frame.height
    aspect = stream.sample_aspect_ratio
    if aspect is not None and aspect > 0 and aspect != 1:
        width = max(1, round(width * aspect))
    return (height, width) if turn in (90, 270) else (width, height)


_DATE_KEYS: Final = ("com.apple.quicktime.creationdate", "creation_time", "date")


def taken_at(metadata: dict[str, str]) -> datetime | None:
    """When the video was filmed (see :class:`VideoInfo`), from container or stream tags."""
    for key in _DATE_KEYS:
        text = metadata.get(key, "").strip()
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        except ValueError:
            continue
        if stamp is None or stamp.year <= 1970:  # 1904/1970: the MP4 and Unix zero dates
            continue
        if key == "creation_time" and stamp.tzinfo is not None:
            stamp = stamp.astimezone()  # a UTC instant: this computer's wall clock
        return stamp.replace(tzinfo=None)
    return None


def video_identity(path: str | os.PathLike[str]) -> str:
    """A short digest that stays the same when a video is moved or copied, read from at
    most a few MiB whatever its size: blake2b-128 of its size in bytes, its first and
    last MiB and :data:`IDENTITY_SAMPLES` MiB evenly spaced in between (the whole file
    when it is smaller than that).

    Why this is enough to tell that a file at a new path is a video already embedded: a
    video's bytes are compressed pictures, so two different recordings of equal length
    in bytes do not share a MiB anywhere; and the index of an MP4 or MOV (phones, most
    cameras), at its start or its end, lists the size of every frame, so it changes with
    any re-encoding or trim. What it would miss: bytes changed in place between the
    samples with the size kept, which only damage does (or a tool patching pictures in
    place), and then the moved file keeps vectors of what it showed before. It is meant
    for pairing a path that vanished with one that appeared (a move); a change to a
    video where it lies is caught as for photos, by its size and modification time
    changing, and it is then read again whatever its identity.

    Raises :class:`VideoError` (``cannot read file: ...``, ``not a regular file``).
    """
    with _open_file(path) as file:
        size = os.fstat(file.fileno()).st_size
        digest = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
        try:
            for offset, length in _identity_reads(size):
                file.seek(offset)
                digest.update(file.read(length))
        except OSError as error:
            raise VideoError(f"cannot read file: {error.strerror or error}") from error
    return digest.hexdigest()


def _identity_reads(size: int) -> list[tuple[int, int]]:
    """(offset, length) of the parts :func:`video_identity` reads."""
    if size <= (IDENTITY_SAMPLES + 2) * _MIB:
        return [(0, size)]
    middle = [round(size * (i + 1) / (IDENTITY_SAMPLES + 1)) - _MIB // 2
              for i in range(IDENTITY_SAMPLES)]
    return [(0, _MIB), *((offset, _MIB) for offset in middle), (size - _MIB, _MIB)]
