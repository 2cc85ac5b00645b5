"""VectorIndex: what search returns, what survives a save, and when a file is refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from usearch.index import Index

import core.store.vector_index as vector_index
from core.store import index_base
from core.store.index_base import IndexDamagedError, IndexMeta
from core.store.index_files import copy_index, open_index
from core.store.vector_index import VectorIndex

DIM = 32
MODEL = "test-clip"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, n: int, dim: int, centers: int = 200) -> np.ndarray:
    """Normalised mixture of gaussians: near neighbours are close, like real photo vectors."""
    middle = rng.standard_normal((centers, dim)).astype(np.float32)
    noise = 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return unit(middle[rng.integers(0, centers, n)] + noise)


def exact_top(base: np.ndarray, keys: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Keys of the k best cosine matches of each query (rows), computed by hand."""
    sims = np.atleast_2d(queries) @ unit(base).T
    return keys[np.argsort(-sims, axis=1, kind="stable")[:, :k]]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def small(rng: np.random.Generator) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    keys = np.arange(1, 301, dtype=np.int64) * 10
    vectors = clustered(rng, len(keys), DIM, centers=10)
    vi = VectorIndex(DIM)
    vi.upsert(keys, vectors)
    return vi, keys, vectors


@pytest.fixture(scope="module")
def big() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """20k clustered 512-d vectors with the default settings, plus 200 held-out queries."""
    data = clustered(np.random.default_rng(0), 20_200, 512)
    vi = VectorIndex(512)
    vi.upsert(np.arange(20_000), data[:20_000])
    return vi, data[:20_000], data[20_000:]


