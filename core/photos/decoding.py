"""Opening and decoding the picture formats Pillow reads (JPEG, PNG, WebP, GIF, TIFF, BMP,
HEIF through pillow-heif, AVIF), refusing oversized images from their header.

Every image is held to one memory rule, whatever its format: what decoding it would take
at the peak, estimated from its header (:func:`decode_cost`), must stay within
:data:`MAX_DECODE_BYTES`, or it is refused before decoding, the message naming its size and
that memory. Given the smallest side wanted (``min_side``), a large image is decoded no
larger than that needs: a JPEG through DCT scaling, a PNG, TIFF or WebP through libvips
(core.photos.shrinking), anything else shrunk a band of rows at a time as it is converted.

Pure, thread-safe functions. Every failure on a bad file is an :class:`ImageError` subclass
with a short ``reason``; nothing here touches Pillow's global settings.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import BinaryIO

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
from core.photos import shrinking
from core.photos.exif import ORIENTATION, exif_of, info_from, orientation
from core.photos.rgb import stored_bytes, to_rgb
from core.photos.sizes import declared_size, webp_is_lossy
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

MAX_DECODE_BYTES = 448 * 2**20
"""What decoding one image may take at its peak, by its header's estimate (:func:`decode_cost`),
in every format alike. An index run with a ViT-B/32 model holds about 1.5 GB before any
photo and must stay within 2 GB; the decode pool lets a large image decode alone
(core.sync.preparing). Decoded at reduced size, every JPEG, GIF and (non-interlaced) PNG
up to :data:`MAX_PIXELS` fits, and every lossy WebP; a lossless WebP (libwebp holds its
whole canvas) fits up to about 90 MP, an HEIC up to about 60 MP and an AVIF up to about
50 MP (their decoders have no reduced size). Decoded whole (no ``min_side``) far less fits:
a 120 MP RGBA PNG is refused."""
SHRINK_FROM_PIXELS = 16_000_000
"""Given ``min_side``, an image larger than this is decoded at reduced size; smaller ones
are decoded whole, so their pixels are those transformers' processors see."""
SHRINK_GAP = 3
"""A reduced decode keeps sides of at least this many times ``min_side``: the resize to
the model's size that follows then comes out as from the whole image (Pillow's
``reducing_gap`` of 3; at 1 a box-filtered GIF differed by 5 levels on average)."""
_DECODER_BYTES = {"WEBP": 8.0, "TIFF": 3.0, "HEIF": 3.5, "AVIF": 5.2}
"""Bytes a pixel that a format's decoder holds beside Pillow's image at its peak (measured
at 48-169 MP): libwebp's animation decoder keeps two canvases; libtiff a strip-decoded
copy; libheif and libavif their planes."""
_SHRUNK_BYTES = {"PNG": 1.0, "TIFF": 1.0}
"""Bytes a pixel of the original that libvips takes decoding it at reduced size (measured
0.3-0.8 at 169 MP); a WebP: :func:`_shrunk_webp_bytes`."""
_BAND_BYTES = 64 * 2**20
"""Converting a band of rows to RGB (core.photos.rgb) takes a few copies of the band."""
_FIXED_BYTES = 16 * 2**20
"""Every decode's own small change: buffers, the reduced image."""

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


@dataclass(frozen=True, slots=True)
class _Plan:
    """How an opened image is to be decoded, and the bytes that takes at the peak."""

    cost: int
    reduce: int = 1
    """Pillow decodes whole, then shrinks by this factor while converting to RGB."""
    shrunk: tuple[int, int] | None = None
    """libvips decodes straight to this size instead (core.photos.shrinking)."""


