"""Safe, fast decoding of user photos into the pixels a CLIP-family model needs.

Pure, thread-safe functions. Every failure on a bad file is an :class:`ImageError` subclass
with a short ``reason``; nothing here crashes, prints or touches Pillow's global settings.
A photo comes as bytes or as a file opened by :func:`core.photos.reading.open_photo` (decoded
from the file: only what the format needs is read). Pillow's warnings about a file become
one log line (core.photos.file_warnings).
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import (  # noqa: F401  (importing a plugin registers it with Image.OPEN)
    AvifImagePlugin,
    BmpImagePlugin,
    ExifTags,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
    features,
)

from core.errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedFormatError
from core.photos import reading
from core.photos.file_warnings import one_line_per_file
from core.photos.raw import AVAILABLE as _RAW
from core.photos.raw import RAW_EXTENSIONS, decode_raw, is_raw
from core.photos.sizes import declared_size
from core.types import ImageInfo

Pixels = npt.NDArray[np.uint8]
Source = bytes | BinaryIO
"""A photo's bytes, or the photo file opened for reading (see core.photos.reading)."""

MAX_PIXELS = 178_956_970
"""Refused from the header, before decoding, in every format alike: a 151 MP medium-format
photo passes, a 15000x15000 (225 MP) image or a 40000x40000 bomb does not. This is Pillow's
own hard limit (twice its ``MAX_IMAGE_PIXELS``, process-wide, which Pictor leaves alone):
its WebP, TIFF and GIF plugins refuse anything larger themselves, so no format may have a
higher one. Decoded as RGB, such an image is 716 MB (Pillow keeps 4 bytes a pixel)."""
MAX_JPEG_PIXELS = 250_000_000
"""A JPEG is decoded at 1/8 scale for the model and for thumbnails (a 200 MP phone photo,
16320x12240, costs 94 MB), and Pillow's JPEG plugin has no limit of its own: phones that
shoot 200 MP save JPEG, so JPEG keeps the limit every format had before."""

# Same table as ImageOps.exif_transpose; we also need the value itself for ImageInfo.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

_heif_lock = threading.Lock()
_heif_available: bool | None = None


def register_heif() -> bool:
    """Register pillow-heif's opener once; return whether HEIF/HEIC files can be read."""
    global _heif_available
    with _heif_lock:
        if _heif_available is None:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener(thumbnails=False)
                _heif_available = True
            except Exception:  # missing or broken wheel: HEIF files are then unsupported
                _heif_available = False
        return _heif_available


_HEIF = register_heif()
_AVIF = bool(features.check("avif"))  # Pillow's own AVIF plugin, when built with libavif
# Tried in this order; HEIF before AVIF because both accept the generic "mif1" brand.
_FORMAT_ORDER = (
    ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
    + (("HEIF",) if _HEIF else ())
    + (("AVIF",) if _AVIF else ())
)
ALLOWED_FORMATS: frozenset[str] = frozenset(_FORMAT_ORDER)
PHOTO_EXTENSIONS: frozenset[str] = frozenset(
    [".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"]
    + ([".heic", ".heif", ".hif"] if _HEIF else [])
    + ([".avif"] if _AVIF else [])
    + (sorted(RAW_EXTENSIONS) if _RAW else [])
)


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


# --- opening --------------------------------------------------------------------------

# Formats with a real signature, named in the refusal message; anything else is "unknown".
_NAMED_OTHERS = ("PSD", "ICO", "CUR", "ICNS", "EPS", "JPEG2000", "PPM", "QOI", "DDS", "PCX")


def _as_file(source: Source) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _open(source: BinaryIO) -> ImageFile.ImageFile:
    """Identify ``source`` among the allowed formats only, reading just the header.

    Like ``Image.open(fp, formats=...)`` minus its decompression-bomb check, which warns
    from 89 MP and refuses from 179 MP; we apply MAX_PIXELS instead, without changing
    Pillow's process-wide MAX_IMAGE_PIXELS.
    """
    source.seek(0)
    head = source.read(32)
    claimed: str | None = None
    for fmt in _FORMAT_ORDER:
        factory, accept = Image.OPEN[fmt]
        verdict = True if accept is None else accept(head[:16])
        if not verdict or isinstance(verdict, str):  # a str says "mine, but not compiled in"
            continue
        claimed = claimed or fmt
        _check_size(declared_size(fmt, head, source), fmt)
        try:
            source.seek(0)
            return factory(source, "")
        except (Image.DecompressionBombError, MemoryError):
            raise
        except Exception:  # plugins say "not mine / broken header" in many ways
            continue
    if claimed is not None:
        raise CorruptImageError(f"truncated or corrupt {claimed}")
    raise _refusal(source)


