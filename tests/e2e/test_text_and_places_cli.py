"""Text in photos and places, through the command line, with the real OCR model.

The photos are made here: text rendered in several fonts, tilted, noisy, JPEG-compressed,
turned inside the picture or by EXIF; and photos whose EXIF carries a GPS position. The
library is indexed by the command line; each query is asked in-process (the same search
the command line runs: one subprocess each would cost seconds) and a few through the
command line. The CLIP model is the tiny random one: what is tested is finding photos by
the words read in them and by their place, so a cut-off of 100 hides every photo found by
meaning alone (a random model's meaning says nothing) and leaves the word matches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from core.library import Library
from tests.support import text_photos
from tests.support.cli import pictor

SEVILLE = (37.3891, -5.9845)
SYDNEY = (-33.8688, 151.2093)
GRANADA = (37.1773, -3.5986)

TEXTS: dict[str, dict[str, Any]] = {
    "receipt": {"lines": ["SUPERMARKT", "RE1634", "Tel 0271-5550123"], "font_name": "mono"},
    "cafe": {"lines": ["HARBOUR CAFE"], "font_name": "serif", "tilt": 4.0, "noise": 6.0},
    "upside": {"lines": ["MOUNTAIN BAKERY"], "turn": 180, "quality": 60},
    "sideways": {"lines": ["TICKET 4471"], "turn": 90, "font_name": "bold"},
}


def _gps(lat: float, lon: float) -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees, rest = int(value), (value - int(value)) * 60
        return (float(degrees), float(int(rest)), round((rest - int(rest)) * 60, 4))

    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    return exif


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory,
            tiny_clip_dir: Path) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("text-places")
    photos, data = base / "photos", base / "data"
    photos.mkdir()
    for name, options in TEXTS.items():
        drawn = text_photos.text_photo(options.pop("lines"), seed=len(name), **options)
        drawn.image.save(photos / f"{name}.jpg", quality=90)
    turned = text_photos.text_photo(["LIGHTHOUSE TOURS"], seed=9).image
    text_photos.save_oriented(turned, photos / "by-exif.jpg", 6)
    # A camera-sized photo, stored on its side: the index run keeps a small copy of it
    # for the text pass's gate (core.sync.gate_pictures), which reads it from that copy.
    camera = text_photos.text_photo(["FERRY TERMINAL B7"], size=(4000, 3000), font_size=90,
                                    where=(0.7, 0.3), seed=12).image
    text_photos.save_oriented(camera, photos / "camera.jpg", 6)
    for i, kind in enumerate(text_photos.PLAIN_KINDS):
        text_photos.plain_photo(kind, seed=i).save(photos / f"plain-{i}.jpg", quality=90)
    places = {"seville": SEVILLE, "sydney": SYDNEY, "granada": GRANADA, "nowhere": (0.0, 0.0)}
    for i, (lat, lon) in enumerate(places.values()):
        text_photos.plain_photo("sky", seed=20 + i).save(photos / f"trip-{i}.jpg",
                                                         exif=_gps(lat, lon))
    # A position only in an XMP sidecar (as photo managers write it): Prague
    text_photos.plain_photo("sky", seed=30).save(photos / "xmp-trip.jpg")
    (photos / "xmp-trip.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="50,4.53N" '
        'exif:GPSLongitude="14,26.268E"/></rdf:RDF></x:xmpmeta>', encoding="utf-8")
    model = ["--model", str(tiny_clip_dir), "--device", "cpu"]
    done = pictor("index", str(photos), "--json", *model, data=data,
                  env={"PICTOR_READ_TEXT": "1"})  # the tests' default is off
    assert done.returncode == 0, done.stderr
    return data, model


@pytest.fixture(scope="module")
def library(indexed: tuple[Path, list[str]], tiny_clip_dir: Path) -> Any:
    with Library(indexed[0], model=str(tiny_clip_dir), device="cpu") as opened:
        yield opened


def _search(library: Library, query: str) -> list[dict[str, Any]]:
    return [hit.to_json() for hit in library.search(query, min_score=100)]


def _cli_search(indexed: tuple[Path, list[str]], *query: str) -> list[dict[str, Any]]:
    data, model = indexed
    found = pictor("search", *query, "--json", *model, data=data)
    assert found.returncode == 0, found.stderr
    hits: list[dict[str, Any]] = json.loads(found.stdout)
    return hits


@pytest.mark.parametrize(("query", "photo"), [
    ("SUPERMARKT", "receipt"),
    ("RE1634", "receipt"),
    ("re16", "receipt"),  # the beginning of a code
    ("5550123", "receipt"),  # part of a phone number
    ("0271-5550123", "receipt"),
    ("harbour cafe", "cafe"),  # a serif font, tilted, noisy
    ("bakery", "upside"),  # turned 180 degrees inside the picture, JPEG quality 60
    ("ticket 4471", "sideways"),  # turned 90 degrees inside the picture
    ("lighthouse", "by-exif"),  # stored turned, shown upright by its EXIF orientation
    ("ferry terminal", "camera"),  # 12 MP, turned by EXIF, gated on the kept copy
])
def test_a_word_written_in_a_photo_finds_it_first(library, query: str, photo: str) -> None:
    hits = _search(library, query)
    assert hits, f"{query!r} found nothing"
    assert Path(hits[0]["path"]).stem == photo
    assert hits[0]["match"] == "text" and "text" in hits[0]["fields"]


@pytest.mark.parametrize(("query", "photo"), [
    ("Sevilla", "trip-0"),
    ("Seville", "trip-0"),  # its other names, from GeoNames
    ("塞维利亚", "trip-0"),
    ("Spain", None),  # Seville and Granada
    ("西班牙", None),
    ("Australia", "trip-1"),
    ("Granada", "trip-2"),
    ("Praha", "xmp-trip"),  # from its XMP sidecar
])
def test_a_place_finds_the_photos_taken_there(library, query: str, photo: str | None) -> None:
    hits = _search(library, query)
    names = {Path(hit["path"]).stem for hit in hits}
    if photo is not None:
        assert names == {photo}
    else:
        assert names == {"trip-0", "trip-2"}
    assert all(hit["place"] and hit["position"] for hit in hits)


def test_a_hit_carries_its_place_and_position(library) -> None:
    (hit,) = _search(library, "Sevilla")
    assert "Spain" in hit["place"]
    assert hit["position"]["lat"] == pytest.approx(SEVILLE[0], abs=1e-3)
    assert hit["position"]["lon"] == pytest.approx(SEVILLE[1], abs=1e-3)


def test_a_made_up_word_finds_nothing(library) -> None:
    assert _search(library, "zqxwvortha") == []
    assert _search(library, "Atlantis") == []


def test_the_command_line_finds_text_and_places(indexed) -> None:
    (hit,) = _cli_search(indexed, "RE16", "--min-score", "100")
    assert Path(hit["path"]).stem == "receipt" and hit["match"] == "text"
    spain = _cli_search(indexed, "西班牙", "--min-score", "100")
    assert {Path(hit["path"]).stem for hit in spain} == {"trip-0", "trip-2"}
    assert all(hit["match"] == "place" and "Spain" in hit["place"] for hit in spain)
    assert _cli_search(indexed, "zqxwvortha", "--min-score", "100") == []


def test_near_keeps_the_photos_taken_close_by(indexed) -> None:
    near = _cli_search(indexed, "sky", "--near", "37.39,-5.98,50", "--min-score", "0")
    assert [Path(hit["path"]).stem for hit in near] == ["trip-0"]
    data, model = indexed
    bad = pictor("search", "sky", "--near", "north,-5", *model, data=data)
    assert bad.returncode == 2 and "--near" in bad.stderr


def test_near_with_a_wider_radius(library) -> None:
    hits = library.search("sky", near=(37.39, -5.98, 300.0), min_score=0)
    assert {Path(hit.path).stem for hit in hits} == {"trip-0", "trip-2"}


def test_status_counts_text_and_places(library) -> None:
    status = library.status()
    assert status.text["read"] == status.photos and status.text["pending"] == 0
    assert status.text["with_text"] == len(TEXTS) + 2  # and by-exif, camera
    assert status.places == 4  # 0,0 is no fix: not trusted


def test_text_command_prints_what_was_read(indexed) -> None:
    data, model = indexed
    photo = next(Path(p) for p in (data.parent / "photos").glob("receipt.jpg"))
    shown = pictor("text", str(photo), "--json", *model, data=data)
    assert shown.returncode == 0, shown.stderr
    read = json.loads(shown.stdout)
    assert "RE1634" in read["text"] and len(read["lines"]) >= 3
    assert all(len(line["box"]) == 4 for line in read["lines"])
    plain = pictor("text", str(photo.with_name("plain-0.jpg")), *model, data=data)
    assert plain.returncode == 0 and "no text" in plain.stdout


def test_the_place_filter_keeps_the_photos_taken_there(library) -> None:
    (label, count), *_ = [p for p in library.catalog.places() if p[0].startswith("Sevilla")]
    assert count == 1
    hits = library.search("sky", place=label, min_score=0)
    assert [Path(hit.path).stem for hit in hits] == ["trip-0"]


def test_a_hit_says_what_made_its_score(library, indexed) -> None:
    (hit,) = _search(library, "RE16")
    assert "re1634" in hit["why"]["words"]["text"]
    assert hit["why"]["meaning"]["similarity"] == hit["similarity"]
    assert set(hit["why"]["parts"]) == {"text"}
    photo = indexed[0].parent / "photos" / "trip-0.jpg"
    combined = library.search("sky", image=photo, negative="a receipt", min_score=0, k=30)
    (same,) = [hit for hit in combined if hit.path == str(photo)]
    assert set(same.why["parts"]) == {"text", "image", "not"}
    assert same.why["parts"]["image"] == pytest.approx(1.0, abs=1e-3)  # the photo itself
    (spain, *_) = _search(library, "Spain")
    assert spain["why"]["words"] == {"place": ["spain"]}
