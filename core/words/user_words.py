"""The user's own words for a photo: titles, captions, keywords, comments and album names.

:func:`read_user_texts` gathers them from the file's metadata and its surroundings, read-only:

* EXIF: ImageDescription, UserComment (its 8-byte charset prefix decoded), and the Windows
  XPTitle / XPSubject / XPComment / XPKeywords tags;
* XMP embedded in the file: dc:title, photoshop:Headline, dc:description, dc:subject,
  the leaves of lr:hierarchicalSubject and digiKam:TagsList, exif:UserComment, and the
  names of tagged face regions (MWG and Microsoft);
* IPTC: object name (2:05), headline (2:105), caption (2:120), keywords (2:25);
* sidecars next to the photo: ``IMG_1.jpg.xmp`` / ``IMG_1.xmp`` (darktable, Lightroom),
  read like embedded XMP, and ``IMG_1.txt`` / ``IMG_1.jpg.txt`` (one "sidecar" text);
* album names: the folders between the library root and the photo.

Only headers are parsed (Pillow's ``open`` is lazy); pixels are never decoded. Every source
is independent: a damaged one is skipped, logged at debug level, and never raises.

What counts as noise rather than words is kept in two documented sets below:
:data:`JUNK_TEXTS` (strings cameras and tools write by default) and
:data:`GENERIC_FOLDERS` (folder names that say nothing about the photos in them).
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, BinaryIO, Final, Literal, get_args

from PIL import ExifTags, Image, ImageFile, IptcImagePlugin

from core.photos.imaging import ALLOWED_FORMATS
from core.words.sidecars import sidecar_names

log = logging.getLogger(__name__)

Source = Literal["title", "description", "keyword", "comment", "sidecar", "album"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)
"""Every source, in the order :func:`read_user_texts` returns them."""

MAX_CHARS: Final = 500
"""One text is cut to this many characters (at a word boundary when there is one)."""
MAX_TEXTS: Final = 200
"""At most this many texts per photo (a file with thousands of keywords is cut short)."""
MAX_XMP_BYTES: Final = 1 << 20
"""An XMP packet or sidecar larger than this is skipped unread."""
MAX_TXT_BYTES: Final = 10 * 1024
"""Only the start of a ``.txt`` sidecar is read."""

JUNK_TEXTS: Final[frozenset[str]] = frozenset({
    # what cameras and phones write into ImageDescription / UserComment by default
    "olympus digital camera", "sony dsc", "konica minolta digital camera",
    "minolta digital camera", "samsung digital camera", "samsung camera pictures",
    "nikon digital camera", "pentax digital camera", "fujifilm digital camera",
    "leica digital camera", "kodak digital still camera", "digital camera", "digital still camera",
    "exif_jpeg_picture", "exif_jpeg_422", "exif jpeg", "dcim", "camera", "samsung", "casio",
    "easyshare", "hdr", "sdr",
    # placeholders written by tools
    "default", "untitled", "no title", "title", "description", "image description",
    "caption", "comment", "comments", "keywords", "unknown", "none", "null", "n/a", "na",
    "image", "picture", "photo", "jpeg", "jpg", "ascii", "unicode", "charset=ascii",
    "created with gimp", "screenshot_default",
})
"""Compared case-insensitively with the whole cleaned text. Texts that are only ASCII
punctuation or digits (``????``, ``0000``), that look like a camera's file name
(``IMG_1234``, ``DSC01234.JPG``) or equal the photo's own name, and machine-written
``key: value;`` lists (some phones' UserComment) are ignored too."""

GENERIC_FOLDERS: Final[frozenset[str]] = frozenset({
    "dcim", "camera", "camera roll", "camera uploads", "pictures", "my pictures", "picture",
    "photos", "my photos", "photo", "images", "image", "img", "imgs", "pics", "pic",
    "media", "my media", "downloads", "download", "desktop", "documents", "my documents",
    "home", "users", "originals", "masters", "new folder", "untitled folder", "misc",
    "temp", "tmp", "backup", "backups", "sdcard", "sd card", "internal storage",
    "google photos", "takeout", "icloud photos", "photo library", "exports", "export",
    "100media", "private", "thumbnails",
})
"""Folder names (``_``/``-`` read as spaces, any case) that never become album names.
Also skipped: DCF camera folders (``100CANON``, ``101APPLE``, ``100_FUJI``: three digits
then five letters, digits or underscores), names that are only a date or a number
(``2019``, ``2019-06-01``), and hidden or system folders (``.thumbnails``, ``@eaDir``,
``$RECYCLE.BIN``). A full date before or after a name is dropped from it, a year is kept:
``2019-06-01 Rome`` gives ``Rome``, ``Italy 2019`` stays. ``Screenshots`` and
``WhatsApp Images`` are kept: they say something."""

_DATE_ONLY = re.compile(r"^[\d\s._-]+$")
_DATE_EDGE = re.compile(
    r"^(?:19|20)\d\d(?:[-_. ]?\d\d){1,2}[\s_-]+|[\s_-]+(?:19|20)\d\d(?:[-_. ]?\d\d){1,2}$"
)
_DCF_FOLDER = re.compile(r"^[1-9]\d\d[A-Z0-9_]{5}$", re.IGNORECASE)
_CAMERA_NAME = re.compile(
    r"^(?:img|dsc[nfi]?|_dsc|_mg|pxl|mvimg|cimg|gopr|gp|dji|imag|pict|dcp|sdc|p|vid|wp)"
    r"[_-]?\d{3,}(?:[_-]\d+)*(?:\.[a-z0-9]{2,4})?$",
    re.IGNORECASE,
)
_MACHINE_PAIRS = re.compile(r"[A-Za-z_][\w-]*\s*[:=]")
_UNSAFE_XML = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XMP_START = re.compile(rb"<(?:x:xmpmeta|x:xapmeta|rdf:RDF)\b")

# Tried in this order on the bytes; each must also be allowed by core.photos.imaging.
_FORMATS: Final = tuple(
    f for f in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF", "GIF", "BMP")
    if f in ALLOWED_FORMATS
)


@dataclass(frozen=True, slots=True)
class UserText:
    """One text the user wrote about a photo, or named its album."""

    text: str
    """Cleaned: NFC, whitespace collapsed, stripped, at most :data:`MAX_CHARS` characters."""
    source: str
    """One of :data:`SOURCES`."""


Add = Callable[[Source, object], None]


def read_user_texts(
    path: Path, *, data: bytes | None = None, root: Path | None = None
) -> list[UserText]:
    """Everything the user wrote about the photo at ``path``, best sources first.

    ``data`` is the file's content when the caller has already read it (the file is then
    not read again). ``root`` is the library folder holding the photo: the folders below it
    (and its own name unless generic) become album names; without it, only the photo's
    own folder does. Texts are de-duplicated case-insensitively, keeping the first in the
    order of :data:`SOURCES`. Never raises, never writes.
    """
    buckets: dict[Source, list[str]] = {source: [] for source in SOURCES}
    # A title repeating the file's name is a tool's doing, not the user's ("Rosa.jpg" is
    # titled "Rosa" by the user, maybe; "IMG_1.jpg" is never titled "IMG_1" by one).
    own_names = {path.name.casefold()}
    if any(ch.isdigit() for ch in path.stem):
        own_names.add(path.stem.casefold())

    def add(source: Source, value: object) -> None:
        bucket = buckets[source]
        text = _clean(value) if len(bucket) < MAX_TEXTS else None
        if text is not None and not _is_junk(text, own_names):
            bucket.append(text)

    if data is not None:
        _guarded("embedded metadata", path, partial(_embedded, io.BytesIO(data), add))
    else:
        _guarded("embedded metadata", path, partial(_embedded_in_file, path, add))
    _guarded("sidecars", path, lambda: _sidecars(path, root, add))
    _guarded("album names", path, lambda: _albums(path, root, buckets["album"]))
    return _merge(buckets)


def _guarded(what: str, path: object, step: Callable[[], None]) -> None:
    try:
        step()
    except Exception as exc:  # any damage in one source must not cost the others
        log.debug("user words: %s of %s skipped: %r", what, path, exc)


def _merge(buckets: dict[Source, list[str]]) -> list[UserText]:
    seen: set[str] = set()
    out: list[UserText] = []
    for source in SOURCES:
        for text in buckets[source]:
            key = text.casefold()
            if key not in seen:
                seen.add(key)
                out.append(UserText(text, source))
                if len(out) >= MAX_TEXTS:
                    return out
    return out


# --- cleaning ---------------------------------------------------------------------------


def _clean(value: object) -> str | None:
    if isinstance(value, bytes):
        value = _decode(value)
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "")
    if not value:
        return None
    noise = sum(1 for ch in value if _is_noise(ch))
    if noise * 10 > len(value):  # binary rather than text
        return None
    if noise:
        value = "".join(ch for ch in value if not _is_noise(ch))
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS]
        space = cut.rfind(" ")
        text = (cut[:space] if space > MAX_CHARS - 60 else cut).rstrip()
    return text or None


