"""The user's words embedded in a photo file, per format, read from its headers only.

* EXIF: ImageDescription, UserComment (its 8-byte charset prefix decoded), and the Windows
  XPTitle / XPSubject / XPComment / XPKeywords tags;
* XMP embedded in the file (read by :mod:`core.words.xmp`);
* IPTC: object name (2:05), headline (2:105), caption (2:120), keywords (2:25);
* PNG's own text chunks: Title, Description, Comment.

Only headers are parsed (Pillow's ``open`` is lazy); pixels are never decoded. Every
format is independent: a damaged one is skipped (:func:`guarded`), logged at debug level.
"""

from __future__ import annotations

import logging
import os
import stat
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, BinaryIO, Final

from PIL import ExifTags, Image, ImageFile, IptcImagePlugin

from core.photos.decoding import ALLOWED_FORMATS
from core.words.cleaning import Add, Source, decode, redecode
from core.words.xmp import MAX_XMP_BYTES, find_xmp, read_xmp

log = logging.getLogger(__name__)

# Tried in this order on the bytes; each must also be allowed by core.photos.decoding.
_FORMATS: Final = tuple(
    f for f in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF", "GIF", "BMP")
    if f in ALLOWED_FORMATS
)


def guarded(what: str, path: object, step: Callable[[], None]) -> None:
    """Run one source's reading; any damage in it is logged and must not cost the others."""
    try:
        step()
    except Exception as exc:  # any damage in one source must not cost the others
        log.debug("user words: %s of %s skipped: %r", what, path, exc)


# --- the file itself -------------------------------------------------------------------


_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def open_regular(path: Path) -> BinaryIO | None:
    """A regular file for reading; None when absent, unreadable or special (a FIFO would
    block forever). Absence costs one system call, like ``exists()`` alone would."""
    fd = -1
    try:
        fd = os.open(path, _OPEN_FLAGS)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return os.fdopen(fd, "rb")
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.debug("user words: cannot open %s: %r", path, exc)
    if fd >= 0:
        os.close(fd)
    return None


def read_file(path: Path, add: Add) -> None:
    """Read the file through a handle: Pillow then reads the headers, not the whole file."""
    handle = open_regular(path)
    if handle is not None:
        with handle:
            read_embedded(handle, add)


def _open(fp: IO[bytes]) -> Image.Image | None:
    """Parse the header among the allowed formats; no pixels, no decompression-bomb check."""
    prefix = fp.read(16)
    for fmt in _FORMATS:
        factory, accept = Image.OPEN[fmt]
        verdict = True if accept is None else accept(prefix)
        if not verdict or isinstance(verdict, str):
            continue
        try:
            fp.seek(0)
            return factory(fp, "")
        except Exception:  # "not mine" or a broken header: try the next plugin
            continue
    return None


_PNG_TEXT: Final[tuple[tuple[str, Source], ...]] = (
    ("Title", "title"),
    ("Description", "description"),
    ("Comment", "comment"),
)


def read_embedded(fp: IO[bytes], add: Add) -> None:
    """Every format's words in the file ``fp`` holds: XMP, then IPTC, EXIF and PNG text."""
    image = _open(fp)
    xmp = image.info.get("xmp") if image is not None else None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not isinstance(xmp, bytes) and (image is None or image.format == "GIF"):
        fp.seek(0)
        xmp = find_xmp(fp.read(4 * MAX_XMP_BYTES))
    if isinstance(xmp, bytes):
        guarded("XMP", "the data", partial(read_xmp, xmp, add))
    if image is None:
        return
    with image:
        guarded("IPTC", "the data", partial(_iptc, image, add))
        guarded("EXIF", "the data", partial(_exif, image, add))
        if image.format == "PNG":  # PNG's own text chunks
            for key, source in _PNG_TEXT:
                add(source, redecode(image.info.get(key)))


# --- EXIF -------------------------------------------------------------------------------

