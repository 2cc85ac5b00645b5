"""One search box: meaning and words fused, dates typed in the query.

The tiny random CLIP ranks photos arbitrarily, so a photo found first by a word is found by
its name or folder, not by the model; the toy CLIP checks descriptions keep their recall.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.library import Library
from tests.e2e.test_cli import pictor
from tests.support import toyworld


def _index(library: Library, folder: Path) -> None:
    for _ in library.index([folder]):
        pass


def test_a_rare_word_in_a_name_finds_the_photo_the_model_ranks_last(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(12, seed=5), seed=1)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        _index(library, photos)
        by_meaning = library.search("lighthouse", k=12, words=False, min_score=0)
        last = Path(by_meaning[-1].path)
        assert all(hit.match == "meaning" for hit in by_meaning)
        (photos / "Lighthouse trip").mkdir()
        moved = photos / "Lighthouse trip" / last.name
        last.rename(moved)
        _index(library, photos)  # a move: same vector, new folder words
        assert library.search("lighthouse", k=12, words=False, min_score=0)[-1].path == str(moved)
        best = library.search("lighthouse", k=3)[0]
        assert (best.path, best.match) == (str(moved), "both")
        assert library.search("a lighthouse", k=1)[0].path == str(moved)
        exact = library.search(moved.name, k=1)[0]
        assert exact.path == str(moved)
        moved.unlink()
        _index(library, photos)
        assert all(hit.path != str(moved) for hit in library.search("lighthouse", k=12))


def test_descriptions_keep_their_recall_when_names_say_nothing(
        tmp_path: Path, toy_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    paths = toyworld.write_photos(photos, toyworld.all_scenes(), seed=777_001)
    slugs = {}
    for i, path in enumerate(paths):
        path.rename(photos / f"p{i:04d}.jpg")
        slugs[f"p{i:04d}.jpg"] = path.name
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as library:
        _index(library, photos)
        queries = [(c, s) for c in toyworld.COLOURS for s in toyworld.SHAPES]
        correct = 0
        for colour, shape in queries:
            best = library.search(f"a {colour} {shape}", k=1, min_score=0)[0]
            assert best.match == "meaning"
            correct += f"-{colour}-{shape}-" in slugs[Path(best.path).name]
    assert correct / len(queries) >= 0.8


def test_dates_typed_in_the_query_filter_and_explicit_dates_win(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    paths = toyworld.write_photos(photos, toyworld.random_scenes(6, seed=2), seed=2)
    stamps = {2019: 1_561_939_200, 2021: 1_623_000_000}  # 1 July 2019, 6 June 2021
    for i, path in enumerate(paths):
        stamp = stamps[2019 if i < 3 else 2021]
        os.utime(path, (stamp, stamp))
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        _index(library, photos)
        in_2019 = {h.path for h in library.search("a red circle 2019", k=10, min_score=0)}
        assert in_2019 == {str(p) for p in paths[:3]}
        assert {h.path for h in library.search("june 2021", k=10, min_score=0)} == {
            str(p) for p in paths[3:]}
        assert library.search("summer 2020", k=10) == []
        explicit = {h.path for h in library.search("a red circle 2019", k=10, after="2021",
                                                   min_score=0)}
        assert explicit == {str(p) for p in paths[3:]}


def test_cli_reports_how_each_hit_matched(tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos / "harbour", toyworld.random_scenes(2, seed=3), seed=3)
    toyworld.write_photos(photos / "other", toyworld.random_scenes(4, seed=4), seed=4)
    data = tmp_path / "data"
    assert pictor("index", str(photos), "--model", str(tiny_clip_dir), data=data).returncode == 0
    result = pictor("search", "harbour", "-n", "6", "--json", "--min-score", "0", data=data)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [Path(h["path"]).parent.name for h in hits[:2]] == ["harbour", "harbour"]
    assert {h["match"] for h in hits[:2]} <= {"words", "both"}
    plain = json.loads(pictor("search", "harbour", "-n", "6", "--json", "--min-score", "0",
                              "--no-words", data=data).stdout)
    assert {h["match"] for h in plain} == {"meaning"}
    for query in ['"', "-x"]:  # the rest: tests/core/words/test_keywords.py
        result = pictor("search", "--json", "--min-score", "0", "--", query, data=data)
        assert result.returncode == 0, (query, result.stderr)