def _is_noise(ch: str) -> bool:
    """Control characters (but tabs and line breaks) and undecodable bytes."""
    return (ch < " " and ch not in "\t\n\r") or "\x7f" <= ch <= "\x9f" or ch == "\ufffd"


def _is_junk(text: str, own_names: set[str]) -> bool:
    folded = text.casefold()
    if folded in JUNK_TEXTS or folded in own_names:
        return True
    if text.isascii() and not any(ch.isalpha() for ch in text):
        return True
    if _CAMERA_NAME.match(text):
        return True
    return len(_MACHINE_PAIRS.findall(text)) >= 3 and text.count(";") + text.count(",") >= 2


def _decode(raw: bytes) -> str:
    """UTF-8 when it is valid, else Latin-1 (which never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _redecode(value: object) -> object:
    """Pillow reads EXIF ASCII and PNG tEXt as Latin-1; many writers put UTF-8 there."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return value
    return value


# --- the file itself -------------------------------------------------------------------


_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def _open_file(path: Path) -> BinaryIO | None:
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


def _embedded_in_file(path: Path, add: Add) -> None:
    """Read the file through a handle: Pillow then reads the headers, not the whole file."""
    handle = _open_file(path)
    if handle is not None:
        with handle:
            _embedded(handle, add)


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