_XP_TAGS: Final[tuple[tuple[int, Source], ...]] = (
    (0x9C9B, "title"),  # XPTitle
    (0x9C9F, "description"),  # XPSubject
    (0x9C9C, "comment"),  # XPComment
)
_XP_KEYWORDS: Final = 0x9C9E


def _exif(image: Image.Image, add: Add) -> None:
    # The base class method reads only what the header gave (PNG's own loads the pixels).
    exif = Image.Image.getexif(image)
    if not len(exif):
        return
    add("description", redecode(exif.get(ExifTags.Base.ImageDescription)))
    for tag, source in _XP_TAGS:
        add(source, _utf16le(exif.get(tag)))
    for keyword in (_utf16le(exif.get(_XP_KEYWORDS)) or "").split(";"):
        add("keyword", keyword)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    add("comment", user_comment(sub.get(ExifTags.Base.UserComment), exif.endian))


def _as_bytes(value: object) -> object:
    """Pillow gives some BYTE-typed tags as tuples of ints."""
    if isinstance(value, tuple):
        return bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
    return value


def _utf16le(value: object) -> str | None:
    value = _as_bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace").replace("\x00", "")
    return value if isinstance(value, str) else None


def user_comment(value: object, endian: str | None = None) -> str | None:
    """Decode EXIF UserComment: an 8-byte charset prefix, then the text.

    ``endian`` is the EXIF block's byte order (``"<"`` or ``">"``), the spec's choice for
    UNICODE; BOMs and the text itself overrule it, since many writers ignore the spec.
    """
    value = _as_bytes(value)
    if not isinstance(value, bytes):
        return value if isinstance(value, str) else None
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\x00":
        return _utf16(body, endian)
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        return _jis(body.rstrip(b"\x00 "))
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return decode(body.replace(b"\x00", b""))
    return decode(value.replace(b"\x00", b""))  # no prefix at all: a writer's mistake


def _utf16(body: bytes, endian: str | None) -> str:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", errors="replace")
    body = body[: len(body) // 2 * 2]
    while body.endswith(b"\x00\x00"):
        body = body[:-2]
    # The byte order that reads as common script wins; ties go to the file's own order.
    orders = ["utf-16-be", "utf-16-le"] if endian == ">" else ["utf-16-le", "utf-16-be"]
    return max((body.decode(o, errors="replace") for o in orders), key=_plausibility)


# Code point ranges of everyday scripts. Read in the wrong byte order, Latin text turns
# into CJK (2 points each down to 1) and CJK into scattered rare blocks (1 down to 0 or -2).
_COMMON_SCRIPTS: Final = (
    (0x00A0, 0x024F), (0x0370, 0x052F), (0x0590, 0x06FF), (0x0E00, 0x0E7F),
    (0x2000, 0x206F), (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
    (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF),
)


def _plausibility(text: str) -> int:
    score = 0
    for ch in text:
        point = ord(ch)
        if 0x20 <= point < 0x7F:
            score += 2
        elif any(low <= point <= high for low, high in _COMMON_SCRIPTS):
            score += 1
        elif ch == "\ufffd" or not ch.isprintable() or unicodedata.category(ch) in ("Cn", "Co"):
            score -= 2
    return score


def _jis(body: bytes) -> str | None:
    for codec in ("iso2022_jp", "shift_jis", "euc_jp"):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


# --- IPTC -------------------------------------------------------------------------------

_IPTC: Final[tuple[tuple[tuple[int, int], Source], ...]] = (
    ((2, 5), "title"),  # object name
    ((2, 105), "title"),  # headline
    ((2, 120), "description"),  # caption/abstract
    ((2, 25), "keyword"),  # keywords, one record each
)


def _iptc(image: Image.Image, add: Add) -> None:
    if not isinstance(image, ImageFile.ImageFile):
        return
    info = IptcImagePlugin.getiptcinfo(image)
    if not info:
        return
    for key, source in _IPTC:
        value = info.get(key)
        for raw in value if isinstance(value, list) else [value]:
            if isinstance(raw, bytes):
                add(source, decode(raw))
