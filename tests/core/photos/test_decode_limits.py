"""One pixel limit and one memory limit for every format, checked from the header; large
images decoded small and converted lean.

A 225-megapixel WebP used to be refused by Pillow's own guard without its size while a PNG
or GIF of the same size was decoded (2.8 GB for two at once); now every format is refused
from its header, naming the size, and anything larger than Pillow's guard allows in any
of its plugins is over the limit. Below it, what decoding would take is estimated from the
header, by the route the image will take, and held to one memory limit: a large PNG, TIFF
or WebP is decoded at reduced size by libvips, any other shrunk band by band (a 169 MP
WebP took 2.7 GB through Pillow, a 144 MP grey PNG 0.8 GB), and what still needs more (a
lossless WebP's whole canvas) is refused, naming its size and that memory. The command-line
view: tests/e2e/test_hostile_files_cli.py; the index run's: bench/run.py memory.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import CorruptImageError, ImageTooLargeError
from core.photos import decoding, reading, rgb, shrinking
from core.photos.decoding import MAX_DECODE_BYTES, MAX_PIXELS, decode_cost
from core.photos.imaging import ModelInput, decode, read_info, to_model_pixels
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
    from core.photos.decoding import MAX_JPEG_PIXELS

    assert MAX_JPEG_PIXELS >= 16320 * 12240 > MAX_PIXELS
    buffer = io.BytesIO()
    Image.new("L", (16320, 12240), 120).save(buffer, "JPEG", quality=50)  # 200 MB, not 600
    picture, info = decode(buffer.getvalue(), min_side=224)
    assert (info.width, info.height) == (16320, 12240)
    assert max(picture.size) <= 16320 // 4  # reduced while decoding, never full size


# --- one memory limit, large images decoded small -----------------------------------------

BIG = (13_000, 13_000)
"""169 megapixels: within the pixel limit; the size of the memory benchmark's huge images."""


@pytest.mark.parametrize("write", [odd_files.giant_png, odd_files.giant_gif,
                                   odd_files.giant_tiff], ids=["png", "gif", "tif"])
def test_a_169_megapixel_png_gif_or_tiff_fits_the_memory_limit(
        tmp_path: Path, write: Callable[..., Path]) -> None:
    path = write(tmp_path / "big", BIG)
    with reading.open_photo(path) as file:
        assert decode_cost(file, min_side=224) <= MAX_DECODE_BYTES
    with reading.open_photo(path) as file:  # decoded whole it would not
        assert decode_cost(file) > MAX_DECODE_BYTES


def test_a_lossless_webp_of_that_size_is_refused_naming_its_size_and_memory(
        tmp_path: Path) -> None:
    """libwebp holds a lossless WebP's whole canvas whatever size it decodes to (4 bytes a
    pixel, 0.7 GB here): over the limit, refused before any decoding."""
    path = odd_files.giant_webp(tmp_path / "big.webp", BIG)
    started = time.perf_counter()
    with reading.open_photo(path) as file, pytest.raises(ImageTooLargeError) as caught:
        decode(file, min_side=224, name=path)
    reason = caught.value.reason
    assert reason.startswith("image too large: 13000x13000 pixels would take about ")
    assert f"MB of memory to decode (the limit is {MAX_DECODE_BYTES // 2**20} MB)" in reason
    assert time.perf_counter() - started < 2
    assert read_info(path).width == 13_000  # its header is still read


def _picture(mode: str) -> Image.Image:
    rng = np.random.default_rng(5)
    base = Image.fromarray(rng.integers(0, 256, (12, 16, 3), np.uint8))
    smooth = base.resize((640, 480), Image.Resampling.BICUBIC)
    if mode == "RGBA":
        values = np.asarray(smooth.convert("RGBA")).copy()
        values[..., 3] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
        return Image.fromarray(values)
    if mode == "P":
        palette = smooth.quantize(32)
        palette.info["transparency"] = 3
        return palette
    if mode == "I;16":
        return Image.fromarray(np.asarray(smooth.convert("L")).astype(np.uint16) * 257)
    return smooth.convert(mode)


