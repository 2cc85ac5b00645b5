"""Search by a region of a photo ("more photos of this dog"), through the command line.

A library of toy photos, each a different scene; a part of one of them (a region of the
photo as shown, which is stored turned with an EXIF orientation) finds that photo first.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.support import toyworld
from tests.support.cli import pictor


def test_a_region_of_a_photo_finds_it_first(tmp_path: Path, toy_clip_dir: Path) -> None:
    photos, data = tmp_path / "photos", tmp_path / "data"
    scenes = toyworld.all_scenes()[::3][:24]
    paths = toyworld.write_photos(photos, scenes, seed=5)
    source = paths[7]
    turned = photos / "turned.jpg"  # the source again, stored turned: EXIF shows it upright
    picture = toyworld.render(scenes[7], seed=77)
    exif = picture.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: stored turned the other way
    picture.transpose(Image.Transpose.ROTATE_90).save(turned, exif=exif)
    model = ["--model", str(toy_clip_dir), "--device", "cpu"]
    assert pictor("index", str(photos), *model, data=data).returncode == 0

    width, height = Image.open(source).size
    region = f"{width * 0.1:.0f},{height * 0.1:.0f},{width * 0.75:.0f},{height * 0.75:.0f}"
    found = pictor("search", "--image", str(source), "--region", region, "--json",
                   "--min-score", "0", "-n", "3", *model, data=data)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"] == str(source)

    shown_w, shown_h = picture.size  # as shown, whatever the stored pixels' shape
    region = f"{shown_w * 0.1:.0f},{shown_h * 0.1:.0f},{shown_w * 0.75:.0f},{shown_h * 0.75:.0f}"
    found = pictor("search", "--image", str(turned), "--region", region, "--json",
                   "--min-score", "0", "-n", "3", *model, data=data)
    assert json.loads(found.stdout)[0]["path"] in (str(turned), str(source))

    outside = pictor("search", "--image", str(source), "--region", f"0,0,{width * 5},10",
                     *model, data=data)
    assert outside.returncode == 2 and "not inside the photo" in outside.stderr
    alone = pictor("search", "a cat", "--region", "0,0,10,10", *model, data=data)
    assert alone.returncode == 2 and "--image" in alone.stderr
    bad = pictor("search", "--image", str(source), "--region", "1,2,3", *model, data=data)
    assert bad.returncode == 2 and "--region" in bad.stderr
