"""Decoding a large PNG, TIFF or WebP at reduced size, in a fraction of the memory Pillow
takes, through libvips (pyvips with its binary wheel).

Why: Pillow decodes these formats only at full size, and an index run must stay within its
memory budget (2 GB with a ViT-B/32 model, about 1.5 GB of which is the model). Decoded by
Pillow, a 169-megapixel image took 0.65-1.4 GB as PNG, 1.2 GB as TIFF and 2.7 GB as WebP
(libwebp's animation decoder keeps two canvases, then Pillow copies the frame). libvips
reads a PNG or a striped or tiled TIFF a band of rows at a time, shrinking as it goes
(0.1 GB), and has libwebp decode a lossy WebP straight at the reduced size; a lossless or
animated WebP still needs its full canvas (4 bytes a pixel), which
:func:`core.photos.decoding.decode_cost` counts. Measured with ``bench/run.py memory``.

Only the loaders for these formats are used (libvips' others stay blocked), its cache is
off, and it runs one worker thread per call: the decode pool already has a thread per core.
pyvips is imported on first use, never at start-up; without it Pillow decodes these too,
within the same memory rule.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile

from core.errors import CorruptImageError

FORMATS = frozenset({"PNG", "TIFF", "WEBP"})
"""Decoded here when large: the formats libvips reads lean (or, lossless WebP, leaner)."""
_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I;16B", "I;16L"})
"""Pillow's modes whose pixels libvips gives the same (CMYK, LAB, float: Pillow decodes)."""
_LOADERS = ("VipsForeignLoadPng", "VipsForeignLoadTiff", "VipsForeignLoadWebp")

_setup_lock = threading.Lock()
_vips: Any = None
_unavailable = False


def available() -> bool:
    """Whether libvips is installed and loads (asked only once a large image arrives: the
    import costs about 13 ms). A wheel whose libvips fails to load leaves Pillow the work."""
    global _unavailable
    if _vips is not None:
        return True
    if _unavailable or importlib.util.find_spec("pyvips") is None:
        return False
    try:
        _pyvips()
    except Exception:  # e.g. OSError: the bundled libvips cannot be loaded here
        _unavailable = True
        return False
    return True


def can_shrink(image: ImageFile.ImageFile) -> bool:
    """Whether libvips can decode this opened (not loaded) image at reduced size (the first
    page or frame, as Pillow does). An interlaced PNG is left to Pillow: libvips would have
    to hold all of it too."""
    return (image.format in FORMATS and image.mode in _MODES
            and not image.info.get("interlace") and available())


def _pyvips() -> Any:
    global _vips
    with _setup_lock:
        if _vips is None:
            import pyvips

            pyvips.cache_set_max(0)  # no decoded image is kept after its call
            pyvips.concurrency_set(1)
            pyvips.block_untrusted_set(True)
            pyvips.operation_block_set("VipsForeignLoad", True)
            for loader in _LOADERS:
                pyvips.operation_block_set(loader, False)
            _vips = pyvips
    return _vips


def shrunk_rgb(file: BinaryIO, size: tuple[int, int], fmt: str, *,
               upright: bool = False) -> tuple[Image.Image, bytes | None]:
    """The image in ``file`` decoded to fit ``size`` (as the header's aspect gives it), as
    8-bit RGB with any transparency on white; and the EXIF block libvips found, if any.
    Turned upright by its EXIF orientation only with ``upright`` (Pillow does so itself
    for a TIFF, and gives its size upright)."""
    pyvips = _pyvips()
    source = pyvips.SourceCustom()

    def read(length: int) -> bytes:
        return file.read(length)

    def seek(offset: int, whence: int) -> int:
        return file.seek(offset, whence)

    source.on_read(read)
    source.on_seek(seek)
    file.seek(0)
    try:
        # Load options go in the option string: a cut PNG or WebP fails, as with Pillow
        # (libtiff gives a cut TIFF's missing rows black: it is indexed, as it shows).
        image = pyvips.Image.thumbnail_source(source, size[0], height=size[1], size="down",
                                              no_rotate=not upright,
                                              option_string="fail_on=truncated")
        exif = image.get("exif-data") if image.get_typeof("exif-data") else None
        image = image.colourspace("srgb")  # grey to RGB, 16 bits to 8
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        if image.format != "uchar":
            image = image.cast("uchar")
        pixels = np.ascontiguousarray(image[:3].numpy() if image.bands > 3 else image.numpy())
    except pyvips.Error as error:
        raise CorruptImageError(f"truncated or corrupt {fmt}") from error
    return Image.fromarray(pixels.reshape(pixels.shape[0], pixels.shape[1], 3), "RGB"), exif