def _check_size(size: tuple[int, int] | None, fmt: str) -> None:
    limit = MAX_JPEG_PIXELS if fmt in ("JPEG", "MPO") else MAX_PIXELS
    if size is not None and size[0] * size[1] > limit:
        raise ImageTooLargeError(f"image too large: {size[0]}x{size[1]} pixels")


def _refusal(source: BinaryIO) -> ImageError:
    """Name the format when Pillow knows it, so the user learns why the file is refused."""
    try:
        source.seek(0)
        with Image.open(source, formats=_NAMED_OTHERS) as other:
            return UnsupportedFormatError(f"unsupported format: {other.format}")
    except Image.DecompressionBombError:
        return UnsupportedFormatError("unsupported format")
    except Exception:
        return CorruptImageError("not an image (unknown format)")


def _open_checked(source: BinaryIO) -> ImageFile.ImageFile:
    try:
        image = _open(source)
    except Image.DecompressionBombError as exc:  # Pillow's own guard (MAX_PIXELS is first)
        raise ImageTooLargeError("image too large") from exc
    except MemoryError as exc:
        raise ImageTooLargeError("not enough memory to open the image") from exc
    width, height = image.size
    _check_size((width, height), str(image.format))
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"invalid image size: {width}x{height}")
    return image


def _format_name(image: Image.Image) -> str:
    # Pillow reports multi-picture JPEGs (phones, 3D cameras) as MPO; they are JPEG files.
    return "JPEG" if image.format == "MPO" else str(image.format)


# --- metadata -------------------------------------------------------------------------


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


def _exif(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # damaged metadata must not cost us the pixels
        return Image.Exif()


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and value in _ORIENTATION else 1


def camera_and_date(exif: Image.Exif) -> tuple[datetime | None, str | None]:
    return _taken_at(exif), _camera(exif)


def _info(size: tuple[int, int], fmt: str, exif: Image.Exif) -> ImageInfo:
    """``size`` is the header's (not the draft's); orientations 5-8 swap it to upright."""
    width, height = size
    if _orientation(exif) >= 5:
        width, height = height, width
    return ImageInfo(width, height, fmt, _taken_at(exif), _camera(exif))


# --- pixels ---------------------------------------------------------------------------


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


def _decoded_rgb(image: ImageFile.ImageFile, fmt: str) -> Image.Image:
    """Decode inside try, so truncated or damaged files raise CorruptImageError."""
    try:
        image.load()
        return to_rgb(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard inside TIFF and GIF
        raise ImageTooLargeError(f"image too large: {image.width}x{image.height} pixels") from exc
    except MemoryError as exc:
        raise ImageTooLargeError(f"not enough memory for {image.width}x{image.height}") from exc
    except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError, ...
        raise CorruptImageError(f"truncated or corrupt {fmt}") from exc


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


def decode_oriented(source: Source, *,
                    min_side: int | None = None) -> tuple[Image.Image, ImageInfo, bool]:
    """:func:`decode` for the allowed formats, and whether EXIF turned or flipped it."""
    image = _open_checked(_as_file(source))
    size, fmt = image.size, _format_name(image)
    if min_side and isinstance(image, JpegImagePlugin.JpegImageFile):
        image.draft("RGB", (min_side, min_side))
    rgb = _decoded_rgb(image, fmt)
    exif = _exif(image)  # after load: PNG may keep its eXIf chunk behind the pixels
    orientation = _orientation(exif)
    if orientation != 1:
        rgb = rgb.transpose(_ORIENTATION[orientation])
    return rgb, _info(size, fmt, exif), orientation != 1


def read_info(path: str | PathLike[str]) -> ImageInfo:
    """Size, format, date and camera of a photo file, from its header (a RAW is read whole).
    Only a regular file within its size cap is read (core.photos.reading)."""
    with reading.open_photo(path) as file, one_line_per_file(path):
        if is_raw(path):
            return decode_raw(reading.read_all(file), min_side=None, max_pixels=MAX_PIXELS)[1]
        image = _open_checked(file)
        return _info(image.size, _format_name(image), _exif(image))


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
