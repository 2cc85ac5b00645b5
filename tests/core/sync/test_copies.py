"""The duplicate finder over a catalog: photos indexed before picture prints existed get
theirs from their files when they are first candidates (and keep them), and moving copies
to the Trash takes them out of the catalog and the index at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.store.catalog import Catalog, PhotoFacts
from core.store.vector_index import VectorIndex
from core.sync import copies
from core.sync.copies import FindDuplicates, trash_copies
from core.sync.trash import TrashResult

DIM = 8


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).resize((320, 240), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def _facts(path: Path, root: int) -> PhotoFacts:
    stat = path.stat()
    with Image.open(path) as image:
        width, height = image.size
    return PhotoFacts(path=str(path), root_id=root, size=stat.st_size, mtime=stat.st_mtime,
                      content_hash=f"h-{path.name}", width=width, height=height,
                      format="JPEG")


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def test_older_photos_get_prints_from_their_files_and_copies_are_grouped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _photo(tmp_path / "IMG_1.jpg", 1)
    with Image.open(original) as image:
        image.resize((160, 120)).save(tmp_path / "IMG_1_small.jpg", quality=70)
    other = _photo(tmp_path / "IMG_2.jpg", 2)
    with Catalog(tmp_path / "library.db") as catalog:
        root = catalog.add_root(str(tmp_path))
        model = catalog.model_id("m", DIM)
        same = _unit(0)
        near = same + 0.05 * _unit(9)
        ids = catalog.write_batch(
            [_facts(original, root), _facts(tmp_path / "IMG_1_small.jpg", root),
             _facts(other, root)],
            [same, near / np.linalg.norm(near), _unit(5)], model)
        assert catalog.prints_of(ids) == {}  # indexed before prints existed
        run = FindDuplicates(catalog, model, DIM)
        for _ in run:
            pass
        assert [g.kind for g in run.groups] == ["copies"]
        group = run.groups[0]
        assert [m.path for m in group.photos] == [str(original),
                                                  str(tmp_path / "IMG_1_small.jpg")]
        assert group.keeper.keep and not group.photos[1].keep
        assert set(catalog.prints_of(ids)) >= set(ids[:2])  # kept for the next time

        index = VectorIndex(DIM)
        index.upsert(np.array(ids), np.stack([same, near / np.linalg.norm(near), _unit(5)]))
        moved: list[str] = []

        def fake_trash(path: str, *, size: int, mtime: float) -> TrashResult:
            moved.append(path)
            return TrashResult(path, True, bytes=size)

        monkeypatch.setattr(copies, "move_to_trash", fake_trash)
        report = trash_copies(catalog, index, run.groups)
        assert moved == [str(tmp_path / "IMG_1_small.jpg")] and report.bytes > 0
        assert set(catalog.copy_facts(ids)) == {ids[0], ids[2]}
        assert ids[1] not in set(index.keys().tolist())
