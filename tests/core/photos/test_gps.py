"""core.photos.gps: the position a photo's EXIF or XMP gives, and None for anything doubtful.

The photos are written here with Pillow (JPEG, TIFF as TIFF-based RAWs are read, HEIC
through pillow_heif) and read back as the decoder reads them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from core.photos.gps import GPS_IFD, Position, position_from_exif, position_from_xmp


def dms(degrees: int, minutes: int, seconds: float) -> tuple[IFDRational, ...]:
    return (IFDRational(degrees, 1), IFDRational(minutes, 1),
            IFDRational(round(seconds * 100), 100))


SYDNEY = {1: "S", 2: dms(33, 51, 25.1), 3: "E", 4: dms(151, 12, 55.2), 9: "A"}
SEVILLE = {1: "N", 2: dms(37, 23, 20.8), 3: "W", 4: dms(5, 59, 4.2)}


def gps_exif(gps: dict[int, Any]) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD).update(gps)
    return exif


def saved(path: Path, gps: dict[int, Any], **options: Any) -> Position | None:
    """The position of a photo written at ``path`` with this GPS block, as read back (while
    the file is open: a TIFF's GPS block is read from it when first asked for)."""
    Image.new("RGB", (16, 12), "teal").save(path, exif=gps_exif(gps).tobytes(), **options)
    with Image.open(path) as photo:
        return position_from_exif(photo.getexif())


def assert_near(position: Position | None, lat: float, lon: float) -> None:
    assert position is not None
    assert position.lat == pytest.approx(lat, abs=1e-5)
    assert position.lon == pytest.approx(lon, abs=1e-5)


def test_a_jpeg_south_and_east_of_greenwich(tmp_path: Path) -> None:
    assert_near(saved(tmp_path / "opera.jpg", SYDNEY),
                -(33 + 51 / 60 + 25.1 / 3600), 151 + 12 / 60 + 55.2 / 3600)


def test_a_tiff_north_and_west_of_greenwich(tmp_path: Path) -> None:
    """TIFF's EXIF is how DNG and other TIFF-based RAWs are read (core.photos.raw)."""
    assert_near(saved(tmp_path / "giralda.tif", SEVILLE),
                37 + 23 / 60 + 20.8 / 3600, -(5 + 59 / 60 + 4.2 / 3600))


def test_a_heic(tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    assert_near(saved(tmp_path / "giralda.heic", SEVILLE, format="HEIF"), 37.389111, -5.9845)


def test_degrees_with_decimal_minutes_or_as_one_number() -> None:
    decimal_minutes = {1: "N", 2: (IFDRational(37, 1), IFDRational(2334, 100), IFDRational(0, 1)),
                       3: "W", 4: (5, 59.07, 0)}
    assert_near(position_from_exif(gps_exif(decimal_minutes)), 37.389, -5.9845)
    one_number = {1: b"S\x00", 2: IFDRational(3385, 100), 3: "e", 4: 151.2}
    assert_near(position_from_exif(gps_exif(one_number)), -33.85, 151.2)


def test_no_gps_block_gives_none(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.jpg")
    with Image.open(tmp_path / "plain.jpg") as photo:
        assert position_from_exif(photo.getexif()) is None
    assert position_from_exif(Image.Exif()) is None


@pytest.mark.parametrize("damage", [
    {1: None},                                          # no hemisphere
    {3: "X"},                                           # not a hemisphere
    {1: "NS"},                                          # two of them
    {1: "E"},                                           # a longitude's letter on the latitude
    {2: None},                                          # no latitude
    {2: (IFDRational(37, 0), IFDRational(23, 1), IFDRational(0, 1))},  # zero denominator
    {4: (float("nan"), 0, 0)},                          # not a number
    {2: (91, 0, 0)},                                    # past the pole
    {4: (181, 0, 0)},                                   # past the date line
    {2: (37, 75, 0)},                                   # 75 minutes
    {2: (-37, 23, 0)},                                  # a sign as well as a letter
    {2: (37, 23, 0, 5)},                                # four parts
    {2: ()},                                            # no parts
    {2: ("37", "23", "0")},                             # text
    {2: (True, 0, 0)},                                  # not a number either
    {9: "V"},                                           # the receiver said "void"
])
def test_a_damaged_or_void_block_gives_none(damage: dict[int, Any]) -> None:
    gps = {key: value for key, value in {**SEVILLE, **damage}.items() if value is not None}
    assert position_from_exif(gps_exif(gps)) is None


def test_a_damaged_block_written_to_a_file_gives_none(tmp_path: Path) -> None:
    broken = {**SEVILLE, 2: (IFDRational(37, 0), IFDRational(23, 1), IFDRational(0, 1))}
    assert saved(tmp_path / "broken.jpg", broken) is None


def test_zero_zero_is_no_fix(tmp_path: Path) -> None:
    nowhere = {1: "N", 2: dms(0, 0, 0), 3: "E", 4: dms(0, 0, 0)}
    assert saved(tmp_path / "nowhere.jpg", nowhere) is None
    equator = {1: "N", 2: dms(0, 0, 0), 3: "E", 4: dms(32, 34, 0)}  # Lake Victoria is real
    assert_near(position_from_exif(gps_exif(equator)), 0.0, 32 + 34 / 60)


@pytest.mark.filterwarnings("ignore:Truncated File Read")
def test_a_gps_pointer_to_nowhere_gives_none() -> None:
    exif = Image.Exif()
    exif.load(gps_exif(SEVILLE).tobytes()[:-40])  # the GPS IFD cut off
    assert position_from_exif(exif) is None


def xmp(properties: str, body: str = "") -> str:
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" {properties}>
   {body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def test_xmp_attributes_with_decimal_minutes() -> None:
    packet = xmp('exif:GPSLatitude="33,51.4183S" exif:GPSLongitude="151,12.92E"')
    assert_near(position_from_xmp(packet), -(33 + 51.4183 / 60), 151 + 12.92 / 60)


def test_xmp_elements_with_seconds_as_bytes() -> None:
    packet = xmp("", "<exif:GPSLatitude>37,23,20.8N</exif:GPSLatitude>"
                     "<exif:GPSLongitude>5,59,4.2W</exif:GPSLongitude>")
    assert_near(position_from_xmp(b"junk before" + packet.encode() + b"\0\0"),
                37 + 23 / 60 + 20.8 / 3600, -(5 + 59 / 60 + 4.2 / 3600))


def test_xmp_signed_decimals() -> None:
    assert_near(position_from_xmp(xmp('exif:GPSLatitude="-33.85" exif:GPSLongitude="151.2"')),
                -33.85, 151.2)


@pytest.mark.parametrize("properties", [
    "",                                                               # no position
    'exif:GPSLatitude="37,23.3N"',                                    # no longitude
    'exif:GPSLatitude="37,23.3E" exif:GPSLongitude="5,59.07W"',       # wrong letter
    'exif:GPSLatitude="37,73.3N" exif:GPSLongitude="5,59.07W"',       # 73 minutes
    'exif:GPSLatitude="97,23.3N" exif:GPSLongitude="5,59.07W"',       # past the pole
    'exif:GPSLatitude="north" exif:GPSLongitude="west"',              # words
    'exif:GPSLatitude="0,0N" exif:GPSLongitude="0,0E"',               # no fix
    'exif:GPSLatitude="37,23.3N" exif:GPSLongitude="5,59.07W" exif:GPSStatus="V"',
])
def test_xmp_without_a_trustworthy_position_gives_none(properties: str) -> None:
    assert position_from_xmp(xmp(properties)) is None


def test_unsafe_or_broken_xmp_gives_none() -> None:
    good = xmp('exif:GPSLatitude="37,23.3N" exif:GPSLongitude="5,59.07W"')
    assert position_from_xmp(good) is not None
    assert position_from_xmp('<!DOCTYPE x [<!ENTITY e "e">]>' + good) is None
    assert position_from_xmp(good.replace("</rdf:RDF>", "")) is None
    assert position_from_xmp(b"\xff\xd8 not XML at all") is None
    assert position_from_xmp(good + " " * (1 << 20)) is None


def test_a_position_off_the_earth_cannot_be_made() -> None:
    with pytest.raises(ValueError):
        Position(90.5, 0.0)
    assert Position(-90.0, 180.0).lon == 180.0


def test_a_heic_in_memory_keeps_its_position() -> None:
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="HEIF", exif=gps_exif(SYDNEY).tobytes())
    with Image.open(buffer) as photo:
        assert_near(position_from_exif(photo.getexif()), -33.856972, 151.215333)
