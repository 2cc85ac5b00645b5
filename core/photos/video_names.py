"""Which file names are videos: a leaf without PyAV, so that scanning a folder or listing
results does not load FFmpeg's libraries (core.photos.video re-exports both names)."""

from __future__ import annotations

import os

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp"})
"""Every extension taken for a video (lower case)."""


def is_video(name: str | os.PathLike[str]) -> bool:
    """Whether the file name is a video's, by its extension."""
    return os.path.splitext(os.fspath(name))[1].lower() in VIDEO_EXTENSIONS
