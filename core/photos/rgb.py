"""Any Pillow mode to 8-bit RGB: transparency on white, 16/32-bit greyscale scaled down,
large images a band of rows at a time so memory stays near the size of the result."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.errors import UnsupportedFormatError

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def _high_depth_peak(image: Image.Image) -> float:
    """The largest value of an "I"/"F" image (NaN as 0), a band of rows at a time."""
    peaks: list[float] = []
    for box in _bands(image):
        floats = np.nan_to_num(np.asarray(image.crop(box)).astype(np.float32))
        if floats.size:
            peaks.append(float(floats.max()))
    return max(peaks, default=0.0)


def _high_depth_to_l(image: Image.Image, peak: float) -> Image.Image:
    """Scale 16/32-bit greyscale to 8 bits; Pillow's convert("L") clips at 255 instead.
    ``peak``: the whole image's largest value (:func:`_high_depth_peak`; unused for I;16)."""
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        return Image.fromarray((values >> 8).astype(np.uint8), "L")
    floats = np.nan_to_num(values.astype(np.float32))
    if image.mode == "F" and peak <= 1.0:
        full = 1.0
    else:  # "I"/"F" carry no nominal range: guess 8 or 16 bits, else stretch to the peak
        full = 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else peak
    scaled = np.clip(floats, 0.0, full) * (255.0 / full) + 0.5
    return Image.fromarray(scaled.astype(np.uint8), "L")


_BAND_PIXELS = 1 << 22
"""Beyond this many pixels (4 MP), :func:`to_rgb` converts a band of rows at a time."""


def _bands(image: Image.Image) -> list[tuple[int, int, int, int]]:
    rows = max(1, _BAND_PIXELS // max(1, image.width))
    return [(0, top, image.width, min(image.height, top + rows))
            for top in range(0, image.height, rows)]


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white, as transformers does.

    A large image is converted a band of rows at a time into one RGB image: the same
    pixels (every step is per pixel), without full-size RGBA and float copies (a 179 MP
    palette PNG with transparency took 2.9 GB of memory, 0.9 GB so)."""
    if image.mode == "RGB":
        return image
    high_depth = image.mode.startswith("I") or image.mode == "F"
    peak = _high_depth_peak(image) if high_depth and not image.mode.startswith("I;16") else 0.0
    if image.width * image.height <= _BAND_PIXELS:
        return _converted(image, peak)
    out = Image.new("RGB", image.size)
    for box in _bands(image):
        out.paste(_converted(image.crop(box), peak), box[:2])
    return out


def _converted(image: Image.Image, peak: float) -> Image.Image:
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_to_l(image, peak).convert("RGB")
    try:
        if image.mode in _ALPHA_MODES or image.info.get("transparency") is not None:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as exc:  # e.g. LAB TIFFs: Pillow has no conversion
        raise UnsupportedFormatError(f"unsupported color mode: {image.mode}") from exc
