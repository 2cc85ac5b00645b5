"""XMP, embedded in a photo or in a sidecar next to it, read safely for the user's words.

:func:`read_xmp` hands over dc:title, photoshop:Headline, dc:description, dc:subject, the
leaves of lr:hierarchicalSubject and digiKam:TagsList, exif:UserComment, and the names of
tagged face regions (MWG and Microsoft), in that order. A packet is bounded in size and
never has a DTD (so no entities to expand); both the long form (rdf:Alt, rdf:Bag, rdf:Seq)
and the short one (properties as attributes) are read.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from core.photos.gps import Position, position_from_xmp
from core.words.cleaning import Add, Source

log = logging.getLogger(__name__)

MAX_XMP_BYTES: Final = 1 << 20
"""An XMP packet or sidecar larger than this is skipped unread."""

_UNSAFE_XML = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XMP_START = re.compile(rb"<(?:x:xmpmeta|x:xapmeta|rdf:RDF)\b")

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


def find_xmp(data: bytes) -> bytes | None:
    """The XMP packet in bytes that hold more than it (a GIF, a file Pillow cannot open)."""
    found = _XMP_START.search(data)
    if found is None:
        return None
    tag = found.group()[1:]
    end = data.find(b"</" + tag + b">", found.start())
    return None if end < 0 else data[found.start() : end + len(tag) + 3]


# GPS positions of the packets read while a caller collects them (one list per thread).
_POSITIONS: ContextVar[list[Position] | None] = ContextVar("xmp_positions", default=None)


@contextmanager
def collecting_positions() -> Iterator[list[Position]]:
    """Collect the GPS positions (``exif:GPSLatitude``/``GPSLongitude``) of the XMP packets
    read inside the block, embedded or in sidecars, in the order they were read."""
    found: list[Position] = []
    token = _POSITIONS.set(found)
    try:
        yield found
    finally:
        _POSITIONS.reset(token)


def read_xmp(packet: bytes, add: Add) -> None:
    """Parse an XMP packet safely: bounded size, no DTDs (so no entities to expand).
    Raises on XML that does not parse (the caller guards it)."""
    if len(packet) > MAX_XMP_BYTES:
        log.debug("user words: XMP packet of %d bytes skipped", len(packet))
        return
    if _UNSAFE_XML.search(packet):
        log.debug("user words: XMP packet with a DTD skipped")
        return
    packet = packet.strip(b"\x00 \t\r\n")
    positions = _POSITIONS.get()
    if positions is not None and (position := position_from_xmp(packet)) is not None:
        positions.append(position)
    try:
        root = ET.fromstring(packet)
    except ET.ParseError:
        inner = find_xmp(packet)  # junk around the packet: parse the part that is XML
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
