"""Image to text and scores people can trust, through the library and the command line.

The toy CLIP knows its coloured shapes and, like a real CLIP that has seen cakes and dogs,
that everyday captions ("a photo of birthday cake") describe none of them (it was trained
with the built-in vocabulary as wrong answers: tests/support/models.py). So "a red circle"
has right answers and "a birthday cake" has none in a library of shapes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from core.library import Library
from core.search.captions import CaptionCorpus
from core.search.vocabulary import Term
from tests.e2e.test_cli import pictor, tree_digest
from tests.support import toyworld

RARE = "Esperanza"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path):
    """Toy photos (one album folder with a name), one with its own description, indexed."""
    base = tmp_path_factory.mktemp("captions")
    photos = base / "photos"
    scenes = [s for s in toyworld.all_scenes() if s.background == "grass"]
    toyworld.write_photos(photos / "beach trip", scenes, seed=31337)
    described = photos / "beach trip" / "described.jpg"
    image = toyworld.render(toyworld.Scene("square", "blue", "sky"), seed=5)
    exif = Image.Exif()
    exif[0x010E] = f"{RARE} in the harbour"  # ImageDescription: the user's own words
    image.save(described, quality=90, exif=exif)
    before = tree_digest(photos)
    with Library(base / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([photos]):
            pass
    assert tree_digest(photos) == before
    return base, photos, described


def _open(base: Path, toy_clip_dir: Path) -> Library:
    return Library(base / "data", model=str(toy_clip_dir), device="cpu")


def _indexed_library(tmp_path: Path, model: Path, *, photos: int) -> Library:
    """A library of ``photos`` random toy photos, indexed with ``model``."""
    folder = tmp_path / "photos"
    toyworld.write_photos(folder, toyworld.random_scenes(photos, seed=photos), seed=photos)
    library = Library(tmp_path / "data", model=str(model), device="cpu")
    for _ in library.index([folder]):
        pass
    return library


def test_the_cut_off_keeps_the_described_photos_and_hides_the_tail(shapes, toy_clip_dir):
    base, _, _ = shapes
    with _open(base, toy_clip_dir) as library:
        hits = library.search("a red circle", k=50, words=False)
        everything = library.search("a red circle", k=50, words=False, min_score=0)
    assert [Path(h.path).name for h in hits] and all("red-circle" in h.path for h in hits)
    assert all(h.score >= 50 for h in hits) and hits.hidden > 0
    assert len(everything) == 31 and everything.hidden == 0
    assert everything[0].path == hits[0].path
    assert sorted(h.score for h in everything[1:])[len(everything) // 2] < 20
    assert all(0 <= h.score <= 100 for h in everything)


def test_a_query_with_no_good_match_says_so(shapes, toy_clip_dir):
    base, _, _ = shapes
    with _open(base, toy_clip_dir) as library:
        hits = library.search("a birthday cake", k=20)
    assert hits == [] and hits.hidden > 0 and hits.best_hidden is not None
    assert hits.best_hidden < 50
    shown = pictor("search", "a birthday cake", data=base / "data")
    assert shown.returncode == 0, shown.stderr
    assert "no good match" in shown.stdout and "--min-score 0" in shown.stdout
    anyway = pictor("search", "a birthday cake", "--min-score", "0", "-n", "3", "--json",
                    data=base / "data")
    assert len(json.loads(anyway.stdout)) == 3


def test_a_rare_word_of_the_photos_own_caption_finds_it_whatever_the_model_thinks(
        shapes, toy_clip_dir):
    base, _, described = shapes
    with _open(base, toy_clip_dir) as library:
        by_meaning = library.search(RARE.lower(), k=50, words=False, min_score=0)
        hits = library.search(RARE, k=5)
    rank = [h.path for h in by_meaning].index(str(described))
    assert rank > 0  # the model alone does not put it first ...
    assert hits[0].path == str(described) and hits[0].match in ("words", "both")


def test_captions_on_the_command_line(shapes):
    base, photos, described = shapes
    result = pictor("captions", str(described), "-n", "6", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    captions = json.loads(result.stdout)
    assert len(captions) == 6
    assert {"text", "score", "source"} <= set(captions[0])
    own = [c for c in captions if c["source"] == "user"]
    assert [c["text"] for c in own[:2]] == [f"{RARE} in the harbour", "beach trip"] or \
        {c["text"] for c in own} >= {f"{RARE} in the harbour", "beach trip"}
    assert captions[: len(own)] == own  # the user's own words come first
    vocabulary = [c for c in captions if c["source"] == "vocabulary"]
    assert vocabulary and all(0 <= c["score"] <= 100 for c in captions)
    assert [c["score"] for c in vocabulary] == sorted((c["score"] for c in vocabulary),
                                                     reverse=True)
    table = pictor("captions", str(described), "-n", "3", "--language", "zh",
                   data=base / "data")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:2] == ["score",
                                                                                  "source"]
    missing = pictor("captions", str(photos / "nope.jpg"), data=base / "data")
    assert missing.returncode == 2 and "nope.jpg" in missing.stderr


def test_captions_rank_the_terms_a_model_knows(shapes, toy_clip_dir, tmp_path: Path):
    """With terms the toy model knows, a photo's best caption names what it shows."""
    base, photos, _ = shapes
    terms = [Term(f"{c} {s}", "object", f"{c}{s}") for c in toyworld.COLOURS
             for s in toyworld.SHAPES]
    red_circle = next((photos / "beach trip").glob("*-red-circle-grass.jpg"))
    with _open(base, toy_clip_dir) as library:
        corpus = CaptionCorpus.for_model(library.embedder, tmp_path, terms=terms)
        scale = library.scores.calibration().text
        best = corpus.captions(library.image_vector(red_circle), scale, n=3)
        stored = library.tags(red_circle)
    assert best[0].text == "red circle" and best[0].score > best[1].score + 10
    # the built-in vocabulary describes no toy shape: no confident tag is stored
    assert stored == []


