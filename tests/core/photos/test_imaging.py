"""core.photos.imaging: every test image is generated here with Pillow or crafted as bytes."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageOps

from core.errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedFormatError
from core.photos import decoding, formats
from core.photos.imaging import ModelInput, decode, load_for_model, read_info, to_model_pixels

T = Image.Transpose
# Stored pixels for each orientation so that applying the tag gives the upright image.
_STORE_AS = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def quadrants(width: int = 60, height: int = 40) -> Image.Image:
    """Four flat colours: every flip and rotation of it looks different."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 200, 30), (width // 2, 0, width, height // 2))
    image.paste((30, 30, 220), (0, height // 2, width // 2, height))
    image.paste((240, 220, 40), (width // 2, height // 2, width, height))
    return image


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus noise, roughly like a photo for the encoders."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    base = np.sin(x * 20 + y * 7 + np.arange(3)) * 70 + 128
    noisy = base + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def exif_bytes(orientation: int | None = None, **tags: object) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for name, value in tags.items():
        tag = ExifTags.Base[name]
        (sub if name.startswith("DateTime") and name != "DateTime" else exif)[tag] = value
    return exif.tobytes()


def mean_abs(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean())


# --- formats ------------------------------------------------------------------------------


def test_extension_and_format_lists() -> None:
    assert {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"} <= (
        formats.PHOTO_EXTENSIONS
    )
    assert all(ext == ext.lower() and ext.startswith(".") for ext in formats.PHOTO_EXTENSIONS)
    assert {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"} <= decoding.ALLOWED_FORMATS
    assert "PSD" not in decoding.ALLOWED_FORMATS and "ICO" not in decoding.ALLOWED_FORMATS
    assert decoding.register_heif() is decoding.register_heif()
    assert ("HEIF" in decoding.ALLOWED_FORMATS) == decoding.register_heif()
    assert (".heic" in formats.PHOTO_EXTENSIONS) == decoding.register_heif()


LOSSY = {"JPEG": 8.0, "WEBP": 8.0, "HEIF": 10.0, "AVIF": 10.0, "GIF": 12.0}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF"])
def test_each_allowed_format_decodes(fmt: str) -> None:
    if fmt not in decoding.ALLOWED_FORMATS:
        pytest.skip(f"{fmt} support not installed")
    source = quadrants(64, 48)
    try:
        data = encode(source, fmt, quality=95) if fmt in LOSSY else encode(source, fmt)
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"Pillow cannot write {fmt} here: {exc}")
    image, info = decode(data)
    assert image.mode == "RGB" and image.size == (64, 48)
    assert (info.width, info.height, info.format) == (64, 48, fmt)
    assert mean_abs(image, source) < LOSSY.get(fmt, 0.5)


def test_multi_picture_jpeg_is_reported_as_jpeg() -> None:
    data = encode(quadrants(), "MPO", save_all=True, append_images=[Image.new("RGB", (60, 40))])
    image, info = decode(data)
    assert info.format == "JPEG" and mean_abs(image, quadrants()) < 8


def test_heif_round_trip_with_orientation() -> None:
    if not decoding.register_heif():
        pytest.skip("pillow-heif is not available")
    try:
        data = encode(quadrants(64, 48), "HEIF", quality=95, exif=exif_bytes(6))
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"pillow-heif cannot encode here: {exc}")
    image, info = decode(data)
    assert (info.width, info.height, info.format) == (48, 64, "HEIF")
    # libheif already turns the pixels upright; they must not be turned a second time.
    assert mean_abs(image, quadrants(64, 48).transpose(T.ROTATE_270)) < 10


# --- JPEG draft -----------------------------------------------------------------------------


def test_jpeg_draft_decodes_fewer_pixels_but_reports_the_original_size() -> None:
    data = encode(photo(1600, 1200), "JPEG", quality=90)
    image, info = decode(data, min_side=224)
    assert (info.width, info.height, info.format) == (1600, 1200, "JPEG")
    assert image.size == (400, 300)  # 1/4 scale: 1/8 would be under 224 on the short side
    full, _ = decode(data)
    assert full.size == (1600, 1200)
    pixels, same = load_for_model(data, ModelInput(224))
    assert same == info
    assert pixels.shape == (224, 224, 3) and pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous and pixels.flags.writeable
    assert mean_abs(pixels, to_model_pixels(full, ModelInput(224))) < 3


def test_draft_with_rotation_reports_upright_original_size() -> None:
    stored = photo(1600, 1200).transpose(T.ROTATE_90)
    data = encode(stored, "JPEG", quality=90, exif=exif_bytes(8))
    image, info = decode(data, min_side=100)
    assert (info.width, info.height) == (1600, 1200)
    assert image.size == (200, 150)


# --- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_pixels(orientation: int) -> None:
    upright = quadrants()
    method = _STORE_AS[orientation]
    stored = upright if method is None else upright.transpose(method)
    data = encode(stored, "JPEG", quality=95, exif=exif_bytes(orientation))
    # The fixture itself is checked against Pillow's reference implementation.
    assert mean_abs(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), upright) < 4
    image, info = decode(data)
    assert image.size == upright.size and (info.width, info.height) == upright.size
    assert mean_abs(image, upright) < 4


# --- colour modes ------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    image, _ = decode(data)
    r, g, b = np.asarray(image).reshape(-1, 3).mean(axis=0)
    assert image.mode == "RGB" and r > 200 and g < 50 and b < 50


def test_16_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    pixels = np.asarray(decode(data)[0])
    assert pixels[0, 0].tolist() == [0, 0, 0] and pixels[0, -1].tolist() == [255, 255, 255]
    assert abs(int(pixels[0, 128, 0]) - 128) <= 2
    assert np.all(np.diff(pixels[0, :, 0].astype(int)) >= 0)


def test_float_tiff_is_scaled() -> None:
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (4, 1))
    pixels = np.asarray(decode(encode(Image.fromarray(ramp, "F"), "TIFF"))[0])
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == 255


def test_palette_transparency_is_white() -> None:
    image = Image.new("P", (20, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 0, 20, 10))
    pixels = np.asarray(decode(encode(image, "PNG", transparency=0))[0])
    assert pixels[5, 2].tolist() == [255, 255, 255] and pixels[5, 15].tolist() == [255, 0, 0]


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(mode: str) -> None:
    image = Image.new("RGBA", (30, 10), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (10, 0, 20, 10))
    image.paste((0, 0, 0, 128), (20, 0, 30, 10))
    pixels = np.asarray(decode(encode(image.convert(mode), "PNG"))[0]).astype(int)
    assert pixels[5, 5].tolist() == [255, 255, 255]
    assert pixels[5, 15].tolist() == [0, 0, 0]
    assert all(abs(v - 127) <= 2 for v in pixels[5, 25])


def test_one_bit_image() -> None:
    image = Image.new("1", (16, 8), 0)
    image.paste(1, (8, 0, 16, 8))
    pixels = np.asarray(decode(encode(image, "PNG"))[0])
    assert pixels[4, 2].tolist() == [0, 0, 0] and pixels[4, 12].tolist() == [255, 255, 255]


def test_animated_gif_gives_the_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    image, info = decode(data)
    assert info.format == "GIF" and np.asarray(image)[8, 8].tolist() == [255, 0, 0]


# --- bad files ------------------------------------------------------------------------------


def test_truncated_jpeg_is_corrupt() -> None:
    data = encode(photo(400, 300), "JPEG", quality=90)
    with pytest.raises(CorruptImageError) as caught:
        decode(data[: len(data) // 2])
    assert caught.value.reason == "truncated or corrupt JPEG"


def test_damaged_png_header_is_corrupt() -> None:
    data = encode(quadrants(), "PNG")
    with pytest.raises(CorruptImageError, match="corrupt PNG"):
        decode(data[:8] + b"\x00" * 30)


@pytest.mark.parametrize("data", [np.random.default_rng(3).bytes(5000), b"", b"hello world"])
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        decode(data)
    assert caught.value.reason == "not an image (unknown format)"


def _psd() -> bytes:
    """Smallest flat 1x1 RGB Photoshop file."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 1, 1, 8, 3)
    return header + struct.pack(">IIIH", 0, 0, 0, 0) + b"\xff\x00\x00"


@pytest.mark.parametrize(
    ("name", "data"),
    [("ICO", encode(quadrants(32, 32), "ICO")), ("PSD", _psd())],
)
def test_other_formats_are_refused_by_name(name: str, data: bytes) -> None:
    assert Image.open(io.BytesIO(data)).format == name  # Pillow alone would open it
    with pytest.raises(UnsupportedFormatError) as caught:
        decode(data)
    assert caught.value.reason == f"unsupported format: {name}"


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0)
        + b"IEND"
        + struct.pack(">I", zlib.crc32(b"IEND"))
    )


def _resized_header(fmt: str, width: int, height: int) -> bytes:
    data = bytearray(encode(quadrants(), fmt))
    if fmt == "JPEG":  # SOF0: marker, length, precision, height, width
        at = data.index(b"\xff\xc0") + 5
        data[at : at + 4] = struct.pack(">HH", height, width)
    else:  # GIF logical screen
        data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_png_header_only(50_000, 50_000), "50000x50000"),
        (_resized_header("JPEG", 60_000, 40_000), "60000x40000"),
        (_resized_header("GIF", 65_000, 65_000), "65000x65000"),
    ],
    ids=["PNG", "JPEG", "GIF"],
)
def test_decompression_bomb_is_refused_from_the_header(data: bytes, size: str) -> None:
    # These files hold no pixel data: refusing with ImageTooLargeError rather than
    # CorruptImageError shows the check ran before any decoding (and any allocation).
    with pytest.raises(ImageTooLargeError) as caught:
        decode(data, min_side=224)
    assert caught.value.reason == f"image too large: {size} pixels"


def test_large_but_allowed_size_passes_the_check_without_pillow_warnings(tmp_path: Path) -> None:
    path = tmp_path / "pano.png"
    path.write_bytes(_png_header_only(20_000, 6_000))  # 120 MP: over Pillow's 89 MP warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = read_info(path)
    assert (info.width, info.height, info.format) == (20_000, 6_000, "PNG")


def test_read_info_of_a_missing_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read file"):
        read_info(tmp_path / "nope.jpg")


# --- EXIF metadata ------------------------------------------------------------------------------


def _info_with(**tags: object) -> tuple[datetime | None, str | None]:
    info = decode(encode(quadrants(), "JPEG", exif=exif_bytes(**tags)))[1]
    return info.taken_at, info.camera


def test_exif_date_and_camera() -> None:
    taken, camera = _info_with(
        Make="Canon",
        Model="Canon EOS R5",
        DateTime="2020:01:01 00:00:00",
        DateTimeOriginal="2021:06:15 14:30:05",
    )
    assert taken == datetime(2021, 6, 15, 14, 30, 5) and camera == "Canon EOS R5"
    assert _info_with(Make="Apple", Model="iPhone 12")[1] == "Apple iPhone 12"
    assert _info_with(Make="NIKON CORPORATION\x00", Model="NIKON  D750 ")[1] == "NIKON D750"
    assert _info_with(Model="E-M5")[1] == "E-M5"
    assert _info_with() == (None, None)


def test_garbage_dates_are_ignored_or_fall_back() -> None:
    fallback = _info_with(
        DateTimeOriginal="0000:00:00 00:00:00",
        DateTimeDigitized="    :  :     :  :  ",
        DateTime="2019:12:31 23:59:59",
    )
    assert fallback[0] == datetime(2019, 12, 31, 23, 59, 59)
    assert _info_with(DateTimeOriginal="2021:13:45 99:00:00")[0] is None
    assert _info_with(DateTimeOriginal="yesterday")[0] is None
    dashed = _info_with(DateTimeDigitized="2018-05-04 10:11:12")[0]
    assert dashed == datetime(2018, 5, 4, 10, 11, 12)


# --- model input ------------------------------------------------------------------------------


def _resize_then_crop(image: Image.Image, size: int) -> np.ndarray:
    """transformers' shortest-edge resize and centre crop, written out independently."""
    w, h = image.size
    scale_w, scale_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    resized = np.asarray(image.resize((scale_w, scale_h), Image.Resampling.BICUBIC))
    top, left = int((scale_h - size) / 2), int((scale_w - size) / 2)
    return resized[top : top + size, left : left + size]


@pytest.mark.parametrize("size", [(640, 480), (333, 777), (224, 225), (100, 60), (1000, 1000)])
def test_crop_matches_resize_then_centre_crop(size: tuple[int, int]) -> None:
    image = photo(*size, seed=sum(size))
    assert np.array_equal(to_model_pixels(image, ModelInput(224)), _resize_then_crop(image, 224))


def test_squash_without_crop() -> None:
    image = photo(640, 480)
    pixels = to_model_pixels(image, ModelInput(256, crop=False))
    expected = np.asarray(image.resize((256, 256), Image.Resampling.BICUBIC))
    assert pixels.shape == (256, 256, 3) and np.array_equal(pixels, expected)


def test_extreme_panorama_is_cropped_without_a_huge_intermediate() -> None:
    strip = photo(1200, 100)  # 1:12, crop path resamples the centre only
    pixels = to_model_pixels(strip, ModelInput(224))
    assert pixels.shape == (224, 224, 3)
    assert np.abs(pixels.astype(int) - _resize_then_crop(strip, 224)).max() <= 1
    assert to_model_pixels(Image.new("L", (40_000, 2), 90), ModelInput(224)).shape == (224, 224, 3)


def test_model_pixels_accept_any_mode() -> None:
    pixels = to_model_pixels(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), ModelInput(224))
    assert pixels.shape == (224, 224, 3) and int(pixels.min()) == 255


def test_decoding_in_threads_matches_sequential() -> None:
    blobs = [encode(photo(320 + 16 * i, 240, seed=i), "JPEG", quality=85) for i in range(8)]
    spec = ModelInput(224)
    expected = [load_for_model(b, spec)[0] for b in blobs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: load_for_model(b, spec)[0], blobs * 3))
    assert all(np.array_equal(r, expected[i % 8]) for i, r in enumerate(results))


def test_matches_the_transformers_clip_processors() -> None:
    """Same RGB input: identical to the PIL processor (1 level off on a panorama, which
    takes the crop-box path), within 2 levels of the default torchvision one."""
    clip = pytest.importorskip("transformers.models.clip")
    pil_processor = pytest.importorskip("transformers.models.clip.image_processing_pil_clip")
    processors = {
        "default": clip.CLIPImageProcessor(do_rescale=False, do_normalize=False),
        "pil": pil_processor.CLIPImageProcessorPil(do_rescale=False, do_normalize=False),
    }
    worst: dict[tuple[str, bool], int] = {}
    for size in [(640, 480), (333, 777), (100, 60), (1200, 250)]:
        image = photo(*size, seed=size[0])
        ours = to_model_pixels(image, ModelInput(224)).astype(int)
        for name, processor in processors.items():
            ref = processor(images=image, return_tensors="np")["pixel_values"][0]
            diff = int(np.abs(ours - np.asarray(ref).transpose(1, 2, 0).astype(int)).max())
            key = (name, size == (1200, 250))
            worst[key] = max(worst.get(key, 0), diff)
    assert worst[("pil", False)] == 0 and worst[("pil", True)] <= 1, worst
    assert max(worst[("default", False)], worst[("default", True)]) <= 2, worst


def test_allowed_formats_are_registered_on_import_alone() -> None:
    """Decoding must not depend on some other code having called Image.init() first."""
    code = (
        "from PIL import Image; from core.photos import decoding; "
        "assert all(f in Image.OPEN for f in decoding.ALLOWED_FORMATS), Image.OPEN.keys()"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
