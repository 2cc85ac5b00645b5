"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, …) through LibRaw (rawpy).

A RAW holds the sensor's data plus, almost always, a JPEG the camera made of it (the
"embedded preview", often full size). Pictor only needs a few hundred pixels a side, so it
uses that preview, as photo browsers do, and develops the sensor data (half size, camera
white balance) only when there is no usable preview. The file is only read.

A RAW that sits beside a JPEG or HEIF of the same name (a camera set to RAW+JPEG) is not
indexed on its own: the camera's JPEG stands for it, as in most photo managers
(:func:`has_developed_sibling`); when that JPEG comes or goes, the indexer drops or adds
the RAW (:func:`raw_siblings`).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from core.errors import CorruptImageError, ImageTooLargeError, UnsupportedFormatError
from core.photos.decoding import decode_oriented
from core.photos.exif import camera_and_date
from core.types import ImageInfo

# LibRaw's sizes.flip: 3 = upside down, 5 = turned left, 6 = turned right.
_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90,
         6: Image.Transpose.ROTATE_270}


def _rawpy() -> Any | None:
    try:
        import rawpy
    except ImportError:  # an install without the wheel: RAW files are then not photos
        return None
    return rawpy


AVAILABLE = _rawpy() is not None


def decode_raw(data: bytes, *, min_side: int | None,
               max_pixels: int) -> tuple[Image.Image, ImageInfo]:
    """The upright RGB picture of a RAW and what it says about itself. An embedded JPEG
    preview is decoded as any JPEG is (draft scaling to ``min_side``, EXIF orientation)."""
    rawpy = _rawpy()
    if rawpy is None:
        raise UnsupportedFormatError("RAW files need the rawpy package (pip install rawpy)")
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            if sizes.width * sizes.height > max_pixels:
                raise ImageTooLargeError(f"image too large: {sizes.width}x{sizes.height} pixels")
            flip = int(sizes.flip)
            width, height = (sizes.height, sizes.width) if flip in (5, 6) else (sizes.width,
                                                                                sizes.height)
            picture, preview = _from_preview(raw, rawpy, flip, min_side)
            if picture is None:  # no preview, or too small: develop the sensor data
                developed = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                picture = Image.fromarray(developed, "RGB")
    except (ImageTooLargeError, UnsupportedFormatError, CorruptImageError):
        raise
    except rawpy.LibRawFileUnsupportedError as error:
        raise UnsupportedFormatError("unsupported or damaged RAW file") from error
    except MemoryError as error:
        raise ImageTooLargeError("not enough memory to develop the RAW file") from error
    except Exception as error:  # LibRaw's I/O and data errors, damaged structures
        raise CorruptImageError("truncated or corrupt RAW file") from error
    taken_at, camera = _metadata(data)
    if preview is not None:  # CR3, RAF: the embedded JPEG carries the camera's EXIF
        taken_at, camera = taken_at or preview.taken_at, camera or preview.camera
    return picture, ImageInfo(width, height, "RAW", taken_at, camera)


def _from_preview(raw: Any, rawpy: Any, flip: int,
                  min_side: int | None) -> tuple[Image.Image | None, ImageInfo | None]:
    """The embedded preview, upright, and what its own EXIF says (a JPEG preview's)."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, None
    info: ImageInfo | None = None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            picture, info, turned = decode_oriented(bytes(thumb.data), min_side=min_side)
        except Exception:  # a damaged preview: the sensor data may still be fine
            return None, None
        full = (info.width, info.height)
    else:  # an RGB bitmap
        picture = Image.fromarray(thumb.data).convert("RGB")
        turned, full = False, picture.size
    if min_side and min(full) < min_side:
        return None, info  # a 160x120 thumbnail would blur what the model sees
    if not turned and flip in _FLIP:  # previews are stored as the sensor saw them
        picture = picture.transpose(_FLIP[flip])
    return picture, info


def _metadata(data: bytes) -> tuple[Any, str | None]:
    """Date and camera from the EXIF of TIFF-based RAWs (DNG, CR2, NEF, ARW, …)."""
    factory, accept = Image.OPEN["TIFF"]
    if accept is not None and not accept(data[:16]):
        return None, None  # CR3, RAF and others are not TIFF: no date from here
    try:  # the plugin itself: Image.open would warn about the size of a RAW's sensor IFD
        with factory(io.BytesIO(data), "") as header:
            return camera_and_date(header.getexif())
    except Exception:
        return None, None
