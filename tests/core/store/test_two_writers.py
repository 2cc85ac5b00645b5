"""Several writers on one library (the tray and a terminal, two terminals) never hide a
photo from search: every photo the catalog holds is in the search index after any
interleaving, and an index file that disagrees with the catalog is repaired on open."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from core.config import vector_index_path
from core.library import Library
from core.store.vector_index import VectorIndex
from core.sync import runs
from tests.support import toyworld


def _interleave(*runs: object) -> None:
    """Step the generators in turn, one progress report each, until all are done."""
    live = list(runs)
    while live:
        for run in list(live):
            try:
                next(run)  # type: ignore[call-overload]
            except StopIteration:
                live.remove(run)


def _found(data: Path) -> set[str]:
    with Library(data, device="cpu") as reader:
        return {h.path for h in reader.search("a red circle", k=500, min_score=0, words=False)}


def test_two_index_runs_at_once_leave_every_photo_findable(
        tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "INDEX_SAVE_INTERVAL_S", 0.0)  # save after every batch
    data = tmp_path / "data"
    first = toyworld.write_photos(tmp_path / "a", toyworld.random_scenes(24, seed=1), seed=1)
    second = toyworld.write_photos(tmp_path / "b", toyworld.random_scenes(24, seed=2), seed=2)
    model = str(tiny_clip_dir)
    with Library(data, model=model, device="cpu") as setup:  # the model is known to both
        setup.add_roots([tmp_path / "a", tmp_path / "b"])
        setup.vector_index(writable=True)
    with Library(data, model=model, device="cpu") as one, \
            Library(data, model=model, device="cpu") as two:
        _interleave(one.index([tmp_path / "a"], batch_size=4),
                    two.index([tmp_path / "b"], batch_size=4))
        everything = {str(p.resolve()) for p in [*first, *second]}
        # Each writer's own index sees the other's photos too (the window keeps answering).
        for writer in (one, two):
            hits = writer.search("a red circle", k=500, min_score=0, words=False)
            assert {h.path for h in hits} == everything
    assert _found(data) == everything  # and so does the file they saved


def test_an_index_file_stamped_too_new_is_repaired_on_open(tmp_path: Path,
                                                           tiny_clip_dir: Path) -> None:
    """The state two writers left behind on main: a file that lacks photos the catalog
    holds, stamped with the catalog's current change counter."""
    data = tmp_path / "data"
    paths = toyworld.write_photos(tmp_path / "p", toyworld.random_scenes(12, seed=3), seed=3)
    with Library(data, model=str(tiny_clip_dir), device="cpu") as library:
        list(library.index([tmp_path / "p"]))
        model_id, dim = library.model_key()
        seq = library.catalog.max_seq(model_id)
        path = vector_index_path(data, library.model_name)
        partial = VectorIndex(dim)
        ids, vectors = next(library.catalog.iter_vectors(model_id, dim))
        partial.upsert(ids[:5], vectors[:5])
        partial.save(path, model=library.model_name, seq=seq)
    assert _found(data) == {str(p.resolve()) for p in paths}


@pytest.mark.slow
def test_two_index_commands_at_once_then_search_finds_all(tmp_path: Path,
                                                          tiny_clip_dir: Path) -> None:
    """The same through the command line: two ``index`` processes on one data folder."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    data = tmp_path / "data"
    folders = [tmp_path / "a", tmp_path / "b"]
    photos = [toyworld.write_photos(f, toyworld.random_scenes(40, seed=i), seed=i)
              for i, f in enumerate(folders)]
    base = [sys.executable, str(root / "main.py"), "--data-dir", str(data)]
    subprocess.run([*base[:2], "status", "--data-dir", str(data), "--model",
                    str(tiny_clip_dir)], check=True, capture_output=True, timeout=120)
    runs = [subprocess.Popen([sys.executable, str(root / "main.py"), "index", str(folder),
                              "--data-dir", str(data), "--model", str(tiny_clip_dir),
                              "--batch-size", "2", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for folder in folders]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    found = subprocess.run([sys.executable, str(root / "main.py"), "search", "a red circle",
                            "--data-dir", str(data), "--min-score", "0", "-n", "500",
                            "--no-words", "--json"],
                           capture_output=True, text=True, timeout=120, check=True)
    hits = {h["path"] for h in json.loads(found.stdout)}
    assert hits == {str(p.resolve()) for p in itertools.chain(*photos)}
