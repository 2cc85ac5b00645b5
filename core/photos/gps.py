"""Where a photo was taken: the GPS position in its EXIF (JPEG, TIFF-based RAW, HEIC) or XMP.

A position is trusted only when it is whole and plausible: a damaged block (a missing
hemisphere, a zero denominator, a NaN, minutes past 60, a latitude past 90), the receiver's
"void" status, or exactly 0,0 (what some cameras write with no fix) gives None, never an
exception: bad metadata never costs a photo its place in the library.
"""

from __future__ import annotations

import math
import numbers
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PIL import Image

GPS_IFD: Final = 0x8825
_STATUS, _LAT_REF, _LAT, _LON_REF, _LON = 9, 1, 2, 3, 4

MAX_XMP_BYTES: Final = 1 << 20
"""An XMP packet larger than this is not read for a position."""

_EXIF_NS = "{http://ns.adobe.com/exif/1.0/}"
_UNSAFE_XML = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XMP_START = re.compile(rb"<(?:x:xmpmeta|x:xapmeta|rdf:RDF)\b")
# XMP's GPSCoordinate: "DDD,MM,SSk" or "DDD,MM.mmk" (k: N, S, E or W); a plain signed decimal
# is not in the standard but some tools write it, and it is unambiguous.
_XMP_COORDINATE = re.compile(
    r"(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?([NSEW])", re.IGNORECASE)
_DECIMAL = re.compile(r"[+-]?\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Position:
    """A point on the Earth in degrees (WGS84): north and east are positive."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"not a position on the Earth: {self.lat}, {self.lon}")


def _plausible(lat: float | None, lon: float | None) -> Position | None:
    """The position, unless a part is missing, out of range, or exactly 0,0 (no fix)."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if abs(lat) > 90.0 or abs(lon) > 180.0 or (lat == 0.0 and lon == 0.0):
        return None
    return Position(lat, lon)


def _letter(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip().upper()
    return cleaned or None


def _number(value: object) -> float | None:
    """A finite number, not negative, from an int, a float or an IFDRational."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None  # text, bytes, a nested tuple: not a coordinate
    try:
        number = float(value)  # an IFDRational with a zero denominator gives NaN
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0.0 else None


def _degrees(parts: object, ref: object, signs: str) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and a hemisphere letter;
    ``signs`` is the positive then the negative letter ("NS", "EW")."""
    letter = _letter(ref)
    if letter is None or len(letter) != 1 or letter not in signs:
        return None
    values = parts if isinstance(parts, tuple | list) else (parts,)
    if not 1 <= len(values) <= 3:
        return None
    parsed = [_number(value) for value in values]
    if any(value is None for value in parsed):
        return None
    return _signed([value for value in parsed if value is not None], letter == signs[1])


def _signed(parts: list[float], negative: bool) -> float | None:
    """Degrees, minutes and seconds summed; None when minutes or seconds exceed 60."""
    if any(part > 60.0 for part in parts[1:]):
        return None
    total = sum(part / 60.0**index for index, part in enumerate(parts))
    return -total if negative else total


def position_from_exif(exif: Image.Exif) -> Position | None:
    """The GPS position in ``exif``'s GPS IFD, or None when it is absent, void or damaged."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # a GPS pointer to nowhere: the rest of the EXIF is still good
        return None
    if not gps or _letter(gps.get(_STATUS)) == "V":  # "V": measurement void
        return None
    return _plausible(_degrees(gps.get(_LAT), gps.get(_LAT_REF), "NS"),
                      _degrees(gps.get(_LON), gps.get(_LON_REF), "EW"))


def _xmp_coordinate(text: str | None, signs: str) -> float | None:
    """Degrees from XMP's GPSCoordinate text ("37,23.0N", "5,58,30W", "-33.85")."""
    if text is None:
        return None
    text = "".join(text.split())
    if _DECIMAL.fullmatch(text):
        return float(text)
    found = _XMP_COORDINATE.fullmatch(text)
    if found is None or found.group(4).upper() not in signs:
        return None
    parts = [float(part) for part in found.groups()[:3] if part is not None]
    return _signed(parts, found.group(4).upper() == signs[1])


def _xmp_root(packet: bytes) -> ET.Element | None:
    """The packet's XML, parsed safely: bounded size, no DTD (so no entities to expand)."""
    if len(packet) > MAX_XMP_BYTES or _UNSAFE_XML.search(packet):
        return None
    start = _XMP_START.search(packet)  # junk around the packet (an APP1 header, padding)
    if start is None:
        return None
    tag = start.group()[1:]
    end = packet.find(b"</" + tag + b">", start.start())
    try:
        return None if end < 0 else ET.fromstring(packet[start.start(): end + len(tag) + 3])
    except ET.ParseError:
        return None


def _xmp_property(root: ET.Element) -> Callable[[str], str | None]:
    """A reader of one exif: property, written as an attribute or as an element."""
    def read(name: str) -> str | None:
        for element in root.iter():
            if (value := element.get(_EXIF_NS + name)) is not None:
                return value
            if element.tag == _EXIF_NS + name and len(element) == 0:
                return element.text
        return None
    return read


def position_from_xmp(xmp: str | bytes) -> Position | None:
    """The position in an XMP packet's exif:GPSLatitude and exif:GPSLongitude, or None when
    it is absent, void or damaged."""
    root = _xmp_root(xmp.encode("utf-8") if isinstance(xmp, str) else xmp)
    if root is None:
        return None
    read = _xmp_property(root)
    if (_letter(read("GPSStatus")) or "") == "V":
        return None
    return _plausible(_xmp_coordinate(read("GPSLatitude"), "NS"),
                      _xmp_coordinate(read("GPSLongitude"), "EW"))
