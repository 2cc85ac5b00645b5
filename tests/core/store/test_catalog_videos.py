"""Videos in the catalog and the search index: a video's moments get keys of their own
beside its poster's, which follow it through re-indexing, removal and a rebuild, in both
kinds of index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.store.catalog import Catalog, PhotoFacts
from core.store.catalog_videos import frame_key, frame_of, photo_of
from core.store.index_keeper import IndexKeeper
from core.store.ivf_index import IvfIndex

DIM = 8


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "library.db") as cat:
        yield cat


def _vec(seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _video(path: str, root_id: int, identity: str = "id-1", **extra: object) -> PhotoFacts:
    return PhotoFacts(path=path, root_id=root_id, size=1000, mtime=1_600_000_000.0,
                      content_hash=identity, width=320, height=180, format="MP4",
                      **extra)  # type: ignore[arg-type]


def _moments(count: int, seed: int = 0) -> list[tuple[float, np.ndarray]]:
    return [(2.0 * i, _vec(seed + i)) for i in range(count)]


def test_keys_map_back_to_their_video_and_moment() -> None:
    for photo_id in (1, 7, 123_456_789, (1 << 40) - 1):
        assert photo_of(photo_id) == photo_id and frame_of(photo_id) is None
        for frame in (0, 1, 239):
            key = frame_key(photo_id, frame)
            assert key >= 1 << 40 and key < 1 << 62
            assert (photo_of(key), frame_of(key)) == (photo_id, frame)


def test_a_video_is_a_row_with_its_poster_and_timed_moments(catalog: Catalog) -> None:
    root = catalog.add_root("/lib")
    model = catalog.model_id("m", DIM)
    moments = _moments(3)
    photo_id, stale = catalog.write_video(_video("/lib/a.mp4", root), duration_s=6.5,
                                          poster=moments[1][1], moments=moments,
                                          model_id=model)
    assert stale == []
    assert catalog.videos_among([photo_id, photo_id + 1]) == {photo_id: 6.5}
    times, vectors = catalog.moments_of([photo_id], model, DIM)[photo_id]
    assert times.tolist() == [0.0, 2.0, 4.0]
    assert np.allclose(vectors, np.stack([v for _, v in moments]), atol=1e-3)
    assert catalog.vector_of(photo_id, model, DIM) is not None  # the poster, as a photo's
    assert catalog.index_count(model) == 4
    assert catalog.index_keys(model) == {photo_id, *(frame_key(photo_id, i) for i in range(3))}
    assert catalog.text_pending(10) == []  # the text pass leaves videos alone
    assert catalog.copy_facts([photo_id]) == {}  # and so does the duplicate finder


def test_reindexing_and_failing_drop_the_moments_it_no_longer_has(catalog: Catalog) -> None:
    root = catalog.add_root("/lib")
    model = catalog.model_id("m", DIM)
    photo_id, _ = catalog.write_video(_video("/lib/a.mp4", root), duration_s=10.0,
                                      poster=_vec(1), moments=_moments(4), model_id=model)
    again, stale = catalog.write_video(_video("/lib/a.mp4", root), duration_s=10.0,
                                       poster=_vec(1), moments=_moments(2), model_id=model)
    assert again == photo_id and stale == [frame_key(photo_id, 2), frame_key(photo_id, 3)]
    _, stale = catalog.write_video(_video("/lib/a.mp4", root, error="cut off video"),
                                   duration_s=None, poster=None, moments=(), model_id=model)
    assert stale == [frame_key(photo_id, 0), frame_key(photo_id, 1)]
    assert catalog.index_count(model) == 0
    assert [f.error for f in catalog.failures()] == ["cut off video"]


def test_a_changed_video_loses_every_models_moments(catalog: Catalog) -> None:
    root = catalog.add_root("/lib")
    first, second = catalog.model_id("a", DIM), catalog.model_id("b", DIM)
    for model in (first, second):
        photo_id, _ = catalog.write_video(_video("/lib/a.mp4", root), duration_s=4.0,
                                          poster=_vec(1), moments=_moments(2),
                                          model_id=model)
    catalog.write_video(_video("/lib/a.mp4", root, identity="id-2"), duration_s=4.0,
                        poster=_vec(2), moments=_moments(3, seed=5), model_id=first)
    assert catalog.index_count(first) == 4 and catalog.index_count(second) == 0
    assert catalog.moments_of([photo_id], second, DIM) == {}


def test_the_index_follows_moments_through_changes_removal_and_rebuild(
        catalog: Catalog, tmp_path: Path) -> None:
    root = catalog.add_root("/lib")
    model = catalog.model_id("m", DIM)
    keeper = IndexKeeper(catalog, tmp_path / "m.usearch", "m")
    photo = catalog.write_batch([PhotoFacts(path="/lib/p.jpg", root_id=root, size=1,
                                            mtime=1.0, content_hash="p")], [_vec(9)], model)[0]
    video, _ = catalog.write_video(_video("/lib/a.mp4", root), duration_s=8.0,
                                   poster=_vec(1), moments=_moments(4), model_id=model)
    index = keeper.get(model, DIM, writable=True)
    assert set(index.keys().tolist()) == catalog.index_keys(model)
    # A moment is found by its own vector, under its own key.
    keys, _ = index.search(_moments(4)[2][1], 1)
    assert int(keys[0]) == frame_key(video, 2)
    keeper.save(model, DIM)

    catalog.write_video(_video("/lib/a.mp4", root), duration_s=8.0, poster=_vec(1),
                        moments=_moments(2), model_id=model)  # another process re-read it
    keeper.catch_up(model, DIM)
    assert set(index.keys().tolist()) == {photo, video, frame_key(video, 0),
                                          frame_key(video, 1)}
    catalog.remove_photos([video])
    keeper.catch_up(model, DIM)
    assert index.keys().tolist() == [photo]

    catalog.write_video(_video("/lib/b.mp4", root, identity="id-3"), duration_s=8.0,
                        poster=_vec(1), moments=_moments(3), model_id=model)
    keeper.save(model, DIM)
    (tmp_path / "m.usearch").unlink()  # a lost index is rebuilt from the catalog alone
    fresh = IndexKeeper(catalog, tmp_path / "m.usearch", "m").get(model, DIM)
    assert set(fresh.keys().tolist()) == catalog.index_keys(model)
    assert len(fresh) == 5


def test_filtered_search_reaches_the_moments_of_allowed_videos(catalog: Catalog) -> None:
    root = catalog.add_root("/lib")
    model = catalog.model_id("m", DIM)
    video, _ = catalog.write_video(_video("/lib/a.mp4", root), duration_s=8.0,
                                   poster=_vec(1), moments=_moments(3), model_id=model)
    allowed = catalog.filtered_ids(model, folder="/lib")
    assert allowed.tolist() == [video]
    assert sorted(catalog.frame_keys_among(model, allowed).tolist()) == [
        frame_key(video, i) for i in range(3)]
    assert catalog.frame_keys_among(model, np.asarray([video + 1])).size == 0


def test_the_inverted_file_takes_moment_keys_and_keeps_them_in_its_file(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = np.arange(1, len(vectors) + 1, dtype=np.int64)
    keys[-500:] = [frame_key(k % 100 + 1, k // 100) for k in range(500)]
    index = IvfIndex.build(keys, vectors)
    far = int(keys[-1])
    assert far in index and len(index) == len(keys)
    found, _ = index.search(vectors[-1], 1)
    assert int(found[0]) == far
    found, _ = index.search(vectors[-1], 3, allowed=keys[-3:])
    assert set(found.tolist()) == set(keys[-3:].tolist())
    index.remove(keys[-40:].tolist())  # dead rows, then a save
    assert far not in index and len(index) == len(keys) - 40
    index.upsert(np.asarray([far]), vectors[-1:])
    assert np.allclose(index.get([far])[0], vectors[-1], atol=1e-3)
    index.save(tmp_path / "i.ivf", model="m", seq=3)
    loaded, _ = IvfIndex.load(tmp_path / "i.ivf", model="m", dim=16)
    assert set(loaded.keys().tolist()) == set(keys[:-40].tolist()) | {far}
    assert int(keys[-41]) in loaded and int(keys[-2]) not in loaded


def test_a_model_sharing_vectors_gets_the_moments_too(catalog: Catalog) -> None:
    root = catalog.add_root("/lib")
    model = catalog.model_id("m", DIM)
    moments = _moments(3)
    photo_id, _ = catalog.write_video(_video("/lib/a.mp4", root), duration_s=6.5,
                                      poster=moments[1][1], moments=moments, model_id=model)
    catalog.share_vectors(model, "m-text-tuned", DIM)
    target = catalog.known_model("m-text-tuned")
    assert target is not None
    times, vectors = catalog.moments_of([photo_id], target[0], DIM)[photo_id]
    assert times.tolist() == [0.0, 2.0, 4.0]
    assert np.allclose(vectors, np.stack([v for _, v in moments]), atol=1e-3)
