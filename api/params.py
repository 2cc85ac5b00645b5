"""Request values the API parses itself, with the command line's wording for bad ones."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fastapi import UploadFile
from starlette.exceptions import HTTPException

from core.errors import UsageError

MAX_QUERY = 1000
"""Characters of a text query (a sentence or three; longer is a mistake or an attack)."""
MAX_RESULTS = 500
MAX_UPLOAD = 50 * 1000 * 1000
"""Bytes of an uploaded image."""
MAX_BODY = MAX_UPLOAD + 64 * 1024
"""Bytes of a whole upload request: the image and its form fields."""
_CHUNK = 1 << 20


def near(text: str | None) -> tuple[float, float, float] | None:
    """``LAT,LON[,KM]`` as ``(lat, lon, km)``; bad input is a UsageError."""
    if text is None:
        return None
    from core.words.places import parse_near

    position, km = parse_near(text)
    return position.lat, position.lon, km


def region(text: str | None) -> tuple[float, float, float, float] | None:
    """``X,Y,W,H`` in pixels of the photo as shown."""
    if text is None:
        return None
    try:
        x, y, width, height = (float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"region takes X,Y,WIDTH,HEIGHT in pixels, not {text!r}") from None
    if width <= 0 or height <= 0 or x < 0 or y < 0:
        raise UsageError("region needs a positive width and height and no negative "
                         f"corner: {text!r}")
    return x, y, width, height


async def save_upload(upload: UploadFile) -> Path:
    """The upload in a private temp file (mode 600), keeping its name's suffix, which tells
    a camera RAW from the TIFF it resembles. The caller removes it."""
    suffix = Path(upload.filename or "").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = ""
    fd, name = tempfile.mkstemp(prefix="pictor-upload-", suffix=suffix)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise HTTPException(413, "upload too large")
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    if size == 0:
        os.unlink(name)
        raise UsageError("the uploaded image is empty")
    return Path(name)
