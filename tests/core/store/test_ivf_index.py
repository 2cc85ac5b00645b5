"""The inverted-file index of large libraries (core.store.ivf_index): same answers as an exact
search where it matters, every change kept, files that survive a restart and refuse damage,
and a library that switches to it once it passes IVF_MIN photos."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from core.config import vector_index_path
from core.library import Library
from core.store import ivf_index
from core.store.index_base import IndexDamagedError
from core.store.index_files import copy_index, open_index
from core.store.ivf_index import IvfIndex
from core.store.vector_index import VectorIndex
from tests.support import toyworld

DIM = 32


def _clustered(n: int, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 200, DIM))
    v = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _exact(vectors: np.ndarray, keys: np.ndarray, q: np.ndarray, k: int) -> set[int]:
    return set(keys[np.argsort(-(vectors @ q))[:k]].tolist())


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    vectors = _clustered(24_000)
    keys = np.arange(1, len(vectors) + 1, dtype=np.int64) * 3  # not row numbers
    return keys, vectors


@pytest.fixture
def index(data: tuple[np.ndarray, np.ndarray]) -> IvfIndex:
    return IvfIndex.build(*data)


def test_search_finds_the_exact_top_ten_and_cosines(index: IvfIndex, data) -> None:
    keys, vectors = data
    rng = np.random.default_rng(1)
    hits = 0
    for row in rng.choice(len(vectors), 50, replace=False):
        q = vectors[row] + rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        q /= np.linalg.norm(q)
        found, sims = index.search(q, 10)
        assert len(found) == 10 and np.all(np.diff(sims) <= 1e-6)  # best first
        got = dict(zip(found.tolist(), sims.tolist(), strict=True))
        truth = _exact(vectors, keys, q, 10)
        hits += len(set(got) & truth)
        for key in set(got) & truth:  # exact cosines from the float16 rows
            assert got[key] == pytest.approx(float(vectors[key // 3 - 1] @ q), abs=2e-3)
    assert hits / 500 >= 0.95


def test_upsert_replaces_and_remove_forgets(index: IvfIndex, data) -> None:
    keys, vectors = data
    key = int(keys[10])
    index.upsert([key], -vectors[10:11])
    assert len(index) == len(keys)
    assert index.search(-vectors[10], 1)[0].tolist() == [key]
    assert key not in index.search(vectors[10], 5)[0].tolist()
    np.testing.assert_allclose(index.get([key])[0], -vectors[10], atol=2e-3)
    index.upsert([10**7], vectors[10:11])  # a new key, a photo id far above the others
    assert index.search(vectors[10], 1)[0].tolist() == [10**7]
    index.remove([key, 10**7, 999_999_999])  # unknown keys are ignored
    assert len(index) == len(keys) - 1 and key not in index and 10**7 not in index
    assert key not in index.keys().tolist()
    with pytest.raises(KeyError):
        index.get([key])


def test_a_photo_added_where_one_was_removed_is_found(index: IvfIndex, data) -> None:
    # FAISS 1.15 loses a code added to a fast-scan list after remove_ids there: the index
    # marks removed rows dead instead, so each vector stays findable.
    keys, vectors = data
    for i in range(40):
        index.remove([int(keys[i])])
        index.upsert([10**6 + i], vectors[i : i + 1])
    for i in range(40):
        assert index.search(vectors[i], 1)[0].tolist() == [10**6 + i]


def test_dead_rows_are_compacted_and_answers_stay(index: IvfIndex, data) -> None:
    keys, vectors = data
    gone = keys[: len(keys) // 3]
    index.remove(gone)
    assert len(index._keys) == len(index) == len(keys) - len(gone)  # compacted
    assert index.search(vectors[0], 10)[0].tolist() != [] and int(keys[0]) not in index
    for i in (len(gone), len(keys) - 1):
        assert index.search(vectors[i], 1)[0].tolist() == [int(keys[i])]
    index.upsert(gone[:5], vectors[:5])  # and it still takes new rows
    assert index.search(vectors[2], 1)[0].tolist() == [int(gone[2])]


def test_allowed_keys_are_searched_exactly(index: IvfIndex, data) -> None:
    keys, vectors = data
    allowed = keys[100:400]
    q = vectors[5]
    found, _ = index.search(q, 5, allowed=np.append(allowed, 10**9))
    sims = vectors[100:400] @ q
    assert found.tolist() == allowed[np.argsort(-sims)[:5]].tolist()
    assert index.search(q, 5, allowed=[10**9])[0].size == 0


def test_bad_input_is_refused_and_changes_nothing(index: IvfIndex, data) -> None:
    keys, vectors = data
    for bad_keys, bad_vectors in [([1, 1], vectors[:2]), ([-1], vectors[:1]),
                                  ([1], np.zeros((1, DIM))), ([1], vectors[:1, :5]),
                                  ([1, 2], vectors[:1])]:
        with pytest.raises(ValueError):
            index.upsert(bad_keys, bad_vectors)
    with pytest.raises(ValueError):
        index.search(vectors[0][:5], 3)
    assert len(index) == len(keys)
    with pytest.raises(ValueError, match="too few"):
        IvfIndex.build(keys[:100], vectors[:100])


def test_saved_index_opens_again_and_damage_is_refused(index: IvfIndex, data,
                                                       tmp_path: Path) -> None:
    keys, vectors = data
    index.remove(keys[:3])
    path = tmp_path / "m.usearch"
    meta = index.save(path, model="m", seq=7)
    assert (meta.kind, meta.count, meta.seq) == ("ivf", len(keys) - 3, 7)
    again, read = open_index(path, model="m", dim=DIM)
    assert read == meta and isinstance(again, IvfIndex) and again.trained_on == len(keys)
    q = vectors[50]
    assert again.search(q, 10)[0].tolist() == index.search(q, 10)[0].tolist()
    assert int(keys[0]) not in again and len(again) == len(index)
    view, _ = open_index(path, model="m", dim=DIM, view=True)  # vectors mapped, not read
    assert isinstance(view._vectors, np.memmap) and not view._vectors.flags.writeable
    assert view.is_view and view.search(q, 10)[0].tolist() == index.search(q, 10)[0].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a wide filter reads the mapped rows quietly
        wide = view.search(q, 5, allowed=keys)[0].tolist()
    assert wide == index.search(q, 5, allowed=keys)[0].tolist()
    before = path.read_bytes()
    view.upsert([int(keys[0])], vectors[:1])  # the first change copies them into memory
    assert not isinstance(view._vectors, np.memmap) and int(keys[0]) in view
    assert view.search(vectors[0], 1)[0].tolist() == [int(keys[0])]
    assert path.read_bytes() == before
    view.save(path, model="m", seq=8)  # replaces the file it mapped
    assert len(open_index(path, model="m", dim=DIM, view=True)[0]) == len(index) + 1
    copied = copy_index(path, tmp_path / "n.usearch", model="n")
    assert copied.kind == "ivf"
    assert len(open_index(tmp_path / "n.usearch", model="n", dim=DIM)[0]) == len(index) + 1

    with pytest.raises(IndexDamagedError, match="dimensions"):
        open_index(path, model="m", dim=DIM + 2)
    data_bytes = path.read_bytes()
    path.write_bytes(data_bytes[: len(data_bytes) // 2])
    with pytest.raises(IndexDamagedError, match="bytes"):
        open_index(path, model="m", dim=DIM)
    path.write_bytes(b"x" * len(data_bytes))  # right size, not an index
    with pytest.raises(IndexDamagedError, match="inverted-file"):
        open_index(path, model="m", dim=DIM)


def test_an_index_that_outgrew_its_training_says_so(data) -> None:
    keys, vectors = data
    index = IvfIndex.build(keys, vectors)
    more = 3 * len(keys)
    index.upsert(np.arange(10**6, 10**6 + more), np.tile(vectors, (3, 1)))
    assert not index.stale()
    index.upsert([5 * 10**6], vectors[:1])
    assert index.stale()


def test_a_library_past_ivf_min_switches_and_rebuilds_from_the_catalog(
        tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small numbers stand for large ones: 40 photos past a threshold of 30, in 4 lists.
    monkeypatch.setattr("core.store.index_keeper.IVF_MIN", 30)
    monkeypatch.setattr(ivf_index, "list_count", lambda n: 4)
    monkeypatch.setattr(ivf_index, "MIN_TRAIN_PER_LIST", 5)
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(40, seed=3), seed=3)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        list(library.index([photos], batch_size=8))
        index = library.vector_index()
        assert isinstance(index, IvfIndex) and len(index) == 40
        photo = sorted(photos.glob("*"))[5].resolve()
        hits = library.search_vector(library.image_vector(photo), k=3)
        assert Path(hits[0].path) == photo and hits[0].similarity == pytest.approx(1, abs=2e-3)
        path = vector_index_path(library.data_dir, library.model_name)
        assert open_index(path, model=library.model_name, dim=index.dim)[1].kind == "ivf"
    path.unlink()  # the index is a cache: the next start builds the inverted file again
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        index = library.vector_index()
        assert isinstance(index, IvfIndex) and len(index) == 40
        assert path.exists()


def test_an_inverted_file_that_cannot_be_built_leaves_the_graph(
        tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.store.index_keeper.IVF_MIN", 10)

    def no_memory(*args: object, **kwargs: object) -> IvfIndex:
        raise MemoryError

    monkeypatch.setattr(IvfIndex, "build", no_memory)
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(12, seed=4), seed=4)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        report = list(library.index([photos], batch_size=8))[-1]
        assert report.indexed == 12
        index = library.vector_index()
        assert isinstance(index, VectorIndex) and len(index) == 12


def test_a_library_that_shrank_scans_more_lists(data) -> None:
    keys, vectors = data
    index = IvfIndex.build(keys, vectors)
    index.remove(keys[:-200])  # a folder of 200 photos left in a library of 24k
    left, kept = vectors[-200:], keys[-200:]
    rng = np.random.default_rng(2)
    hits = 0
    for row in rng.choice(200, 30, replace=False):
        q = left[row] + rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        hits += len(set(index.search(q, 10)[0].tolist()) & _exact(left, kept, q, 10))
    assert hits / 300 >= 0.95
