"""One pixel limit for every format, checked from the header; large images converted lean.

A 225-megapixel WebP used to be refused by Pillow's own guard without its size while a PNG
or GIF of the same size was decoded (2.8 GB for two at once); now every format is refused
from its header, naming the size, and anything larger than Pillow's guard allows in any
of its plugins is over the limit. The command-line view: tests/e2e/test_hostile_files_cli.py.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageTooLargeError
from core.photos import reading, rgb
from core.photos.decoding import MAX_PIXELS
from core.photos.imaging import decode, read_info
from core.photos.rgb import to_rgb
from tests.support import odd_files

GIANT = "15000x15000"


def test_the_limit_is_one_every_pillow_plugin_accepts() -> None:
    # Pillow's WebP, TIFF and GIF plugins refuse more than twice MAX_IMAGE_PIXELS
    # themselves: a higher limit would hold for some formats only.
    assert 2 * (Image.MAX_IMAGE_PIXELS or 0) >= MAX_PIXELS
    assert MAX_PIXELS >= 151_000_000  # a 150 MP medium-format photo (14204x10652) passes


@pytest.mark.parametrize("write", list(odd_files.GIANT_WRITERS.values()),
                         ids=list(odd_files.GIANT_WRITERS))
def test_every_format_is_refused_alike_from_its_header(
    tmp_path: Path, write: Callable[[Path], Path]
) -> None:
    path = write(tmp_path / "giant")
    started = time.perf_counter()
    with reading.open_photo(path) as file, pytest.raises(ImageTooLargeError) as caught:
        decode(file, min_side=224, name=path)
    assert caught.value.reason == f"image too large: {GIANT} pixels"
    with pytest.raises(ImageTooLargeError, match=GIANT):
        read_info(path)
    assert time.perf_counter() - started < 2  # nothing was decoded


def test_a_gif_frame_beyond_its_screen_is_measured_with_the_frame(tmp_path: Path) -> None:
    data = bytearray((odd_files.giant_gif(tmp_path / "g.gif", (10, 10))).read_bytes())
    frame = data.index(b",", 13)  # the image descriptor after the colour table
    data[frame + 1: frame + 9] = struct.pack("<HHHH", 100, 0, 15_000, 15_000)
    with pytest.raises(ImageTooLargeError) as caught:
        decode(bytes(data))
    assert caught.value.reason == "image too large: 15100x15000 pixels"


def test_an_extended_webp_is_refused_before_its_canvas_is_allocated() -> None:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4 + (15_000 - 1).to_bytes(3, "little") \
        + (15_000 - 1).to_bytes(3, "little")
    with pytest.raises(ImageTooLargeError) as caught:
        decode(b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    assert caught.value.reason == f"image too large: {GIANT} pixels"


def _modes() -> dict[str, Image.Image]:
    rng = np.random.default_rng(7)
    rgba = Image.fromarray(rng.integers(0, 256, (50, 64, 4), np.uint8), "RGBA")
    palette = rgba.convert("RGB").quantize(32)
    palette.info["transparency"] = 3
    deep = rng.integers(0, 65536, (50, 64)).astype(np.uint16)
    floats = rng.normal(0.5, 0.3, (50, 64)).astype(np.float32)
    floats[3, 4] = np.nan
    return {
        "RGBA": rgba, "LA": rgba.convert("LA"), "P+transparency": palette,
        "L": rgba.convert("L"), "1": rgba.convert("1"), "CMYK": rgba.convert("CMYK"),
        "I;16": Image.fromarray(deep), "I": Image.fromarray(deep.astype(np.int32)),
        "F": Image.fromarray(floats), "F wide": Image.fromarray(floats * 1000),
    }


@pytest.mark.parametrize("mode", list(_modes()))
def test_a_large_image_converted_in_bands_has_the_same_pixels(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _modes()[mode]
    whole = np.asarray(to_rgb(image))
    monkeypatch.setattr(rgb, "_BAND_PIXELS", 997)  # 15 rows a band, the last one short
    banded = to_rgb(image)
    assert banded.mode == "RGB" and banded.size == image.size
    assert np.array_equal(np.asarray(banded), whole)


def test_a_200_megapixel_phone_jpeg_is_still_decoded_at_reduced_size() -> None:
    """Phones that shoot 200 MP (16320x12240) save JPEG, which decodes at 1/8 scale."""
    import io

    from core.photos.decoding import MAX_JPEG_PIXELS

    assert MAX_JPEG_PIXELS >= 16320 * 12240 > MAX_PIXELS
    buffer = io.BytesIO()
    Image.new("L", (16320, 12240), 120).save(buffer, "JPEG", quality=50)  # 200 MB, not 600
    picture, info = decode(buffer.getvalue(), min_side=224)
    assert (info.width, info.height) == (16320, 12240)
    assert max(picture.size) <= 16320 // 4  # reduced while decoding, never full size
