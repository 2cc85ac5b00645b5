"""Any Pillow mode to 8-bit RGB: transparency on white, 16/32-bit greyscale scaled down,
large images a band of rows at a time so memory stays near the size of the result (and,
when asked, shrunk band by band, so a large image never exists as full-size RGB)."""

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


_TWO_BYTES = frozenset({"LA", "La", "PA", "I;16", "I;16B", "I;16L", "I;16N"})


def stored_bytes(mode: str) -> int:
    """Bytes a pixel Pillow keeps for an image of ``mode`` (RGB too takes 4)."""
    return 1 if mode in ("1", "L", "P") else 2 if mode in _TWO_BYTES else 4


_BAND_PIXELS = 1 << 22
"""Beyond this many pixels (4 MP), :func:`to_rgb` converts a band of rows at a time."""


def _bands(image: Image.Image, multiple: int = 1) -> list[tuple[int, int, int, int]]:
    rows = max(multiple, _BAND_PIXELS // max(1, image.width) // multiple * multiple)
    return [(0, top, image.width, min(image.height, top + rows))
            for top in range(0, image.height, rows)]


def to_rgb(image: Image.Image, *, reduce: int = 1) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white, as transformers does.

    A large image is converted a band of rows at a time into one RGB image: the same
    pixels (every step is per pixel), without full-size RGBA and float copies (a 179 MP
    palette PNG with transparency took 2.9 GB of memory, 0.9 GB so). ``reduce`` > 1 shrinks
    it by that factor as well (``Image.reduce``: each pixel the mean of a ``reduce`` x
    ``reduce`` block), band by band: bands hold whole blocks, so the pixels are those of
    reducing the whole image, and a 169 MP GIF takes 0.2 GB instead of 0.8."""
    if image.mode == "RGB":
        return image if reduce <= 1 else image.reduce(reduce)
    high_depth = image.mode.startswith("I") or image.mode == "F"
    peak = _high_depth_peak(image) if high_depth and not image.mode.startswith("I;16") else 0.0
    if image.width * image.height <= _BAND_PIXELS:
        whole = _converted(image, peak)
        return whole if reduce <= 1 else whole.reduce(reduce)
    reduce = max(1, reduce)
    out = Image.new("RGB", (-(-image.width // reduce), -(-image.height // reduce)))
    for box in _bands(image, reduce):
        band = _converted(image.crop(box), peak)
        out.paste(band if reduce == 1 else band.reduce(reduce), (0, box[1] // reduce))
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
