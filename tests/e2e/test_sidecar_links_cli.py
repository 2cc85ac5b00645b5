"""Sidecars that are symbolic links, through the command line: a link out of the library's
folders (``IMG_1.txt -> ~/secret.txt``) is not read, so its words are neither searchable
nor shown by ``captions``; a link that stays in the library is read like a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support import toyworld
from tests.support.cli import pictor

XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description rdf:about="">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{}</rdf:li></rdf:Alt></dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def word_matches(word: str, *, data: Path) -> set[str]:
    """The names of the photos that ``search WORD`` finds by their words."""
    result = pictor("search", word, "--json", data=data)
    assert result.returncode == 0, result.stderr
    return {Path(hit["path"]).name for hit in json.loads(result.stdout)
            if hit["match"] in ("words", "both")}


def caption_texts(photo: Path, *, data: Path) -> set[str]:
    result = pictor("captions", str(photo), "--json", "-n", "20", data=data)
    assert result.returncode == 0, result.stderr
    return {c["text"] for c in json.loads(result.stdout) if c["source"] == "user"}


def test_sidecar_links_out_of_the_library_are_not_read(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "secret.txt").write_text("zebracorn password", encoding="utf-8")
    (outside / "secret.xmp").write_text(XMP.format("quokkatitle"), encoding="utf-8")
    library = tmp_path / "Trips"
    album = library / "Rome"
    albums = {"Trips", "Rome"}  # the folders' names: the photos' own words too
    names = ["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg"]
    photos = toyworld.write_photos(album, toyworld.random_scenes(4, seed=5), seed=5)
    for photo, name in zip(photos, names, strict=True):
        photo.rename(album / name)
    (album / "IMG_1.txt").symlink_to(outside / "secret.txt")
    (album / "IMG_2.jpg.xmp").symlink_to(os.path.relpath(outside / "secret.xmp", album))
    (album / "notes").mkdir()  # links that stay in the library are read
    (album / "notes" / "three.txt").write_text("lighthouse keeper", encoding="utf-8")
    (album / "IMG_3.txt").symlink_to(album / "notes" / "three.txt")
    (library / "elsewhere").mkdir()
    (library / "elsewhere" / "four.xmp").write_text(XMP.format("windmill"), encoding="utf-8")
    (album / "IMG_4.xmp").symlink_to(Path("..") / "elsewhere" / "four.xmp")
    data = tmp_path / "data"

    index = pictor("index", str(library), "--model", str(tiny_clip_dir), "--json", data=data)
    assert index.returncode == 0, index.stderr
    assert json.loads(index.stdout)["indexed"] == 4

    assert word_matches("zebracorn", data=data) == set()
    assert word_matches("quokkatitle", data=data) == set()
    assert word_matches("lighthouse", data=data) == {"IMG_3.jpg"}
    assert word_matches("windmill", data=data) == {"IMG_4.jpg"}  # another folder of it
    assert caption_texts(album / "IMG_1.jpg", data=data) == albums
    assert caption_texts(album / "IMG_2.jpg", data=data) == albums
    assert caption_texts(album / "IMG_3.jpg", data=data) == {"lighthouse keeper", *albums}
    assert caption_texts(album / "IMG_4.jpg", data=data) == {"windmill", *albums}
