"""Odd, broken and hostile image files for the memory benchmark (bench/_memory.py).

Pillow's own test-image collection (about 1,000 odd files) is not available to tests, so
this module makes its own, deterministically: every format and colour mode Pictor reads
(16-bit, CMYK, palette with transparency, float TIFF, LAB, animated GIF and WebP,
multi-page TIFF, interlaced PNG, progressive JPEG), each also truncated, with a damaged
middle, under another format's extension, and with headers that claim huge sizes; broken
EXIF, big XMP packets (10 MB), flat-colour decompression bombs, and files that are no
image at all. Also one-byte ``.jpg`` files and huge GIF/PNG/WebP images with real content.
The hostile files (a FIFO, a link to /dev/zero, a sparse 3 GB file) come from
tests/support/odd_files.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

Maker = Callable[[np.random.Generator, int], tuple[str, bytes]]
"""Given a generator and a side in pixels: a file's extension (with the dot) and bytes."""

XMP_BYTES = 10 * 1024 * 1024


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _picture(rng: np.random.Generator, side: int, mode: str = "RGB") -> Image.Image:
    """A small picture with shapes and noise (compresses like a photo, not like flat colour)."""
    width, height = side, max(1, side * 3 // 4)
    base = rng.integers(0, 256, (max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.ellipse([x, y, x + width // 3, y + height // 3],
                     fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image if mode == "RGB" else image.convert(mode)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with a few bytes of data."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return (b"\x89PNG\r\n\x1a\n" + header
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _jpeg_claiming(rng: np.random.Generator, width: int, height: int) -> bytes:
    """A real small JPEG with its frame header (SOF0) rewritten to claim another size."""
    data = bytearray(_save(_picture(rng, 64), "JPEG", quality=80))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose logical screen and one frame claim ``width`` x ``height``."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


def _bmp_claiming(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\0" * 64


def _tiff_claiming(rng: np.random.Generator, width: int, height: int) -> bytes:
    """A real small TIFF whose ImageWidth/ImageLength tags claim another size."""
    data = bytearray(_save(_picture(rng, 32), "TIFF"))
    (offset,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[offset:offset + 2])
    for i in range(count):
        at = offset + 2 + 12 * i
        (tag,) = struct.unpack("<H", data[at:at + 2])
        value = {256: width, 257: height}.get(tag)
        if value is not None:
            data[at + 2:at + 12] = struct.pack("<HII", 4, 1, value)  # LONG
    return bytes(data)


def _webp_claiming(width: int, height: int) -> bytes:
    """A WebP (VP8X) whose canvas claims ``width`` x ``height`` with no image data."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + struct.pack(
        "<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def _xmp_packet(size: int) -> bytes:
    words = b"<rdf:li>holiday beach sunset family</rdf:li>\n"
    body = words * (size // len(words))
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
            b'02/22-rdf-syntax-ns#"><rdf:Description><dc:subject><rdf:Bag>' + body
            + b"</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>")


def _jpeg_with_segments(jpeg: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    """``jpeg`` with APPn segments inserted after SOI (each at most 64 KB)."""
    extra = b"".join(struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload
                     for marker, payload in segments)
    return jpeg[:2] + extra + jpeg[2:]


def _jpeg_big_xmp(rng: np.random.Generator, side: int) -> bytes:
    """A JPEG carrying a 10 MB XMP packet as Extended XMP (many 64 KB APP1 segments)."""
    packet = _xmp_packet(XMP_BYTES)
    head = b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 32
    chunk = 65000
    segments = [(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + _xmp_packet(1000))]
    for at in range(0, len(packet), chunk):
        segments.append((0xE1, head + struct.pack(">II", len(packet), at)
                         + packet[at:at + chunk]))
    return _jpeg_with_segments(_save(_picture(rng, side), "JPEG"), segments)


def _png_big_xmp(rng: np.random.Generator, side: int) -> bytes:
    """A PNG with a 10 MB iTXt XMP chunk."""
    png = _save(_picture(rng, side), "PNG")
    chunk = _png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + _xmp_packet(XMP_BYTES))
    return png[:33] + chunk + png[33:]  # after the signature and IHDR


def _broken_exif(rng: np.random.Generator, side: int) -> bytes:
    garbage = b"Exif\0\0II*\0" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF) + bytes(
        rng.integers(0, 256, 2000, dtype=np.uint8))
    return _jpeg_with_segments(_save(_picture(rng, side), "JPEG"), [(0xE1, garbage)])


def _exif_orientation(rng: np.random.Generator, side: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = int(rng.integers(1, 9))
    exif[0x010F], exif[0x0110] = "Pictor", "Odd Camera"
    return _save(_picture(rng, side), "JPEG", exif=exif.tobytes())


def _png_bomb(side: int) -> bytes:
    """A flat-colour PNG of ``side`` x ``side``: tiny on disk, big once decoded."""
    return _save(Image.new("L", (side, side), 7), "PNG", compress_level=9)


def _animated(rng: np.random.Generator, side: int, fmt: str) -> bytes:
    frames = [_picture(rng, side).convert("P") if fmt == "GIF" else _picture(rng, side)
              for _ in range(6)]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)


def _multipage_tiff(rng: np.random.Generator, side: int) -> bytes:
    pages = [_picture(rng, side, mode) for mode in ("RGB", "L", "CMYK", "RGBA", "1")]
    return _save(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _sixteen_bit(rng: np.random.Generator, side: int, fmt: str) -> bytes:
    ramp = (np.linspace(0, 65535, side * side).reshape(side, side)
            + rng.normal(0, 500, (side, side)))
    return _save(Image.fromarray(np.clip(ramp, 0, 65535).astype(np.uint16)), fmt)


def _float_tiff(rng: np.random.Generator, side: int) -> bytes:
    values = rng.random((side, side), dtype=np.float32) * 4.0  # no nominal range
    return _save(Image.fromarray(values, "F"), "TIFF")


def _palette_transparent(rng: np.random.Generator, side: int, fmt: str) -> bytes:
    image = _picture(rng, side).convert("P")
    return _save(image, fmt, transparency=0)


# Valid files of every format and mode: (name, maker).
VALID: list[tuple[str, Maker]] = [
    ("jpeg-rgb", lambda r, s: (".jpg", _save(_picture(r, s), "JPEG", quality=90))),
    ("jpeg-grey", lambda r, s: (".jpg", _save(_picture(r, s, "L"), "JPEG"))),
    ("jpeg-cmyk", lambda r, s: (".jpg", _save(_picture(r, s, "CMYK"), "JPEG"))),
    ("jpeg-progressive", lambda r, s: (".jpg", _save(_picture(r, s), "JPEG", progressive=True))),
    ("jpeg-444", lambda r, s: (".jpeg", _save(_picture(r, s), "JPEG", subsampling=0))),
    ("jpeg-orientation", lambda r, s: (".jpg", _exif_orientation(r, s))),
    ("jpeg-broken-exif", lambda r, s: (".jpg", _broken_exif(r, s))),
    ("png-rgb", lambda r, s: (".png", _save(_picture(r, s), "PNG"))),
    ("png-rgba", lambda r, s: (".png", _save(_picture(r, s, "RGBA"), "PNG"))),
    ("png-la", lambda r, s: (".png", _save(_picture(r, s, "LA"), "PNG"))),
    ("png-1bit", lambda r, s: (".png", _save(_picture(r, s, "1"), "PNG"))),
    ("png-palette-alpha", lambda r, s: (".png", _palette_transparent(r, s, "PNG"))),
    ("png-16bit", lambda r, s: (".png", _sixteen_bit(r, s, "PNG"))),
    ("png-interlaced", lambda r, s: (".png", _save(_picture(r, s), "PNG", interlace=1))),
    ("gif", lambda r, s: (".gif", _save(_picture(r, s).convert("P"), "GIF"))),
    ("gif-transparent", lambda r, s: (".gif", _palette_transparent(r, s, "GIF"))),
    ("gif-animated", lambda r, s: (".gif", _animated(r, s, "GIF"))),
    ("tiff-rgb", lambda r, s: (".tif", _save(_picture(r, s), "TIFF", compression="tiff_lzw"))),
    ("tiff-cmyk", lambda r, s: (".tiff", _save(_picture(r, s, "CMYK"), "TIFF"))),
    ("tiff-16bit", lambda r, s: (".tif", _sixteen_bit(r, s, "TIFF"))),
    ("tiff-float", lambda r, s: (".tif", _float_tiff(r, s))),
    ("tiff-lab", lambda r, s: (".tif", _save(_picture(r, s, "LAB"), "TIFF"))),
    ("tiff-multipage", lambda r, s: (".tif", _multipage_tiff(r, s))),
    ("bmp", lambda r, s: (".bmp", _save(_picture(r, s), "BMP"))),
    ("bmp-palette", lambda r, s: (".bmp", _save(_picture(r, s).convert("P"), "BMP"))),
    ("webp-lossy", lambda r, s: (".webp", _save(_picture(r, s), "WEBP", quality=80))),
    ("webp-lossless-alpha", lambda r, s: (".webp", _save(_picture(r, s, "RGBA"), "WEBP",
                                                          lossless=True))),
    ("webp-animated", lambda r, s: (".webp", _animated(r, s, "WEBP"))),
]

# Files that are odd on their own (one each per round).
ODD: list[tuple[str, Maker]] = [
    ("empty", lambda r, s: (".jpg", b"")),
    ("one-byte", lambda r, s: (".png", b"\x89")),
    ("text", lambda r, s: (".jpg", b"this is not a photo\n" * 20)),
    ("html", lambda r, s: (".gif", b"<html><body>404 not found</body></html>")),
    ("random", lambda r, s: (".tif", bytes(r.integers(0, 256, 5000, dtype=np.uint8)))),
    ("zip", lambda r, s: (".webp", b"PK\x03\x04" + bytes(200))),
    ("ico-as-png", lambda r, s: (".png", _save(_picture(r, 32), "ICO"))),
    ("psd-header", lambda r, s: (".jpg", b"8BPS\0\1" + bytes(100))),
    ("png-claims-huge", lambda r, s: (".png", _png_claiming(65535, 65535))),
    ("png-claims-wide", lambda r, s: (".png", _png_claiming(2_000_000, 1))),
    ("png-claims-zero", lambda r, s: (".png", _png_claiming(0, 100))),
    ("jpeg-claims-huge", lambda r, s: (".jpg", _jpeg_claiming(r, 65500, 65500))),
    ("jpeg-claims-tall", lambda r, s: (".jpg", _jpeg_claiming(r, 15000, 16000))),
    ("gif-claims-huge", lambda r, s: (".gif", _gif_claiming(65535, 65535))),
    ("gif-claims-under-limit", lambda r, s: (".gif", _gif_claiming(15000, 15000))),
    ("bmp-claims-huge", lambda r, s: (".bmp", _bmp_claiming(60000, 60000))),
    ("bmp-claims-under-limit", lambda r, s: (".bmp", _bmp_claiming(15000, 15000))),
    ("tiff-claims-huge", lambda r, s: (".tif", _tiff_claiming(r, 100_000, 100_000))),
    ("tiff-claims-under-limit", lambda r, s: (".tif", _tiff_claiming(r, 15000, 15000))),
    ("webp-claims-huge", lambda r, s: (".webp", _webp_claiming(16384, 16384))),
    ("jpeg-xmp-10mb", lambda r, s: (".jpg", _jpeg_big_xmp(r, s))),
    ("png-xmp-10mb", lambda r, s: (".png", _png_big_xmp(r, s))),
]

# Damage done to each valid file: (name, function of the bytes).
VARIANTS: list[tuple[str, Callable[[bytes, np.random.Generator], bytes]]] = [
    ("ok", lambda d, r: d),
    ("cut-16", lambda d, r: d[:16]),
    ("cut-half", lambda d, r: d[: len(d) // 2]),
    ("cut-last", lambda d, r: d[:-1]),
    ("smudged", lambda d, r: d[: len(d) // 3] + bytes(r.integers(0, 256, len(d) // 3,
                                                                 dtype=np.uint8))
     + d[2 * len(d) // 3:]),
    ("header-only", lambda d, r: d[:200]),
]
WRONG_EXTENSION = {".jpg": ".png", ".jpeg": ".gif", ".png": ".jpg", ".gif": ".webp",
                   ".tif": ".jpg", ".tiff": ".bmp", ".bmp": ".tif", ".webp": ".png"}


def _write(path: Path, data: bytes) -> None:
    if not path.is_file() or path.stat().st_size != len(data):
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)


def odd_corpus(folder: Path, count: int, *, bombs: int = 2, bomb_side: int = 12_000) -> int:
    """About ``count`` odd and broken files in ``folder`` (made once; deterministic): every
    valid kind in every variant, under its own and a wrong extension, plus the odd files,
    plus ``bombs`` flat grey PNGs of ``bomb_side`` pixels square (12,000: 144 MP, under the
    pixel limit, a few hundred KB on disk). Returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    written = 0
    sides = (48, 160, 640, 1600)
    round_ = 0
    while written < count:
        for name, maker in ODD:
            if round_ == 0 or not name.endswith("10mb"):  # two big XMP packets are enough
                ext, data = maker(rng, sides[round_ % len(sides)])
                _write(folder / f"r{round_}-{name}{ext}", data)
                written += 1
        for kind, maker in VALID:
            ext, data = maker(rng, sides[(round_ + written) % len(sides)])
            for variant, damage in VARIANTS:
                _write(folder / f"r{round_}-{kind}-{variant}{ext}", damage(data, rng))
                written += 1
            _write(folder / f"r{round_}-{kind}-misnamed{WRONG_EXTENSION[ext]}", data)
            written += 1
            if written >= count:
                break
        round_ += 1
    for i in range(bombs):
        _write(folder / f"bomb-{i}-{bomb_side}.png", _png_bomb(bomb_side))
        written += 1
    return written


def one_byte_files(folder: Path, count: int) -> int:
    """``count`` one-byte ``.jpg`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"tiny-{i:05d}.jpg"
        if not path.is_file():
            path.write_bytes(b"x")
    return count


def huge_images(folder: Path, count: int, side: int, formats: tuple[str, ...], *,
                lossy: bool = False) -> int:
    """``count`` images of ``side`` x ``side`` pixels per format (GIF, PNG, WEBP): large
    flat-coloured rectangles on a palette, small on disk and ``side**2`` pixels decoded.
    A WebP is lossless unless ``lossy`` (libwebp cannot encode a lossy one much above
    64 megapixels: its first partition overflows)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for fmt in formats:
        for i in range(count):
            kind = "-lossy" if lossy and fmt == "WEBP" else ""
            path = folder / f"huge-{side}-{i}{kind}.{fmt.lower()}"
            written += 1
            if path.is_file():
                continue
            image = Image.new("P", (side, side), 0)
            image.putpalette([(i * 37 + v * 11) % 256 for v in range(768)])
            draw = ImageDraw.Draw(image)
            for k in range(24):
                x, y = (k * side) // 30, (k * side) // 40
                draw.rectangle([x, y, x + side // 4, y + side // 3], fill=(k * 10 + i) % 256)
            options: dict[str, object] = (
                {} if fmt != "WEBP" else {"quality": 80, "method": 0} if lossy
                else {"lossless": True, "method": 0, "quality": 0})
            saved = image.convert("RGB") if fmt == "WEBP" else image
            tmp = path.with_name(path.name + ".part")
            saved.save(tmp, fmt, **options)
            tmp.replace(path)
    return written
