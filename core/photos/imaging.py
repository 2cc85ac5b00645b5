"""A photo file to what the model needs: the one entry point for decoding any photo
(Pillow's formats through core.photos.decoding, camera RAWs through core.photos.raw), and
the resizing, cropping and NaFlex patching that turn the picture into a model's input.

Pure, thread-safe functions. A photo comes as bytes or as a file opened by
:func:`core.photos.reading.open_photo` (decoded from the file: only what the format needs
is read). Pillow's warnings about a file become one log line (core.photos.file_warnings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.photos import reading
from core.photos.decoding import MAX_PIXELS, Source, decode_oriented, header_info, open_checked
from core.photos.file_warnings import one_line_per_file
from core.photos.formats import is_raw
from core.photos.raw import decode_raw
from core.photos.rgb import to_rgb
from core.types import ImageInfo

Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ModelInput:
    """How a model wants its pixels.

    ``crop=True``: shortest edge to ``size`` then a centred ``size``x``size`` crop (CLIP).
    ``crop=False``: squash straight to ``size``x``size`` (SigLIP).
    ``max_patches``: SigLIP 2 NaFlex. The photo keeps its shape, resized so that at most
    this many ``patch``-pixel squares cover it (``size`` is then only how many pixels to
    decode); see :func:`to_model_pixels` for the array it gives.
    """

    size: int
    crop: bool = True
    resample: Image.Resampling = Image.Resampling.BICUBIC
    patch: int = 0
    max_patches: int = 0

    @property
    def naflex(self) -> bool:
        return self.max_patches > 0


def decode(source: Source, *, min_side: int | None = None,
           name: str | PathLike[str] | None = None) -> tuple[Image.Image, ImageInfo]:
    """Decode a photo to an upright RGB image plus what its header and EXIF say.

    With ``min_side`` a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale whose sides
    stay >= ``min_side`` (DCT scaling: several times faster on 12 MP). ``ImageInfo``
    always describes the full-size, upright original. ``name`` (the file's name) tells a
    camera RAW, which goes through core.photos.raw, from the TIFF it often resembles.
    """
    with one_line_per_file(name if name is not None else "an image"):
        if name is not None and is_raw(name):
            data = source if isinstance(source, bytes) else reading.read_all(source)
            return decode_raw(data, min_side=min_side, max_pixels=MAX_PIXELS)
        image, info, _ = decode_oriented(source, min_side=min_side)
        return image, info


def decode_path(path: str | PathLike[str], *,
                min_side: int | None = None) -> tuple[Image.Image, ImageInfo]:
    """:func:`decode` of a file on disk, opened safely (core.photos.reading: a regular file within
    its size cap; a FIFO or device is refused, never opened)."""
    with reading.open_photo(path) as file:
        return decode(file, min_side=min_side, name=path)


def read_info(path: str | PathLike[str]) -> ImageInfo:
    """Size, format, date and camera of a photo file, from its header (a RAW is read whole).
    Only a regular file within its size cap is read (core.photos.reading)."""
    with reading.open_photo(path) as file, one_line_per_file(path):
        if is_raw(path):
            return decode_raw(reading.read_all(file), min_side=None, max_pixels=MAX_PIXELS)[1]
        return header_info(open_checked(file))


# --- model input ----------------------------------------------------------------------


_MAX_STRIP = 4
"""Past this aspect ratio the crop is resampled alone (a 100:1 strip would balloon)."""


def _resize_plan(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """Transformers' shortest-edge size and crop offsets: ``(new_w, new_h, left, top)``.

    ``new_long = int(size * long / short)`` as ``get_resize_output_image_size`` and
    ``top = int((new_h - size) / 2)`` as ``center_crop``.
    """
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if width <= height else (new_long, size)
    return new_w, new_h, (new_w - size) // 2, (new_h - size) // 2


def naflex_size(height: int, width: int, patch: int, max_patches: int) -> tuple[int, int]:
    """The (height, width) SigLIP 2 NaFlex resizes a photo to: the largest scale (found by
    bisection, as transformers' ``get_image_size_for_max_num_patches`` does) whose sides,
    rounded up to whole patches, hold at most ``max_patches`` patches."""

    def side(scale: float, size: int) -> int:
        return max(patch, math.ceil(size * scale / patch) * patch)

    low, high = 1e-6, 100.0
    while high - low >= 1e-5:
        scale = (low + high) / 2
        if side(scale, height) * side(scale, width) <= max_patches * patch * patch:
            low = scale
        else:
            high = scale
    return side(low, height), side(low, width)


def naflex_pixels(rgb: Image.Image, spec: ModelInput) -> Pixels:
    """A photo as NaFlex patches in one fixed-shape uint8 array, so batches stack like
    every other model's: ``(max_patches + 1, patch * patch * 3)``, the patches row by row
    (each patch's pixels row by row, RGB), zeros after them, and in the last row the
    patch grid's height and width as little-endian uint16."""
    p = spec.patch
    height, width = naflex_size(rgb.height, rgb.width, p, spec.max_patches)
    resized = np.asarray(rgb.resize((width, height), spec.resample, reducing_gap=None))
    rows, cols = height // p, width // p
    patches = resized.reshape(rows, p, cols, p, 3).transpose(0, 2, 1, 3, 4)
    out = np.zeros((spec.max_patches + 1, p * p * 3), np.uint8)
    out[: rows * cols] = patches.reshape(rows * cols, p * p * 3)
    out[-1, :4] = np.frombuffer(np.array([rows, cols], "<u2").tobytes(), np.uint8)
    return out


def naflex_unpack(pixels: Pixels) -> tuple[Pixels, npt.NDArray[np.int64]]:
    """A batch of :func:`naflex_pixels` arrays: the patches ``(n, max_patches, p*p*3)`` and
    each photo's patch grid ``(n, 2)`` (rows, columns)."""
    shapes = pixels[:, -1, :4].copy().view("<u2").astype(np.int64)
    return pixels[:, :-1], shapes


def to_model_pixels(image: Image.Image, spec: ModelInput) -> Pixels:
    """Resize (and centre-crop) to a C-contiguous uint8 array of shape (size, size, 3)
    (NaFlex: see :func:`naflex_pixels`).

    Pixel-identical to transformers' PIL CLIP/SigLIP processors for the same RGB image.
    """
    if spec.naflex:
        return naflex_pixels(to_rgb(image), spec)
    rgb, size = to_rgb(image), spec.size
    if not spec.crop:
        return np.array(rgb.resize((size, size), spec.resample, reducing_gap=None))
    new_w, new_h, left, top = _resize_plan(rgb.width, rgb.height, size)
    if max(new_w, new_h) <= _MAX_STRIP * size:
        resized = rgb.resize((new_w, new_h), spec.resample, reducing_gap=None)
        return np.array(resized.crop((left, top, left + size, top + size)))
    # Resample only the crop's source box; the filter still reads pixels just outside it,
    # so this differs from resize-then-crop by float rounding only (at most 1 level).
    sx, sy = rgb.width / new_w, rgb.height / new_h
    box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
    return np.array(rgb.resize((size, size), spec.resample, box=box, reducing_gap=None))


def load_for_model(source: Source, spec: ModelInput,
                   name: str | PathLike[str] | None = None) -> tuple[Pixels, ImageInfo]:
    """Decode only as many pixels as ``spec`` needs and return the model's input array."""
    image, info = decode(source, min_side=spec.size, name=name)
    return to_model_pixels(image, spec), info
