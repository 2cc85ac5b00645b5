"""Search quality on held-out toy photos, through the same Library the fronts use.

The toy CLIP was trained on generated shapes; these photos are rendered with a seed it
never saw. This checks the whole pipeline (decode, crop, embed, index, search) keeps what
the model knows: it is not a claim about any real model's quality.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.library import Library
from tests.support import toyworld


def test_text_queries_rank_the_described_shape_first(tmp_path: Path, toy_clip_dir: Path) -> None:
    toyworld.write_photos(tmp_path / "photos", toyworld.all_scenes(), seed=777_001)
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([tmp_path / "photos"]):
            pass
        queries = [(c, s) for c in toyworld.COLOURS for s in toyworld.SHAPES]
        correct = 0
        for colour, shape in queries:
            best = library.search(f"a {colour} {shape}", k=1)[0]
            correct += f"-{colour}-{shape}-" in Path(best.path).name
    recall_at_1 = correct / len(queries)
    assert recall_at_1 >= 0.8, recall_at_1


def test_an_image_query_ranks_its_near_duplicate_first(tmp_path: Path, toy_clip_dir: Path) -> None:
    scenes = toyworld.random_scenes(40, seed=31)
    paths = toyworld.write_photos(tmp_path / "photos", scenes, seed=777_002)
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([tmp_path / "photos"]):
            pass
        hits = 0
        for i, path in enumerate(paths[:10]):
            query = tmp_path / f"query-{i}.jpg"
            with Image.open(path) as image:
                toyworld.near_duplicate(image, seed=i).save(query)
            best = library.search(image=query, k=1)[0]
            hits += best.path == str(path.resolve())
    assert hits >= 9
