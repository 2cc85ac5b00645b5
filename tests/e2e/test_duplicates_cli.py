"""Duplicates through the command line: a library of photo-like pictures with every kind of
copy a library collects and hard negatives (tests/makers/copies.py), indexed with
``main.py index``; ``duplicates --json`` groups the copies, keeps the original, lists the
similar shots apart, and changes no file; ``--trash`` asks first, then moves the copies
to a Trash folder this test controls (HOME and XDG_DATA_HOME point into it), and the
catalog and search follow; a copy restored from the Trash is found again.

The CLIP model is the toy one (trained on shapes): its vectors only propose candidates,
the pixels (picture prints) decide; precision and recall on copy pairs are asserted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from itertools import combinations
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.makers.copies import CopiesTruth, make_library
from tests.support.cli import pictor


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _copy_pairs(groups: list[dict], kind: str = "copies") -> set[frozenset[str]]:
    return {frozenset(pair) for g in groups if g["kind"] == kind
            for pair in combinations([p["path"] for p in g["photos"]], 2)}


def _true_pairs(truth: CopiesTruth) -> set[frozenset[str]]:
    by_picture: dict[str, list[str]] = {}
    for path, picture in truth.picture_of.items():
        by_picture.setdefault(picture, []).append(str(path.resolve()))
    return {frozenset(pair) for paths in by_picture.values()
            for pair in combinations(paths, 2)}


@pytest.fixture(scope="module")
def copies_library(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path):
    base = tmp_path_factory.mktemp("dupes")
    truth = make_library(base / "photos", originals=3, seed=7)
    result = pictor("index", str(base / "photos"), "--model", str(toy_clip_dir), "--json",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    return base, truth


def _trash_env(base: Path) -> dict[str, str]:
    """A Trash this test controls: the freedesktop.org Trash under XDG_DATA_HOME, on the
    same drive as the photos."""
    home = base / "home"
    (home / "share").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_DATA_HOME": str(home / "share")}


def test_copies_are_grouped_with_the_original_kept_and_no_file_changed(copies_library) -> None:
    base, truth = copies_library
    before = _digest(base / "photos")
    result = pictor("duplicates", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)
    assert _digest(base / "photos") == before  # listing never changes a file
    found, wanted = _copy_pairs(groups), _true_pairs(truth)
    right = len(found & wanted)
    precision, recall = right / max(len(found), 1), right / len(wanted)
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)
    negatives = {frozenset((str(a.resolve()), str(b.resolve())))
                 for a, b, _ in truth.hard_negatives}
    assert not found & negatives  # another shot of the scene is never a copy
    originals = {str(p.resolve()) for p in truth.originals.values()}
    for group in (g for g in groups if g["kind"] == "copies"):
        photos = group["photos"]
        assert [p["keep"] for p in photos].count(True) == 1 and photos[0]["keep"]
        assert all(p["reason"] for p in photos)
        assert set(photos[0]) >= {"path", "keep", "reason", "width", "height", "bytes"}
        mine = [p["path"] for p in photos if p["path"] in originals]
        if mine:  # the original where one exists
            assert photos[0]["path"] == mine[0], photos[0]


def test_similar_shots_are_listed_apart_from_copies(copies_library) -> None:
    base, truth = copies_library
    result = pictor("duplicates", "--similar", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)
    assert {g["kind"] for g in groups} <= {"copies", "similar"}
    similar = _copy_pairs(groups, "similar")
    copies = _copy_pairs(groups)
    assert not similar & copies
    bursts = {frozenset((str(a.resolve()), str(b.resolve())))
              for a, b, kind in truth.hard_negatives if kind in ("burst", "moved")}
    # Each burst or moved shot sits in a similar group with its original or a copy of it.
    shots = {str(b.resolve()) for a, b, kind in truth.hard_negatives
             if kind in ("burst", "moved")}
    in_similar = {p for pair in similar for p in pair}
    assert len(shots & in_similar) >= len(shots) * 0.5, (bursts, similar)


def test_search_lists_each_picture_once(copies_library) -> None:
    base, _ = copies_library
    once = json.loads(pictor("search", "a photo", "-n", "10", "--min-score", "0", "--json",
                             "--no-words", data=base / "data").stdout)
    every = json.loads(pictor("search", "a photo", "-n", "10", "--min-score", "0", "--json",
                              "--no-words", "--copies", data=base / "data").stdout)
    assert any(hit["copies"] for hit in once)
    shown = {hit["path"] for hit in once}
    assert not shown & {c for hit in once for c in hit["copies"]}
    assert all(not hit["copies"] for hit in every)


def test_trash_asks_first_then_moves_the_copies_and_the_catalog_follows(
        tmp_path: Path, toy_clip_dir: Path) -> None:
    photos, data, env = tmp_path / "photos", tmp_path / "data", _trash_env(tmp_path)
    make_library(photos, originals=1, seed=11)
    assert pictor("index", str(photos), "--model", str(toy_clip_dir),
                  data=data).returncode == 0
    before = _digest(photos)
    refused = pictor("duplicates", "--trash", data=data, env=env)  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _digest(photos) == before

    groups = json.loads(pictor("duplicates", "--json", data=data).stdout)
    going = {p["path"] for g in groups for p in g["photos"] if not p["keep"]}
    kept = {g["photos"][0]["path"] for g in groups}
    assert going
    done = pictor("duplicates", "--trash", "--yes", "--json", data=data, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["moved"]) == going and report["failed"] == []
    assert report["bytes"] == sum(p["bytes"] for g in groups for p in g["photos"]
                                  if not p["keep"])
    trash = Path(env["XDG_DATA_HOME"]) / "Trash"
    assert len(list((trash / "files").iterdir())) == len(going)
    assert len(list((trash / "info").glob("*.trashinfo"))) == len(going)
    assert all(Path(p).exists() for p in kept) and not any(Path(p).exists() for p in going)
    # The catalog followed at once: no group left, no search lists a moved copy.
    assert json.loads(pictor("duplicates", "--json", data=data).stdout) == []
    hits = json.loads(pictor("search", "a photo", "-n", "200", "--min-score", "0", "--json",
                             "--copies", data=data).stdout)
    assert not {h["path"] for h in hits} & going
    # The words of a moved copy (its folder "whatsapp") now find the photo kept.
    by_words = json.loads(pictor("search", "whatsapp", "--min-score", "100", "--json",
                                 data=data).stdout)
    assert by_words and {h["path"] for h in by_words} <= kept

    # Restored from the Trash (as a file manager does): the next scan finds it again.
    restored = sorted((trash / "files").iterdir())[0]
    info = (trash / "info" / f"{restored.name}.trashinfo").read_text()
    original = unquote(next(line.split("=", 1)[1] for line in info.splitlines()
                            if line.startswith("Path=")))
    shutil.move(restored, original)
    again = json.loads(pictor("index", "--json", data=data).stdout)
    assert again["indexed"] == 1
    groups = json.loads(pictor("duplicates", "--json", data=data).stdout)
    assert len(groups) == 1 and original in {p["path"] for p in groups[0]["photos"]}


def test_trash_with_nothing_to_move_says_so(tmp_path: Path, toy_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    truth = make_library(photos, originals=1, seed=3)
    for path in list(photos.rglob("*")):
        if path.is_file() and path not in truth.originals.values():
            path.unlink()
    assert pictor("index", str(photos), "--model", str(toy_clip_dir),
                  data=tmp_path / "data").returncode == 0
    done = pictor("duplicates", "--trash", "--yes", "--json", data=tmp_path / "data",
                  env=_trash_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"moved": [], "failed": [], "bytes": 0}
