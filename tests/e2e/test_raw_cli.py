"""Camera RAW files through the command line: indexed, found by description and by example,
a RAW+JPEG pair counted once, and the files left as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

    for scene, name in zip(RAW_SCENES, names, strict=True):
        found = pictor("search", scene.caption, "-n", "3", "--min-score", "0", "--json",
                       data=data)
        assert found.returncode == 0, found.stderr
        assert name in [Path(hit["path"]).name for hit in json.loads(found.stdout)], scene

    similar = pictor("similar", str(photos / "raw" / names[0]), "-n", "1", "--min-score",
                     "0", "--json", data=data)  # photos like the red circle's RAW
    assert similar.returncode == 0, similar.stderr
    assert "-red-circle-" in Path(json.loads(similar.stdout)[0]["path"]).name

    listed = pictor("search", "IMG_0100", "--json", data=data)  # the file-name search
    listed_names = [Path(hit["path"]).name for hit in json.loads(listed.stdout)]
    assert listed_names[0] == "IMG_0100.JPG" and "IMG_0100.CR2" not in listed_names
