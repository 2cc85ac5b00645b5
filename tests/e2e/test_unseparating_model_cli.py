"""A model whose scores cannot separate good matches from the rest, through the command line.

The plain toy CLIP (trained without everyday captions as wrong answers) scores unrelated
texts as widely as its shapes: a correct "a red circle" scores no higher than an absent
"a birthday cake", and the default cut-off would hide every photo. Pictor says so and shows
the ranking instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import toyworld
from tests.support.cli import pictor

SCENES = 60


def test_search_shows_the_ranking_and_says_why(tmp_path: Path,
                                               plain_toy_clip_dir: Path) -> None:
    photos, data = tmp_path / "photos", tmp_path / "data"
    red_circles = [s for s in toyworld.all_scenes() if s.slug.startswith("red-circle-")]
    scenes = toyworld.random_scenes(SCENES - len(red_circles), seed=8) + red_circles
    toyworld.write_photos(photos, scenes, seed=8)
    model = ["--model", str(plain_toy_clip_dir), "--device", "cpu"]
    assert pictor("index", str(photos), *model, data=data).returncode == 0

    # --no-words: the file names say "red-circle"; the ranking must come from the model
    found = pictor("search", "a red circle", "--no-words", "--json", "-n", "3", *model,
                   data=data)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 3  # nothing hidden under the default cut-off
    assert all(hit["score"] < 50 for hit in hits)  # which would have hidden them all
    assert all("red-circle" in Path(hit["path"]).name for hit in hits)
    assert "ranked by similarity" in found.stderr

    table = pictor("search", "a red circle", "--no-words", "-n", "3", *model, data=data)
    assert table.returncode == 0
    header = table.stdout.splitlines()[0]
    assert "sim" in header.split() and "score" not in header.split()