def test_vector_finds_itself(small: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    vi, keys, vectors = small
    for key, vector in zip(keys[:50], vectors[:50], strict=True):
        found, scores = vi.search(vector, 5)
        assert found[0] == key
        assert scores[0] == pytest.approx(1.0, abs=2e-3)
        assert found.dtype == np.int64 and scores.dtype == np.float32
        assert np.all(np.diff(scores) <= 0)


def test_scores_are_cosine_similarity(small: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    vi, keys, vectors = small
    query = unit(vectors[0] + vectors[1])
    found, scores = vi.search(query, 20)
    expected = {int(k): float(v @ query) for k, v in zip(keys, vectors, strict=True)}
    for key, score in zip(found, scores, strict=True):
        assert score == pytest.approx(expected[int(key)], abs=3e-3)


def test_upsert_replaces_existing_key(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], rng: np.random.Generator
) -> None:
    vi, keys, vectors = small
    fresh = unit(rng.standard_normal((2, DIM)))
    vi.upsert(keys[:2], fresh.astype(np.float16))  # float16 input is accepted too
    assert len(vi) == len(keys)
    assert sorted(vi.keys().tolist()) == sorted(keys.tolist())
    np.testing.assert_allclose(vi.get(keys[:2]), fresh, atol=2e-3)
    found, scores = vi.search(fresh[0], 1)
    assert found[0] == keys[0] and scores[0] == pytest.approx(1.0, abs=2e-3)
    found, _ = vi.search(vectors[0], 300)
    assert list(found).count(keys[0]) == 1  # no duplicate left behind


def test_remove_ignores_unknown_keys(small: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    vi, keys, vectors = small
    vi.remove([int(keys[0]), int(keys[1]), 999_999])
    vi.remove(np.array([], dtype=np.int64))
    assert len(vi) == len(keys) - 2
    assert keys[0] not in vi and keys[2] in vi and 999_999 not in vi
    found, _ = vi.search(vectors[0], 300)
    assert keys[0] not in found and keys[1] not in found
    with pytest.raises(KeyError):
        vi.get(keys[:1])


def test_get_and_keys(small: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    vi, keys, vectors = small
    got = vi.get(keys[[5, 3]])
    assert got.dtype == np.float32 and got.shape == (2, DIM)
    np.testing.assert_allclose(got, vectors[[5, 3]], atol=2e-3)
    assert vi.get(np.array([], dtype=np.int64)).shape == (0, DIM)
    listed = vi.keys()
    assert listed.dtype == np.int64 and sorted(listed.tolist()) == keys.tolist()


def test_empty_index_and_large_k(rng: np.random.Generator) -> None:
    vi = VectorIndex(DIM)
    query = unit(rng.standard_normal(DIM))
    found, scores = vi.search(query, 10)
    assert found.shape == (0,) and scores.shape == (0,)
    assert vi.search(query, 10, allowed=np.array([1, 2]))[0].shape == (0,)
    assert len(vi) == 0 and vi.keys().shape == (0,)
    vi.upsert(np.array([4, 5, 6]), unit(rng.standard_normal((3, DIM))))
    found, scores = vi.search(query, 50)
    assert sorted(found.tolist()) == [4, 5, 6] and np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("share", [0.01, 0.3, 1.0], ids=["fetch", "scan", "all"])
def test_allowed_returns_exact_best_among_allowed(
    big: tuple[VectorIndex, np.ndarray, np.ndarray], share: float
) -> None:
    vi, base, queries = big
    rng = np.random.default_rng(3)
    keys = np.arange(len(base))
    stored = base.astype(np.float16).astype(np.float32)  # what the index holds
    allowed = np.sort(rng.choice(keys, int(share * len(keys)), replace=False))
    best = exact_top(stored[allowed], allowed, queries[:20], 10)
    for query, expected in zip(queries[:20], best, strict=True):
        with_unknown = np.concatenate([allowed, [10**9]])
        found, scores = vi.search(query, 10, allowed=with_unknown)
        assert set(found.tolist()) <= set(allowed.tolist())
        assert len(set(found.tolist()) & set(expected.tolist())) >= 9  # f16 ties may swap
        assert found[0] == expected[0]
        assert np.all(np.diff(scores) <= 1e-6)
        np.testing.assert_allclose(scores, unit(base[found]) @ query, atol=3e-3)
    assert vi.search(queries[0], 10, allowed=np.array([10**9]))[0].shape == (0,)


def test_recall_at_20k_with_default_settings(
    big: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    vi, base, queries = big
    stored = base.astype(np.float16).astype(np.float32)  # what the index holds
    keys = np.arange(len(base))
    truth = [set(row.tolist()) for row in exact_top(stored, keys, queries, 10)]

    def recall() -> float:
        pairs = zip(queries, truth, strict=True)
        hits = [len(set(vi.search(q, 10)[0].tolist()) & t) for q, t in pairs]
        return sum(hits) / (10 * len(queries))

    vi.exact_max = 0  # force the HNSW graph
    try:
        assert recall() >= 0.98
    finally:
        vi.exact_max = vector_index.EXACT_MAX
    assert recall() == 1.0  # 20k is within the exact-search range


def test_memory_per_vector_at_20k(
    big: tuple[VectorIndex, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    vi, _, _ = big
    per_vector = vi.nbytes / len(vi)
    assert per_vector <= 1200  # f16 512-d vector is 1024 bytes; the graph adds ~150
    path = tmp_path / "big.usearch"
    vi.save(path, model=MODEL, seq=1)
    assert path.stat().st_size == vi.nbytes


def test_save_then_load_or_view_gives_same_results(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    vi, keys, vectors = small
    path = tmp_path / "clip.usearch"
    saved = vi.save(path, model=MODEL, seq=42)
    assert saved == IndexMeta(model=MODEL, dim=DIM, count=len(keys), seq=42)
    assert json.loads(path.with_suffix(".json").read_text())["seq"] == 42
    queries = vectors[:10]
    before = [vi.search(q, 10) for q in queries]
    for view in (False, True):
        other, meta = VectorIndex.load(path, model=MODEL, dim=DIM, view=view)
        assert meta == saved and len(other) == len(keys) and other.is_view == view
        for q, (want_keys, want_scores) in zip(queries, before, strict=True):
            got_keys, got_scores = other.search(q, 10)
            np.testing.assert_array_equal(got_keys, want_keys)
            np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_view_turns_into_a_copy_on_write(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], tmp_path: Path, rng: np.random.Generator
) -> None:
    vi, keys, _ = small
    path = tmp_path / "clip.usearch"
    vi.save(path, model=MODEL, seq=1)
    on_disk = path.read_bytes()
    view, _ = VectorIndex.load(path, model=MODEL, dim=DIM, view=True)
    view.remove([123_456])  # nothing to remove: stays a view
    assert view.is_view
    view.remove([int(keys[0])])
    view.upsert(np.array([7]), unit(rng.standard_normal((1, DIM))))
    assert not view.is_view and len(view) == len(keys) and keys[0] not in view
    assert path.read_bytes() == on_disk  # the mapped file was never written
    view.save(path, model=MODEL, seq=2)
    again, meta = VectorIndex.load(path, model=MODEL, dim=DIM)
    assert meta.seq == 2 and 7 in again and keys[0] not in again


def test_failed_save_leaves_old_files_intact(
    small: tuple[VectorIndex, np.ndarray, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rng: np.random.Generator,
) -> None:
    vi, keys, _ = small
    path = tmp_path / "clip.usearch"
    vi.save(path, model=MODEL, seq=1)
    old_index, old_sidecar = path.read_bytes(), path.with_suffix(".json").read_bytes()
    vi.upsert(np.array([1, 2, 3]), unit(rng.standard_normal((3, DIM))))

    def half_written(self: Index, target: str) -> None:
        Path(target).write_bytes(b"partial" * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Index, "save", half_written)
    with pytest.raises(OSError, match="No space"):
        vi.save(path, model=MODEL, seq=2)
    monkeypatch.undo()

    def crash(_: Path) -> int:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(index_base, "fsync_file", crash)
    with pytest.raises(OSError, match="I/O error"):
        vi.save(path, model=MODEL, seq=2)

    assert path.read_bytes() == old_index
    assert path.with_suffix(".json").read_bytes() == old_sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.usearch"]
    _, meta = VectorIndex.load(path, model=MODEL, dim=DIM)
    assert meta.seq == 1 and meta.count == len(keys)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _truncate_and_fix_sidecar(path: Path) -> None:
    _truncate(path)
    _edit_sidecar(path, bytes=path.stat().st_size)


def _edit_sidecar(path: Path, **changes: object) -> None:
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(json.loads(sidecar.read_text()) | changes))


DAMAGE = {
    "missing file": lambda p: p.unlink(),
    "missing sidecar": lambda p: p.with_suffix(".json").unlink(),
    "garbage sidecar": lambda p: p.with_suffix(".json").write_text("{not json"),
    "sidecar list": lambda p: p.with_suffix(".json").write_text("[1, 2]"),
    "sidecar wrong types": lambda p: _edit_sidecar(p, count="300"),
    "garbage file": lambda p: p.write_bytes(b"\x00garbage" * 5000),
    "garbage file, size fixed": lambda p: (
        p.write_bytes(b"\x00garbage" * 5000),
        _edit_sidecar(p, bytes=40_000),
    ),
    "truncated file": _truncate,
    "truncated file, size fixed": _truncate_and_fix_sidecar,
    "count mismatch": lambda p: _edit_sidecar(p, count=299),
}


@pytest.mark.parametrize("view", [False, True], ids=["load", "view"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_load_refuses_damaged_files(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], tmp_path: Path, damage: str, view: bool
) -> None:
    vi, _, _ = small
    path = tmp_path / "clip.usearch"
    vi.save(path, model=MODEL, seq=1)
    DAMAGE[damage](path)
    with pytest.raises(IndexDamagedError):
        VectorIndex.load(path, model=MODEL, dim=DIM, view=view)


def test_load_refuses_other_model_or_dim(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    vi, _, _ = small
    path = tmp_path / "clip.usearch"
    vi.save(path, model=MODEL, seq=1)
    with pytest.raises(IndexDamagedError, match="model"):
        VectorIndex.load(path, model="other-clip", dim=DIM)
    with pytest.raises(IndexDamagedError, match="dimensions"):
        VectorIndex.load(path, model=MODEL, dim=DIM * 2)
    _edit_sidecar(path, dim=DIM * 2)  # sidecar agrees with the caller, the file does not
    with pytest.raises(IndexDamagedError, match="dimensions"):
        VectorIndex.load(path, model=MODEL, dim=DIM * 2)


@pytest.mark.parametrize(
    ("keys", "vectors"),
    [
        ([1, 2], np.ones((3, DIM))),  # count mismatch
        ([1], np.ones((1, DIM + 1))),  # wrong dimension
        ([1, 1], np.ones((2, DIM))),  # same key twice
        ([-1], np.ones((1, DIM))),  # negative id
        ([1.5], np.ones((1, DIM))),  # not an integer
        ([1], np.full((1, DIM), np.nan)),
        ([1], np.zeros((1, DIM))),
    ],
)
def test_bad_upsert_is_refused_and_changes_nothing(
    small: tuple[VectorIndex, np.ndarray, np.ndarray], keys: list[float], vectors: np.ndarray
) -> None:
    vi, all_keys, _ = small
    with pytest.raises(ValueError):
        vi.upsert(np.array(keys), vectors)
    assert len(vi) == len(all_keys) and 1 not in vi


def test_searches_run_while_one_thread_writes(rng: np.random.Generator) -> None:
    vi = VectorIndex(DIM)
    data = clustered(rng, 6000, DIM, centers=20)
    vi.upsert(np.arange(1000), data[:1000])
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for start in range(1000, 6000, 500):  # grows the storage while readers search
                vi.upsert(np.arange(start, start + 500), data[start : start + 500])
                vi.remove(range(start - 1000, start - 900))
        except BaseException as error:
            errors.append(error)

    def reader() -> None:
        try:
            for i in range(300):
                found, scores = vi.search(data[i % 1000], 5)
                assert len(found) == 5 and np.all(np.isfinite(scores))
                vi.search(data[i], 5, allowed=np.arange(0, 6000, 7))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(vi) == 6000 - 1000


@pytest.mark.parametrize("view", [False, True])
def test_saved_and_loaded_indexes_search_with_the_measured_expansion(tmp_path: Path,
                                                                     view: bool) -> None:
    index = VectorIndex(DIM)
    index.upsert(np.arange(1, 51), np.random.default_rng(0).standard_normal((50, DIM)))
    path = tmp_path / "vectors.usearch"
    index.save(path, model=MODEL, seq=1)
    loaded, _ = VectorIndex.load(path, model=MODEL, dim=DIM, view=view)
    for vi in (index, loaded):  # recall@10 0.99 at 100k vectors needs 256 (bench/run.py)
        assert vi._index.expansion_search == vector_index.EXPANSION_SEARCH == 256


def test_a_saved_index_is_copied_for_a_model_with_the_same_vectors(tmp_path: Path) -> None:
    index = VectorIndex(8)
    rng = np.random.default_rng(3)
    index.upsert(np.arange(1, 51), rng.standard_normal((50, 8)).astype(np.float32))
    index.save(tmp_path / "a.usearch", model="base", seq=7)
    meta = copy_index(tmp_path / "a.usearch", tmp_path / "b.usearch", model="version")
    assert (meta.model, meta.count, meta.seq) == ("version", 50, 7)
    copy, loaded = VectorIndex.load(tmp_path / "b.usearch", model="version", dim=8)
    assert loaded == meta and len(copy) == 50
    opened, read = open_index(tmp_path / "b.usearch", model="version", dim=8)
    assert isinstance(opened, VectorIndex) and read == meta
    with pytest.raises(IndexDamagedError):  # a damaged source is not copied
        (tmp_path / "a.usearch").write_bytes(b"garbage")
        copy_index(tmp_path / "a.usearch", tmp_path / "c.usearch", model="other")
    assert not (tmp_path / "c.usearch").exists()


def test_an_interrupt_inside_usearch_is_the_users_interrupt() -> None:
    """A Ctrl-C while USearch adds surfaces as its RuntimeError: it stays a KeyboardInterrupt
    (the command line then stops with 130, not a traceback)."""
    from core.store.vector_index import _interruptible

    with pytest.raises(KeyboardInterrupt), _interruptible():
        raise RuntimeError("Operation has been terminated")
    with pytest.raises(RuntimeError, match="other"), _interruptible():
        raise RuntimeError("other")


@pytest.mark.parametrize("first", ["core.store.vector_index", "core.store.ivf_index"])
def test_the_index_imported_before_onnx_runtime_does_not_crash_it(first: str) -> None:
    """USearch loaded before ONNX Runtime segfaulted the process (usearch 2.26.6 with
    onnxruntime 1.32) when the int8 tower or the text reader then loaded the runtime."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {first}; import onnxruntime"],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
