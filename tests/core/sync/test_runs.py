"""An index run's phases as the fronts see them: the model loads only for a photo to
embed, and its load is announced as a phase of its own (seconds of a still bar otherwise)."""

from __future__ import annotations

from pathlib import Path

from core.library import Library
from tests.support import toyworld


def _phases(library: Library, *paths: Path) -> list[str]:
    return [p.phase for p in library.index(list(paths) or None)]


def test_the_model_loads_only_for_photos_to_embed_and_says_so(tmp_path: Path,
                                                                tiny_clip_dir: Path) -> None:
    photos, data = tmp_path / "photos", tmp_path / "data"
    toyworld.write_photos(photos, toyworld.random_scenes(3, seed=8), seed=8)
    with Library(data, model=str(tiny_clip_dir), device="cpu") as library:
        phases = _phases(library, photos)
        assert phases[0] == "load" and phases[-1] == "done"  # a new library: before the scan
    with Library(data, device="cpu") as library:
        assert _phases(library)[-1] == "done"
        assert not library.model_loaded  # nothing new: no model, no tag pass
    toyworld.write_photos(photos / "more", toyworld.random_scenes(2, seed=9), seed=9)
    with Library(data, device="cpu") as library:
        steps = [(p.phase, p.done) for p in library.index()]
        assert library.model_loaded
        first_batch = next(i for i, (phase, done) in enumerate(steps)
                           if phase == "embed" and done > 0)
        assert [phase for phase, _ in steps[:first_batch]].count("load") == 1


def test_a_renamed_folder_moves_its_photos_without_loading_the_model(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    """Every file of a renamed folder is a move (known by its content hash): nothing to
    embed, so the model never loads, and each photo keeps its record and vector."""
    root, data = tmp_path / "library", tmp_path / "data"
    toyworld.write_photos(root / "trip", toyworld.random_scenes(4, seed=11), seed=11)
    with Library(data, model=str(tiny_clip_dir), device="cpu") as library:
        list(library.index([root]))
    (root / "trip").rename(root / "holiday")
    with Library(data, device="cpu") as library:
        report = list(library.index())[-1]
        assert (report.moved, report.indexed) == (4, 0)
        assert not library.model_loaded
