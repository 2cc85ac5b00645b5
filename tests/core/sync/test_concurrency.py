"""Searching while the indexer adds, removes and saves never fails, and never returns a
photo removed before the searches began (one removed during a search may still be listed
by it: the removals here race the searches) or one the library never held."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.library import Library
from core.sync import runs
from tests.support import toyworld


def test_searches_during_indexing_removal_and_saves(tmp_path: Path, tiny_clip_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "INDEX_SAVE_INTERVAL_S", 0.0)  # save after every batch
    data = tmp_path / "data"
    photos = tmp_path / "photos"
    paths = toyworld.write_photos(photos, toyworld.random_scenes(120, seed=8), seed=8)
    with Library(data, model=str(tiny_clip_dir), device="cpu") as writer:
        list(writer.index([photos], batch_size=4))  # a first part, so searches have data
        for path in paths[60:]:
            path.unlink()
        list(writer.index())
        more = toyworld.write_photos(photos / "more", toyworld.random_scenes(80, seed=9),
                                     seed=9)

        held = {str(p.resolve()) for p in [*paths[:60], *more]}
        errors: list[BaseException] = []
        searches = 0
        stop = threading.Event()

        def searcher() -> None:
            nonlocal searches
            try:
                # A reader opens its own Library (its own database connection), as a second
                # process would; it reloads the index file that the writer keeps saving.
                while not stop.is_set():
                    with Library(data, device="cpu") as reader:
                        # A hit's photo may be removed right after the search returns
                        # (paths[:30] are, meanwhile); never one removed before it began.
                        for hit in reader.search("a red circle", k=10, min_score=0):
                            assert hit.path in held, hit.path
                        searches += 1
            except BaseException as error:  # surfaced in the main thread below
                errors.append(error)

        thread = threading.Thread(target=searcher)
        thread.start()
        try:
            for path in paths[:30]:  # removals and additions while the reader searches
                path.unlink()
            list(writer.index(batch_size=4))
        finally:
            stop.set()
            thread.join(timeout=120)
        assert not errors, errors
        assert searches > 0
        live = {str(p.resolve()) for p in [*paths[30:60], *more]}
        assert {h.path for h in writer.search("a red circle", k=200, min_score=0)} == live