SHRUNK = {  # name: (mode, format, save options, decoded by libvips)
    "png-rgb": ("RGB", "PNG", {}, True), "png-rgba": ("RGBA", "PNG", {}, True),
    "png-grey": ("L", "PNG", {}, True), "png-16bit": ("I;16", "PNG", {}, True),
    "png-palette-transparency": ("P", "PNG", {"transparency": 3}, True),
    "png-1bit": ("1", "PNG", {}, True), "tiff-rgba": ("RGBA", "TIFF", {}, True),
    "webp-lossy": ("RGB", "WEBP", {"quality": 90}, True),
    "webp-lossless-alpha": ("RGBA", "WEBP", {"lossless": True}, True),
    "gif": ("P", "GIF", {}, False), "bmp": ("RGB", "BMP", {}, False),
    "tiff-cmyk": ("CMYK", "TIFF", {}, False),
}


@pytest.mark.parametrize("without_libvips", [False, True], ids=["libvips", "pillow"])
@pytest.mark.parametrize("name", list(SHRUNK))
def test_a_large_image_is_decoded_small_with_the_pixels_of_a_whole_decode(
        name: str, without_libvips: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrunk by libvips or band by band, the model's pixels stay within a level or two
    of a whole decode's (its resize then starts at 3x the size it makes)."""
    mode, fmt, options, by_libvips = SHRUNK[name]
    buffer = io.BytesIO()
    _picture(mode).save(buffer, fmt, **options)
    data = buffer.getvalue()
    whole, _ = decode(data)
    monkeypatch.setattr(decoding, "SHRINK_FROM_PIXELS", 10_000)  # 640x480 counts as large
    if without_libvips:
        monkeypatch.setattr(shrinking, "available", lambda: False)
    calls: list[tuple[int, int]] = []
    shrunk_rgb = shrinking.shrunk_rgb

    def spy(*args: object, **kwargs: object) -> tuple[Image.Image, bytes | None]:
        calls.append(args[1])  # type: ignore[arg-type]
        return shrunk_rgb(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shrinking, "shrunk_rgb", spy)
    small, info = decode(data, min_side=32)
    assert (info.width, info.height) == (640, 480)  # the original's, as always
    assert small.mode == "RGB" and small.size == (128, 96)  # 480 // (3 * 32) = 5
    assert calls == ([(128, 96)] if by_libvips and not without_libvips else [])
    spec = ModelInput(32)
    difference = np.abs(to_model_pixels(whole, spec).astype(int)
                        - to_model_pixels(small, spec).astype(int))
    assert difference.mean() < 1.5 and difference.max() <= 12, (difference.mean(),
                                                                 difference.max())


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_a_large_image_decoded_small_is_turned_upright_once(
        fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: shown portrait
    exif[0x010F], exif[0x0110] = "Maker", "Cam X"
    buffer = io.BytesIO()
    _picture("RGB").save(buffer, fmt, exif=exif.tobytes())
    whole, whole_info = decode(buffer.getvalue())
    monkeypatch.setattr(decoding, "SHRINK_FROM_PIXELS", 10_000)
    small, info = decode(buffer.getvalue(), min_side=32)
    assert whole.size == (480, 640) and small.size == (96, 128)
    assert info == whole_info and (info.width, info.height, info.camera) == (480, 640,
                                                                            "Maker Cam X")


def test_a_cut_large_png_fails_as_a_whole_decode_does(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    _picture("RGB").save(buffer, "PNG")
    cut = buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3]
    monkeypatch.setattr(decoding, "SHRINK_FROM_PIXELS", 10_000)
    with pytest.raises(CorruptImageError, match="truncated or corrupt PNG"):
        decode(cut, min_side=32)


def test_libvips_is_not_loaded_until_a_large_image_needs_it() -> None:
    """Nor at the window's start: importing the decoders leaves pyvips unloaded."""
    code = ("import sys; import core.photos.imaging, core.sync.preparing; "
            "assert 'pyvips' not in sys.modules, 'pyvips loaded at import'")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_progressive_jpeg_is_charged_its_whole_coefficient_buffer() -> None:
    """libjpeg decodes a progressive JPEG from every DCT coefficient of the whole image,
    even at 1/8 scale (measured: a 48 MP one took 142 MB at 1/8 scale, a baseline one 6 MB):
    the decode pool's budget must count it, 2 bytes a sample (4:2:0 here: 1.5 a pixel)."""
    import io

    from PIL import Image

    from core.photos.decoding import decode_cost

    picture = Image.new("RGB", (2000, 1500), (120, 30, 200))
    costs = []
    for progressive in (False, True):
        data = io.BytesIO()
        picture.save(data, "JPEG", progressive=progressive, quality=80)
        costs.append(decode_cost(data.getvalue(), min_side=224))
    assert costs[1] - costs[0] == 2000 * 1500 * 3
