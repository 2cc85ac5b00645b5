"""The size an image file announces in its header, read before any Pillow plugin runs.

Pillow's WebP plugin allocates the whole canvas as it opens a file, and Pillow's own guard
in the WebP and GIF plugins refuses a large image without naming its size; core.photos.imaging
reads the size here first, to refuse what is over its limit naming the size, before any
allocation. Other formats announce their size without allocating: they are checked once
opened.
"""

from __future__ import annotations

import struct
from os import SEEK_CUR
from typing import BinaryIO


def declared_size(fmt: str, head: bytes, source: BinaryIO) -> tuple[int, int] | None:
    """The size a WebP or GIF announces; None for other formats or a broken header."""
    try:
        if fmt == "WEBP":
            return webp_size(head)
        if fmt == "GIF":
            return gif_size(source)
    except (OSError, struct.error):  # a broken header: the plugin says so
        return None
    return None


def webp_size(head: bytes) -> tuple[int, int] | None:
    """The canvas of a WebP: VP8X, lossless VP8L or lossy VP8 (as Pillow's plugin reads it)."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        return (int.from_bytes(head[24:27], "little") + 1,
                int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return (int.from_bytes(head[26:28], "little") & 0x3FFF,
                int.from_bytes(head[28:30], "little") & 0x3FFF)
    return None


def webp_is_lossy(source: BinaryIO) -> bool:
    """Whether a WebP (read from its start) holds one lossy picture (``VP8``, with or
    without an ``ALPH`` alpha plane), which libwebp can decode straight at a reduced
    size; False for lossless (``VP8L``), animated (``ANIM``) or unreadable. The chunks
    before the picture (ICC profile, ...) are skipped, not read."""
    head = source.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return False
    for _ in range(16):
        chunk = source.read(8)
        if len(chunk) < 8:
            return False
        kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if kind in (b"VP8 ", b"ALPH"):
            return True
        if kind in (b"VP8L", b"ANIM"):
            return False
        if kind == b"VP8X":
            flags = source.read(1)
            if not flags or flags[0] & 0x02:  # the animation flag
                return False
            length -= 1
        source.seek(length + (length & 1), SEEK_CUR)  # chunks are padded to even sizes
    return False


def gif_size(source: BinaryIO) -> tuple[int, int] | None:
    """A GIF's screen, grown to its first frame where that frame reaches beyond it (as
    Pillow grows it): extension blocks before the frame are skipped, not read."""
    source.seek(6)
    screen = source.read(7)
    if len(screen) < 7:
        return None
    width, height, flags = struct.unpack("<HHB", screen[:5])
    if flags & 0x80:  # a global colour table of 2^(n+1) RGB entries
        source.seek(3 << ((flags & 7) + 1), SEEK_CUR)
    while (kind := source.read(1)) == b"!":  # an extension: a label, then sub-blocks
        source.read(1)
        while (length := source.read(1)) and length[0]:
            source.seek(length[0], SEEK_CUR)
    frame = source.read(8) if kind == b"," else b""
    if len(frame) < 8:
        return width, height
    left, top, frame_width, frame_height = struct.unpack("<HHHH", frame)
    return max(width, left + frame_width), max(height, top + frame_height)
