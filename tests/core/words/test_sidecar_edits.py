"""A sidecar edited, added or deleted while its photo stays the same: the next index run
re-reads the photo's own words (search by them follows) and embeds nothing again.

The tiny random CLIP ranks photos arbitrarily, so "found" here means found by words.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import DATABASE_NAME
from core.library import Library
from core.sync import indexer as indexer_mod
from core.types import Progress
from core.words import sidecars
from tests.support import toyworld

XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
       'xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description><dc:subject><rdf:Bag>'
       '<rdf:li>{}</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    toyworld.write_photos(tmp_path / "photos", toyworld.random_scenes(3, seed=8), seed=8)
    return (tmp_path / "photos").resolve()


@pytest.fixture
def library(tmp_path: Path, tiny_clip_dir: Path) -> Iterator[Library]:
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as lib:
        yield lib


def index(library: Library, folder: Path) -> Progress:
    *_, report = library.index([folder])
    return report


def found(library: Library, word: str) -> set[str]:
    return {hit.path for hit in library.search(word, k=10, min_score=0)
            if hit.match != "meaning"}


def edit(path: Path, text: str) -> None:
    """Rewrite a file as an editor would, its mtime surely moving on."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_an_edited_or_added_sidecar_is_read_again_without_embedding_the_photo(
        library: Library, folder: Path, embedded: list[int]) -> None:
    photo, other, _ = sorted(folder.glob("*.jpg"))
    note = photo.with_suffix(".txt")  # IMG_1.txt
    edit(note, "zanzibar ferry")
    index(library, folder)
    assert found(library, "zanzibar") == {str(photo)}
    pixels = photo.read_bytes()
    embedded.clear()

    edit(note, "quokka island")
    edit(other.with_name(other.name + ".xmp"), XMP.format("Wombat"))  # darktable's name
    report = index(library, folder)
    assert found(library, "quokka") == {str(photo)}
    assert found(library, "zanzibar") == set()
    assert found(library, "wombat") == {str(other)}
    assert embedded == [] and (report.indexed, report.skipped) == (0, 3)
    assert photo.read_bytes() == pixels and note.read_text() == "quokka island"

    index(library, folder)  # nothing changed since: nothing is read again
    assert found(library, "quokka") == {str(photo)} and embedded == []


def test_a_deleted_sidecar_takes_its_words_along(
        library: Library, folder: Path, embedded: list[int]) -> None:
    photo = sorted(folder.glob("*.jpg"))[0]
    note = photo.with_name(photo.name + ".txt")
    edit(note, "zanzibar ferry")
    index(library, folder)
    assert found(library, "zanzibar") == {str(photo)}
    embedded.clear()
    note.unlink()
    index(library, folder)
    assert found(library, "zanzibar") == set()
    assert found(library, photo.stem) == {str(photo)}  # its other words stay
    assert embedded == []


def test_a_photo_moved_without_its_sidecar_loses_the_sidecar_words(
        library: Library, folder: Path, embedded: list[int]) -> None:
    photo = sorted(folder.glob("*.jpg"))[0]
    edit(photo.with_suffix(".txt"), "zanzibar ferry")
    index(library, folder)
    embedded.clear()
    (folder / "elsewhere").mkdir()
    moved = folder / "elsewhere" / photo.name
    photo.rename(moved)
    index(library, folder)
    assert found(library, "elsewhere") == {str(moved)}
    assert found(library, "zanzibar") == set()
    assert embedded == []  # a move keeps the vector


def test_a_library_from_before_sidecar_signatures_reads_sidecar_words_once(
        tmp_path: Path, tiny_clip_dir: Path, folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    photo = sorted(folder.glob("*.jpg"))[0]
    note = photo.with_suffix(".txt")
    edit(note, "zanzibar ferry")
    data = tmp_path / "data"
    with Library(data, model=str(tiny_clip_dir), device="cpu") as library:
        index(library, folder)
    conn = sqlite3.connect(data / DATABASE_NAME)  # as schema 4 left it
    conn.execute("ALTER TABLE photos DROP COLUMN sidecars")
    conn.execute("DROP TABLE photo_text")  # schema 6's
    for column in ("lat", "lon", "place"):
        conn.execute(f"ALTER TABLE photos DROP COLUMN {column}")
    conn.execute("DROP TABLE photo_prints")  # schema 7's
    conn.execute("DROP TABLE carried_words")
    conn.execute("DROP TABLE video_frames")  # schema 8's
    for column in ("kind", "duration_s"):
        conn.execute(f"ALTER TABLE photos DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    edit(note, "quokka island")  # an edit the older Pictor did not notice
    reads: list[Path] = []
    own_words = indexer_mod.own_words
    monkeypatch.setattr(indexer_mod, "own_words",
                        lambda path, data=None, **kw: reads.append(path)
                        or own_words(path, data, **kw))
    with Library(data, model=str(tiny_clip_dir), device="cpu") as library:
        index(library, folder)
        assert found(library, "quokka") == {str(photo)}
        assert reads == [photo]  # only the photo that has a sidecar
        index(library, folder)
        assert reads == [photo]


def test_a_signature_names_the_sidecars_user_words_reads(tmp_path: Path) -> None:
    jpg, png = tmp_path / "IMG_1.jpg", tmp_path / "IMG_1.png"
    for photo in (jpg, png, tmp_path / "IMG_2.jpg"):
        photo.write_bytes(b"not decoded here")
    assert sidecars.signature(str(jpg)) == ""
    (tmp_path / "IMG_1.xmp").write_text("<x/>")
    (tmp_path / "IMG_1.jpg.txt").write_text("words")
    signed = sidecars.signature(str(jpg))
    assert [part.split(":")[:2] for part in signed.split("/")] == [
        ["IMG_1.xmp", "4"], ["IMG_1.jpg.txt", "5"]]
    assert sidecars.signature(str(jpg), {"img_1.xmp", "img_1.jpg.txt"}) == signed
    assert sidecars.signature(str(jpg), set()) == ""  # a folder listed without sidecars
    assert sidecars.photos_of([str(tmp_path / "IMG_1.xmp")]) == [str(jpg), str(png)]
    assert sidecars.photos_of([str(tmp_path / "IMG_1.jpg.txt")]) == [str(jpg)]
    assert sidecars.photos_of([str(tmp_path / "gone" / "IMG_1.xmp"),
                               str(tmp_path / "IMG_3.txt")]) == []
    changed = [tmp_path / "IMG_2.jpg", tmp_path / "IMG_1.jpg.txt", tmp_path / "notes.txt"]
    assert sidecars.photo_paths(map(str, changed)) == [str(tmp_path / "IMG_2.jpg"), str(jpg)]