def _embedded(fp: IO[bytes], add: Add) -> None:
    image = _open(fp)
    xmp = image.info.get("xmp") if image is not None else None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not isinstance(xmp, bytes) and (image is None or image.format == "GIF"):
        fp.seek(0)
        xmp = _find_xmp(fp.read(4 * MAX_XMP_BYTES))
    if isinstance(xmp, bytes):
        _guarded("XMP", "the data", partial(_xmp, xmp, add))
    if image is None:
        return
    with image:
        _guarded("IPTC", "the data", partial(_iptc, image, add))
        _guarded("EXIF", "the data", partial(_exif, image, add))
        if image.format == "PNG":  # PNG's own text chunks
            for key, source in _PNG_TEXT:
                add(source, _redecode(image.info.get(key)))


def _find_xmp(data: bytes) -> bytes | None:
    """The XMP packet in bytes that hold more than it (a GIF, a file Pillow cannot open)."""
    found = _XMP_START.search(data)
    if found is None:
        return None
    tag = found.group()[1:]
    end = data.find(b"</" + tag + b">", found.start())
    return None if end < 0 else data[found.start() : end + len(tag) + 3]


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
    add("description", _redecode(exif.get(ExifTags.Base.ImageDescription)))
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
        return _decode(body.replace(b"\x00", b""))
    return _decode(value.replace(b"\x00", b""))  # no prefix at all: a writer's mistake


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
                add(source, _decode(raw))


# --- XMP --------------------------------------------------------------------------------

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _leaf(separator: str) -> Callable[[str], str]:
    return lambda text: text.rsplit(separator, 1)[-1]


_XMP_PROPS: Final[dict[str, tuple[Source, Callable[[str], str] | None]]] = {
    f"{_DC}title": ("title", None),
    "{http://ns.adobe.com/photoshop/1.0/}Headline": ("title", None),
    f"{_DC}description": ("description", None),
    f"{_DC}subject": ("keyword", None),
    "{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject": ("keyword", _leaf("|")),
    "{http://www.digikam.org/ns/1.0/}TagsList": ("keyword", _leaf("/")),
    "{http://www.metadataworkinggroup.com/schemas/regions/}Name": ("keyword", None),
    "{http://ns.microsoft.com/photo/1.2/t/Region#}PersonDisplayName": ("keyword", None),
    "{http://ns.adobe.com/exif/1.0/}UserComment": ("comment", None),
}


def _xmp(packet: bytes, add: Add) -> None:
    """Parse an XMP packet safely: bounded size, no DTDs (so no entities to expand)."""
    if len(packet) > MAX_XMP_BYTES:
        log.debug("user words: XMP packet of %d bytes skipped", len(packet))
        return
    if _UNSAFE_XML.search(packet):
        log.debug("user words: XMP packet with a DTD skipped")
        return
    packet = packet.strip(b"\x00 \t\r\n")
    try:
        root = ET.fromstring(packet)
    except ET.ParseError:
        inner = _find_xmp(packet)  # junk around the packet: parse the part that is XML
        if inner is None:
            raise
        root = ET.fromstring(inner)
    found: dict[str, list[str]] = {}
    for element in root.iter():
        if element.tag in _XMP_PROPS:
            found.setdefault(str(element.tag), []).extend(_xmp_values(element))
        for name, value in element.attrib.items():  # the short form: properties as attributes
            if name in _XMP_PROPS:
                found.setdefault(name, []).append(value)
    for name, (source, transform) in _XMP_PROPS.items():  # dc:title before Headline, ...
        for value in found.get(name, ()):
            add(source, transform(value) if transform else value)


