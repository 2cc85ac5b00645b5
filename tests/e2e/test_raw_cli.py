"""Camera RAW files through the command line: indexed, found by description and by example,
a RAW+JPEG pair counted once, and the files left as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.library import Library
from tests.e2e.test_cli import pictor, tree_digest
from tests.support import toyworld
from tests.support.raw_files import write_dng

pytest.importorskip("rawpy")

RAW_SCENES = [toyworld.Scene("circle", "red", "sand"), toyworld.Scene("star", "blue", "grass"),
              toyworld.Scene("square", "yellow", "sand")]


def test_raw_photos_are_indexed_and_found(tmp_path: Path, toy_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    others = [s for s in toyworld.all_scenes()
              if s.background in {"grass", "sand"} and s not in RAW_SCENES]
    toyworld.write_photos(photos / "jpeg", others, seed=515)
    names = ["DSC_0001.NEF", "IMG_0002.CR2", "L1000003.DNG"]
    for i, (scene, name) in enumerate(zip(RAW_SCENES, names, strict=True)):
        write_dng(photos / "raw" / name, toyworld.render(scene, seed=900 + i),
                  orientation=6 if i == 1 else 1)
    pair = toyworld.render(toyworld.Scene("triangle", "green", "sand"), seed=999)
    write_dng(photos / "pair" / "IMG_0100.CR2", pair)  # RAW+JPEG: the JPEG stands for it
    pair.save(photos / "pair" / "IMG_0100.JPG", quality=90)
    before = tree_digest(photos)

    data = tmp_path / "data"
    done = pictor("index", str(photos), "--model", str(toy_clip_dir), "--json", data=data)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["indexed"] == len(others) + len(RAW_SCENES) + 1 and report["failed"] == 0
    assert tree_digest(photos) == before  # read, never written

    found = pictor("search", RAW_SCENES[0].caption, "-n", "3", "--min-score", "0", "--json",
                   data=data)  # each later check in-process: a subprocess costs ~5 s here
    assert found.returncode == 0, found.stderr
    assert names[0] in [Path(hit["path"]).name for hit in json.loads(found.stdout)]
    with Library(data) as library:
        for scene, name in zip(RAW_SCENES[1:], names[1:], strict=True):
            hits = library.search(scene.caption, k=3, min_score=0)
            assert name in [Path(hit.path).name for hit in hits], scene
        similar = library.search(image=photos / "raw" / names[0], k=2, min_score=0)
        assert Path(similar[0].path).name == names[0]  # itself, then...
        assert "-red-circle-" in Path(similar[1].path).name  # ...the other red circle
        listed = [Path(hit.path).name for hit in library.search("IMG_0100", k=5)]
    assert listed[0] == "IMG_0100.JPG" and "IMG_0100.CR2" not in listed
