"""What a photo's EXIF says: when it was taken, with which camera, which way up.

Damaged metadata never costs the pixels: every reader here falls back to "unknown".
"""

from __future__ import annotations

from datetime import datetime

from PIL import ExifTags, Image

from core.photos.gps import position_from_exif
from core.types import ImageInfo

# Same table as ImageOps.exif_transpose; we also need the value itself for ImageInfo.
ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.replace("\x00", " ").split())
    return cleaned or None


def _parse_date(value: object) -> datetime | None:
    text = _text(value)
    if text is None or len(text) < 19:
        return None
    # "YYYY:MM:DD HH:MM:SS" per EXIF; some tools write dashes or a "T".
    stamp = text[:10].replace("-", ":") + " " + text[11:19]
    try:
        return datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
    except ValueError:  # "0000:00:00 00:00:00", blanks, junk
        return None


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        sub = {}
    for value in (
        sub.get(ExifTags.Base.DateTimeOriginal),
        sub.get(ExifTags.Base.DateTimeDigitized),
        exif.get(ExifTags.Base.DateTime),
    ):
        parsed = _parse_date(value)
        if parsed is not None:
            return parsed
    return None


def _camera(exif: Image.Exif) -> str | None:
    make = _text(exif.get(ExifTags.Base.Make))
    model = _text(exif.get(ExifTags.Base.Model))
    if make is None or model is None:
        return model or make
    # "Canon"/"Canon EOS R5" and "NIKON CORPORATION"/"NIKON D750" both name the make twice.
    if model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}"


def exif_of(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # damaged metadata must not cost us the pixels
        return Image.Exif()


def orientation(exif: Image.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and value in ORIENTATION else 1


def camera_and_date(exif: Image.Exif) -> tuple[datetime | None, str | None]:
    return _taken_at(exif), _camera(exif)


def info_from(size: tuple[int, int], fmt: str, exif: Image.Exif) -> ImageInfo:
    """``size`` is the header's (not the draft's); orientations 5-8 swap it to upright."""
    width, height = size
    if orientation(exif) >= 5:
        width, height = height, width
    gps = position_from_exif(exif)
    position = None if gps is None else (gps.lat, gps.lon)
    return ImageInfo(width, height, fmt, _taken_at(exif), _camera(exif), position)