def _xmp_values(element: ET.Element) -> list[str]:
    """A property's text: rdf:Alt gives its x-default (or first) item, Bag/Seq every item."""
    for container in element:
        if container.tag == f"{_RDF}Alt":
            items = [li for li in container if li.tag == f"{_RDF}li"]
            chosen = next((li for li in items if li.get(_LANG) == "x-default"), None)
            chosen = chosen if chosen is not None else (items[0] if items else None)
            return [chosen.text] if chosen is not None and chosen.text else []
        if container.tag in (f"{_RDF}Bag", f"{_RDF}Seq"):
            return [li.text for li in container if li.tag == f"{_RDF}li" and li.text]
    return [element.text] if element.text and len(element) == 0 else []


# --- sidecars ---------------------------------------------------------------------------


def _read_start(path: Path, limit: int, within: Path) -> bytes | None:
    """Up to ``limit + 1`` bytes of ``path``; None when it is absent or unreadable, or a
    link to a file outside the folder ``within``."""
    handle = _open_file(path)
    if handle is None:
        return None
    with handle:
        if path.is_symlink() and not _leads_inside(path, handle, within):
            log.debug("user words: %s links out of %s: not read", path, within)
            return None
        return handle.read(limit + 1)  # an OSError here skips the sidecars (logged)


def _leads_inside(link: Path, handle: BinaryIO, within: Path) -> bool:
    """Whether the file opened through ``link`` lies inside ``within`` (links resolved on
    both sides): the file ``link`` resolves to must be the one open, else the link changed
    in between."""
    target = os.path.realpath(link)
    if not Path(target).is_relative_to(os.path.realpath(within)):
        return False
    opened, found = os.fstat(handle.fileno()), os.stat(target)
    return (opened.st_dev, opened.st_ino) == (found.st_dev, found.st_ino)


def _sidecars(path: Path, root: Path | None, add: Add) -> None:
    # A sidecar may be a link, but not out of the library: IMG_1.txt -> ~/.ssh/id_rsa would
    # put that file's text into the catalog. Without the root, only the photo's own folder
    # (and below) is known to be in the library.
    within = root if root is not None and path.is_relative_to(root) else path.parent
    # The names core.words.sidecars signs: an edit of one of them gets its photo's words re-read.
    for candidate in (path.with_name(n) for n in sidecar_names(path.name, ".xmp")):
        packet = _read_start(candidate, MAX_XMP_BYTES, within)
        if packet is not None:
            _guarded("sidecar XMP", candidate, partial(_xmp, packet, add))
    for candidate in (path.with_name(n) for n in sidecar_names(path.name, ".txt")):
        raw = _read_start(candidate, MAX_TXT_BYTES, within)
        if raw is not None:
            text = raw[:MAX_TXT_BYTES].decode("utf-8", errors="replace")
            if len(raw) > MAX_TXT_BYTES:
                text = text.rstrip("\ufffd")  # a character cut in half at the limit
            add("sidecar", text.removeprefix("\ufeff"))


# --- album names ------------------------------------------------------------------------


def _albums(path: Path, root: Path | None, out: list[str]) -> None:
    folders = [path.parent.name]
    if root is not None and path.parent.is_relative_to(root):  # else: its own folder only
        folders = [root.name, *path.parent.relative_to(root).parts]
    for name in folders:
        album = album_name(name)
        if album is not None:
            out.append(album)


def album_name(folder: str) -> str | None:
    """What a folder's name says about its photos, or None for generic and date folders."""
    if not folder or folder[0] in ".@$~#" or _DCF_FOLDER.match(folder) or _DATE_ONLY.match(folder):
        return None
    name = _DATE_EDGE.sub("", folder)  # "2019-06-01 Rome" -> "Rome": dates live elsewhere
    text = " ".join(unicodedata.normalize("NFC", name.replace("_", " ").replace("-", " ")).split())
    if not text or text.casefold() in GENERIC_FOLDERS or _DATE_ONLY.match(text):
        return None
    return text[:MAX_CHARS]

