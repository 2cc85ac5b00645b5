"""Which file names are videos, and times in a video as players show them: a leaf without
PyAV, so that scanning a folder or listing results does not load FFmpeg's libraries
(core.photos.video re-exports the names, core.photos.video_sampling the clock)."""

from __future__ import annotations

import math
import os

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp"})
"""Every extension taken for a video (lower case)."""


def is_video(name: str | os.PathLike[str]) -> bool:
    """Whether the file name is a video's, by its extension."""
    return os.path.splitext(os.fspath(name))[1].lower() in VIDEO_EXTENSIONS


def clock(seconds: float | None) -> str:
    """``1:05:09``, ``2:07`` (``?`` when unknown)."""
    if seconds is None or math.isnan(seconds) or seconds == math.inf:
        return "?"
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