def _plan(image: ImageFile.ImageFile, file: BinaryIO, min_side: int | None) -> _Plan:
    width, height = image.size
    pixels, fmt = width * height, format_name(image)
    if fmt == "JPEG" and min_side and isinstance(image, JpegImagePlugin.JpegImageFile):
        scale = 8  # as draft() picks it: the smallest scale keeping both sides >= min_side
        while scale > 1 and min(width, height) // scale < min_side:
            scale //= 2
        return _Plan(int(pixels / scale**2 * 8) + _coefficient_bytes(image) + _FIXED_BYTES)
    reduce = 1
    if min_side and pixels > SHRINK_FROM_PIXELS:
        reduce = max(1, min(width, height) // (SHRINK_GAP * min_side))
    if reduce > 1 and shrinking.can_shrink(image):
        per_pixel = (_shrunk_webp_bytes(file) if fmt == "WEBP" else _SHRUNK_BYTES[fmt])
        size = (-(-width // reduce), -(-height // reduce))
        return _Plan(int(pixels * per_pixel) + _FIXED_BYTES, shrunk=size)
    decoded = stored_bytes(image.mode) + _DECODER_BYTES.get(fmt, 0.0)
    converted = 0 if image.mode == "RGB" else _BAND_BYTES + 4 * pixels // reduce**2
    return _Plan(int(pixels * decoded) + converted + _FIXED_BYTES, reduce=reduce)


def _coefficient_bytes(image: ImageFile.ImageFile) -> int:
    """A progressive JPEG is decoded from a buffer of every DCT coefficient of the whole
    image (2 bytes a sample), whatever the scale it is drawn at; a baseline one needs none."""
    if not (image.info.get("progressive") or image.info.get("progression")):
        return 0
    bands = len(image.getbands())
    # chroma samples per pixel: 4:4:4 all, 4:2:2 half, 4:2:0 a quarter (YCbCr only)
    chroma = {1: 0.5, 2: 0.25}.get(JpegImagePlugin.get_sampling(image), 1.0) if bands == 3 \
        else 1.0
    return int(image.width * image.height * 2 * (1 + (bands - 1) * chroma))


def _shrunk_webp_bytes(file: BinaryIO) -> float:
    """A lossy WebP is decoded at the reduced size itself; a lossless or animated one needs
    its whole canvas, 4 bytes a pixel (measured 4.4 at 169 MP)."""
    file.seek(0)
    return 0.25 if webp_is_lossy(file) else 5.0


def decode_cost(source: Source, *, min_side: int | None = None) -> int:
    """Bytes decoding ``source`` takes at its peak, estimated from its header, as
    :func:`decode_oriented` with this ``min_side`` would decode it. Raises like
    :func:`open_checked`."""
    file = _as_file(source)
    return _plan(open_checked(file), file, min_side).cost


def _check_memory(size: tuple[int, int], cost: int) -> None:
    if cost > MAX_DECODE_BYTES:
        raise ImageTooLargeError(
            f"image too large: {size[0]}x{size[1]} pixels would take about "
            f"{cost // 2**20} MB of memory to decode (the limit is {MAX_DECODE_BYTES // 2**20} MB)")


def _decoded_rgb(image: ImageFile.ImageFile, fmt: str, reduce: int = 1) -> Image.Image:
    """Decode inside try, so truncated or damaged files raise CorruptImageError."""
    try:
        image.load()
        return to_rgb(image, reduce=reduce)
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
    file = _as_file(source)
    image = open_checked(file)
    size, fmt = image.size, format_name(image)
    plan = _plan(image, file, min_side)
    _check_memory(size, plan.cost)
    if plan.shrunk is not None:
        exif = exif_of(image) if fmt != "PNG" or "exif" in image.info else None
        if fmt == "TIFF" and exif is not None:  # Pillow turns a TIFF upright as it loads
            exif.pop(ExifTags.Base.Orientation, None)
        del image  # a WebP's holds the whole file, and libvips reads it again
        rgb, exif = _shrunk(file, plan.shrunk, fmt, exif)
    else:
        if plan.reduce > 1:
            rgb = _decoded_rgb(image, fmt, plan.reduce)
        else:
            if min_side and isinstance(image, JpegImagePlugin.JpegImageFile):
                image.draft("RGB", (min_side, min_side))
            rgb = _decoded_rgb(image, fmt)
        exif = exif_of(image)  # after load: PNG may keep its eXIf chunk behind the pixels
    turned = orientation(exif)
    if turned != 1:
        rgb = rgb.transpose(ORIENTATION[turned])
    return rgb, info_from(size, fmt, exif), turned != 1


def _shrunk(file: BinaryIO, size: tuple[int, int], fmt: str,
            exif: Image.Exif | None) -> tuple[Image.Image, Image.Exif]:
    """libvips' reduced decode, with the EXIF Pillow read from the header, or else the one
    libvips found (a PNG's ``eXIf`` chunk behind its pixels: Pillow would decode to reach it)."""
    rgb, block = shrinking.shrunk_rgb(file, size, fmt, upright=fmt == "TIFF")
    if exif is None:
        exif = Image.Exif()
        if block:
            try:
                exif.load(block)
            except Exception:  # damaged metadata must not cost us the pixels
                exif = Image.Exif()
    return rgb, exif


def header_info(image: ImageFile.ImageFile) -> ImageInfo:
    """What an opened (not yet decoded) image's header and EXIF say."""
    return info_from(image.size, format_name(image), exif_of(image))
