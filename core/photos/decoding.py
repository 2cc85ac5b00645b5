"""Opening and decoding the picture formats Pillow reads (JPEG, PNG, WebP, GIF, TIFF, BMP,
HEIF through pillow-heif, AVIF), refusing oversized images from their header.

Pure, thread-safe functions. Every failure on a bad file is an :class:`ImageError` subclass
with a short ``reason``; nothing here touches Pillow's global settings.
"""

from __future__ import annotations

import io
import threading
from typing import BinaryIO

from PIL import (  # noqa: F401  (importing a plugin registers it with Image.OPEN)
    AvifImagePlugin,
    BmpImagePlugin,
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
from core.photos.exif import ORIENTATION, exif_of, info_from, orientation
from core.photos.rgb import to_rgb
from core.photos.sizes import declared_size
from core.types import ImageInfo

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


def open_checked(source: BinaryIO) -> ImageFile.ImageFile:
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


def format_name(image: Image.Image) -> str:
    # Pillow reports multi-picture JPEGs (phones, 3D cameras) as MPO; they are JPEG files.
    return "JPEG" if image.format == "MPO" else str(image.format)


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


def decode_oriented(source: Source, *,
                    min_side: int | None = None) -> tuple[Image.Image, ImageInfo, bool]:
    """:func:`decode` for the allowed formats, and whether EXIF turned or flipped it."""
    image = open_checked(_as_file(source))
    size, fmt = image.size, format_name(image)
    if min_side and isinstance(image, JpegImagePlugin.JpegImageFile):
        image.draft("RGB", (min_side, min_side))
    rgb = _decoded_rgb(image, fmt)
    exif = exif_of(image)  # after load: PNG may keep its eXIf chunk behind the pixels
    turned = orientation(exif)
    if turned != 1:
        rgb = rgb.transpose(ORIENTATION[turned])
    return rgb, info_from(size, fmt, exif), turned != 1




def header_info(image: ImageFile.ImageFile) -> ImageInfo:
    """What an opened (not yet decoded) image's header and EXIF say."""
    return info_from(image.size, format_name(image), exif_of(image))
