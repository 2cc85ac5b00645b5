"""What counts as the user's words: the sources a text comes from, its cleaning, and noise.

Every reader of a photo's words (:mod:`core.words.embedded`, :mod:`core.words.xmp`, the
sidecars and folders in :mod:`core.words.user_words`) hands raw values to an :data:`Add`
callback with their :data:`Source`; :func:`clean` and :func:`is_junk` decide what of them is
kept. :func:`album_name` says what a folder's name tells about its photos.

What counts as noise rather than words is kept in two documented sets below:
:data:`JUNK_TEXTS` (strings cameras and tools write by default) and
:data:`GENERIC_FOLDERS` (folder names that say nothing about the photos in them).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final, Literal, get_args

Source = Literal["title", "description", "keyword", "comment", "sidecar", "album"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)
"""Every source, in the order :func:`core.words.user_words.read_user_texts` returns them."""

Add = Callable[[Source, object], None]
"""How a reader hands over one raw value (str, bytes or anything) found for a source."""

MAX_CHARS: Final = 500
"""One text is cut to this many characters (at a word boundary when there is one)."""

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


def clean(value: object) -> str | None:
    """A raw value as text: NFC, whitespace collapsed, stripped, control characters out, at
    most :data:`MAX_CHARS` characters; None for what is not text (binary, empty)."""
    if isinstance(value, bytes):
        value = decode(value)
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


def is_junk(text: str, own_names: set[str]) -> bool:
    """Whether a cleaned text is noise (:data:`JUNK_TEXTS` and the rules below it);
    ``own_names`` are the photo's own names, casefolded."""
    folded = text.casefold()
    if folded in JUNK_TEXTS or folded in own_names:
        return True
    if text.isascii() and not any(ch.isalpha() for ch in text):
        return True
    if _CAMERA_NAME.match(text):
        return True
    return len(_MACHINE_PAIRS.findall(text)) >= 3 and text.count(";") + text.count(",") >= 2


def decode(raw: bytes) -> str:
    """UTF-8 when it is valid, else Latin-1 (which never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def redecode(value: object) -> object:
    """Pillow reads EXIF ASCII and PNG tEXt as Latin-1; many writers put UTF-8 there."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return value
    return value


def album_name(folder: str) -> str | None:
    """What a folder's name says about its photos, or None for generic and date folders."""
    if not folder or folder[0] in ".@$~#" or _DCF_FOLDER.match(folder) or _DATE_ONLY.match(folder):
        return None
    name = _DATE_EDGE.sub("", folder)  # "2019-06-01 Rome" -> "Rome": dates live elsewhere
    text = " ".join(unicodedata.normalize("NFC", name.replace("_", " ").replace("-", " ")).split())
    if not text or text.casefold() in GENERIC_FOLDERS or _DATE_ONLY.match(text):
        return None
    return text[:MAX_CHARS]