def test_the_caption_corpus_is_built_once_per_model(shapes, toy_clip_dir, monkeypatch):
    base, _, _ = shapes
    with _open(base, toy_clip_dir) as library:
        first = library.scores.caption_corpus()
    with _open(base, toy_clip_dir) as library:
        def refuse(texts):
            raise AssertionError("the cached corpus should be used")
        monkeypatch.setattr(library.embedder, "embed_texts", refuse)
        again = library.scores.caption_corpus()
    assert again.digest == first.digest and (again.vectors == first.vectors).all()
    assert len(first.terms) >= 1000


def test_switching_model_keeps_the_old_one_answering_until_done(
        tmp_path: Path, toy_clip_dir: Path, tiny_clip_dir: Path):
    with _indexed_library(tmp_path, toy_clip_dir, photos=40) as library:
        run = library.switch_model(str(tiny_clip_dir), batch_size=8)
        steps = 0
        for progress in run:
            steps += 1
            if progress.phase == "embed" and progress.done:
                # mid-way: searches still answer with the current model
                assert library.model_name == str(toy_clip_dir)
                assert library.search("a red circle", k=3, min_score=0)
        assert steps and library.model_name == str(tiny_clip_dir)
        assert library.status().indexed == 40
        started = time.monotonic()
        embedded = [p.indexed for p in library.switch_model(str(toy_clip_dir))
                    if p.phase == "done"]
        assert embedded == [0] and library.model_name == str(toy_clip_dir)
        assert time.monotonic() - started < 30
    with Library(tmp_path / "data") as reopened:
        assert reopened.model_name == str(toy_clip_dir)


def test_an_interrupted_switch_changes_nothing(tmp_path: Path, toy_clip_dir: Path,
                                                tiny_clip_dir: Path):
    with _indexed_library(tmp_path, toy_clip_dir, photos=24) as library:
        run = library.switch_model(str(tiny_clip_dir), batch_size=4)
        for progress in run:
            if progress.phase == "embed" and progress.done:
                break
        run.close()
        assert library.model_name == str(toy_clip_dir)
    with Library(tmp_path / "data") as reopened:
        assert reopened.model_name == str(toy_clip_dir)
