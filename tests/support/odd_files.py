"""Hostile files for tests and benchmarks: special files, huge files, huge images.

Everything here is cheap to write: a 3 GB file is sparse (no disk, no time), a 225-megapixel
image is a few kilobytes (one colour, compressed), a FIFO and a link to ``/dev/zero`` cost
an inode. What each one does to a reader that trusts its name or its size:

* a FIFO named ``photo.jpg`` blocks ``open()`` until a writer comes, forever;
* ``/dev/zero`` linked as ``zero.jpg`` never ends: read whole, it eats all memory;
* a sparse 3 GB ``big.jpg`` is 3 GB of zeros when read whole;
* a JPEG with a 10 MB XMP block and thousands of damaged EXIF tags makes Pillow warn once
  per tag;
* 225-megapixel PNG, GIF, WebP and TIFF files decode to gigabytes.

:func:`write_hostile` writes one of each into a folder (the memory benchmark's corpus).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

GIANT = (15_000, 15_000)
"""225 megapixels: under the 16,383-pixel side WebP allows, over Pillow's own bomb check."""
SPARSE_BYTES = 3 * 1024**3
XMP_BYTES = 10 * 1024 * 1024
EXIF_FLOOD_TAGS = 5_000


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading waits for a writer that never comes."""
    os.mkfifo(path)
    return path


def zero_link(path: Path) -> Path:
    """A symbolic link to ``/dev/zero``: an endless stream of zeros under a photo's name."""
    path.symlink_to("/dev/zero")
    return path


def sparse(path: Path, size: int = SPARSE_BYTES) -> Path:
    """A file of ``size`` zero bytes that takes no disk space (a hole)."""
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def small_jpeg(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _exif_flood(tags: int) -> bytes:
    """An EXIF block whose IFD lists ``tags`` arrays of 4,000 bytes, together far more than
    the block holds: Pillow skips every one past the end with its own warning ("Tag data
    larger than file. Skipping tag N"), and the messages differ, so none is deduplicated."""
    count = min(tags, (65_000 - 20) // 12)
    entries = b"".join(struct.pack("<HHLL", 0x8000 + i, 4, 1000, 8)
                       for i in range(count))
    tiff = b"II*\x00" + struct.pack("<L", 8) + struct.pack("<H", count) + entries + b"\0" * 4
    return b"Exif\x00\x00" + tiff


def xmp_flood_jpeg(path: Path, *, xmp_bytes: int = XMP_BYTES,
                   tags: int = EXIF_FLOOD_TAGS) -> Path:
    """A small JPEG carrying ``xmp_bytes`` of XMP (in as many APP1 segments as it takes,
    each a packet as a careless writer splits it) and an EXIF block of ``tags`` damaged
    tags: thousands of Pillow warnings, one per tag, from merely opening it."""
    jpeg = small_jpeg()
    head = b"http://ns.adobe.com/xap/1.0/\x00"
    room = 65_533 - len(head)
    title = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
             b'1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/'
             b'elements/1.1/"><dc:title>flooded</dc:title></rdf:Description></rdf:RDF>'
             b"</x:xmpmeta>")
    filler = title + b" " * (xmp_bytes - len(title))
    segments = [_segment(0xFFE1, _exif_flood(tags))]
    segments += [_segment(0xFFE1, head + filler[i:i + room])
                 for i in range(0, len(filler), room)]
    path.write_bytes(jpeg[:2] + b"".join(segments) + jpeg[2:])
    return path


# --- giant images, written in kilobytes ----------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def giant_png(path: Path, size: tuple[int, int] = GIANT) -> Path:
    """A one-colour palette PNG (1 bit a pixel), complete and valid."""
    width, height = size
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    packer = zlib.compressobj(9)
    rows_per_piece = max(1, (1 << 20) // len(row))
    idat = b""
    for start in range(0, height, rows_per_piece):
        idat += packer.compress(row * min(rows_per_piece, height - start))
    idat += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"PLTE", bytes((30, 120, 200, 250, 250, 250)))
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))
    return path


def giant_gif(path: Path, size: tuple[int, int] = GIANT) -> Path:
    """A GIF whose screen is ``size`` and whose one frame is a pixel in its corner (as
    valid as any GIF: the rest of the screen is the background colour)."""
    width, height = size
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
    palette = bytes((30, 120, 200, 250, 250, 250))
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
    lzw = b"\x02\x02\x44\x01\x00"  # minimum code size 2; one sub-block: clear, 0, end
    path.write_bytes(screen + palette + frame + lzw + b";")
    return path


def giant_webp(path: Path, size: tuple[int, int] = GIANT) -> Path:
    """A lossless WebP of one colour: every prefix code has a single symbol, so the pixels
    take no bits at all (libwebp decodes it; at most 16,384 pixels a side)."""
    width, height = size
    bits = 0
    used = 0

    def put(value: int, count: int) -> None:
        nonlocal bits, used
        bits |= value << used
        used += count

    put(0, 1)  # no transform
    put(0, 1)  # no colour cache
    put(0, 1)  # no meta prefix codes
    for symbol in (0, 120, 200, 255, 0):  # green, red, blue, alpha, distance
        put(1, 1)  # a simple code ...
        put(0, 1)  # ... of one symbol ...
        put(1, 1)  # ... written in 8 bits
        put(symbol, 8)
    stream = bits.to_bytes((used + 7) // 8, "little")
    header = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14)
    chunk = header + stream
    chunk = b"VP8L" + struct.pack("<I", len(chunk)) + chunk + b"\0" * (len(chunk) % 2)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk)
    return path


def giant_tiff(path: Path, size: tuple[int, int] = GIANT) -> Path:
    """A one-colour bilevel TIFF, deflate-compressed (Pillow holds 1/8 byte a pixel)."""
    Image.new("1", size, 1).save(path, "TIFF", compression="tiff_adobe_deflate")
    return path


GIANT_WRITERS = {"giant.png": giant_png, "giant.gif": giant_gif, "giant.webp": giant_webp,
                 "giant.tif": giant_tiff}


def write_giants(folder: Path, size: tuple[int, int] = GIANT) -> list[Path]:
    """One ``size`` image in each of PNG, GIF, WebP and TIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write(folder / name, size) for name, write in GIANT_WRITERS.items()]


def write_hostile(folder: Path) -> dict[str, Path]:
    """One of each hostile case in ``folder`` (created), by file name: ``photo.jpg`` (a
    FIFO), ``zero.jpg`` (a link to /dev/zero), ``big.jpg`` (3 GB, sparse), ``xmp.jpg``
    (10 MB of XMP, 5,000 Pillow warnings) and the four 225-megapixel images."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "photo.jpg": fifo(folder / "photo.jpg"),
        "zero.jpg": zero_link(folder / "zero.jpg"),
        "big.jpg": sparse(folder / "big.jpg"),
        "xmp.jpg": xmp_flood_jpeg(folder / "xmp.jpg"),
    }
    files.update({path.name: path for path in write_giants(folder)})
    return files
