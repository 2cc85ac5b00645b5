"""The catalog: schema on open, batch writes, moves, filters, failures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core.errors import CatalogError
from core.store.catalog import SCHEMA_VERSION, Catalog, PhotoFacts


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "library.db") as cat:
        yield cat


def _fact(path: str, root_id: int, **extra) -> PhotoFacts:
    base = dict(path=path, root_id=root_id, size=10, mtime=1_600_000_000.0,
                content_hash=f"hash-{path}")
    base.update(extra)
    return PhotoFacts(**base)


def _vec(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_new_database_has_current_schema_wal_and_passes_integrity(tmp_path: Path) -> None:
    Catalog(tmp_path / "lib.db").close()
    conn = sqlite3.connect(tmp_path / "lib.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Catalog(tmp_path / "lib.db") as again:  # reopening migrates nothing, loses nothing
        assert again.integrity_ok()


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "lib.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(CatalogError, match="newer Pictor"):
        Catalog(tmp_path / "lib.db")


def test_a_file_that_is_not_a_database_is_a_catalog_error(tmp_path: Path) -> None:
    (tmp_path / "lib.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="cannot open"):
        Catalog(tmp_path / "lib.db")


def test_batch_write_stores_float16_vectors_and_bumps_seq(catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    ids = catalog.write_batch([_fact("/photos/a.jpg", root), _fact("/photos/b.jpg", root)],
                              [_vec(1), _vec(2)], model)
    assert catalog.max_seq(model) == 1
    stored = catalog.vector_of(ids[0], model, 8)
    assert stored is not None and np.allclose(stored, _vec(1), atol=1e-3)
    chunks = list(catalog.iter_vectors(model, 8))
    assert [list(c[0]) for c in chunks] == [ids]
    assert list(catalog.iter_vectors(model, 8, since_seq=1)) == []
    assert catalog.counts(model) == (2, 2, 0)


def test_failed_file_drops_its_old_vector_and_is_listed(catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    (pid,) = catalog.write_batch([_fact("/photos/a.jpg", root)], [_vec(1)], model)
    catalog.write_batch([_fact("/photos/a.jpg", root, size=11, error="truncated JPEG")],
                        [None], model)
    assert catalog.vector_of(pid, model, 8) is None
    assert catalog.counts(model) == (1, 0, 1)
    assert [(f.path, f.error) for f in catalog.failures()] == [("/photos/a.jpg",
                                                                  "truncated JPEG")]


def test_moving_keeps_row_and_vector(catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    (pid,) = catalog.write_batch([_fact("/photos/a.jpg", root)], [_vec(1)], model)
    catalog.move_photo(pid, path="/photos/sub/a.jpg", root_id=root, size=10, mtime=5.0)
    row = catalog.photo_by_path("/photos/sub/a.jpg")
    assert row is not None and row.id == pid
    assert catalog.photo_by_path("/photos/a.jpg") is None
    assert catalog.vector_of(pid, model, 8) is not None


def test_remove_cascades_to_vectors_and_bumps_seq(catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    ids = catalog.write_batch([_fact("/photos/a.jpg", root)], [_vec(1)], model)
    before = catalog.max_seq(model)
    catalog.remove_photos(ids)
    assert catalog.counts(model) == (0, 0, 0)
    assert catalog.max_seq(model) > before


def test_model_dimension_change_is_refused(catalog: Catalog) -> None:
    catalog.model_id("m", 8)
    with pytest.raises(CatalogError, match="8-d"):
        catalog.model_id("m", 16)


def test_filters_by_folder_prefix_and_date(catalog: Catalog) -> None:
    root = catalog.add_root("/p")
    model = catalog.model_id("m", 8)
    facts = [
        _fact("/p/2019/a.jpg", root, taken_at="2019-06-01T10:00:00"),
        _fact("/p/2019_x/b.jpg", root, taken_at="2019-07-01T10:00:00"),  # not under /p/2019
        _fact("/p/2020/c.jpg", root, taken_at="2020-01-02T10:00:00"),
    ]
    ids = catalog.write_batch(facts, [_vec(i) for i in range(3)], model)
    assert list(catalog.filtered_ids(model, folder="/p/2019")) == [ids[0]]
    assert sorted(catalog.filtered_ids(model, after="2019-06-15")) == ids[1:]
    assert list(catalog.filtered_ids(model, before="2019-06-15")) == [ids[0]]


def test_roots_absorb_inner_roots(catalog: Catalog) -> None:
    inner = catalog.add_root("/p/inner")
    model = catalog.model_id("m", 8)
    catalog.write_batch([_fact("/p/inner/a.jpg", inner)], [_vec(1)], model)
    outer = catalog.add_root("/p")
    catalog.absorb_root(inner, outer)
    assert catalog.roots() == [(outer, "/p")]
    assert catalog.root_counts() == {outer: (1, 0)}


def test_settings_round_trip(catalog: Catalog) -> None:
    assert catalog.get_setting("model") is None
    catalog.set_setting("model", "a")
    catalog.set_setting("model", "b")
    assert catalog.get_setting("model") == "b"


def test_a_write_that_fails_midway_leaves_nothing_behind(catalog: Catalog) -> None:
    """Each write is one transaction: the first photo of a batch that fails is not kept."""
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    facts = [_fact("/photos/a.jpg", root), _fact("/photos/b.jpg", root)]
    with pytest.raises(ValueError):  # one vector for two photos: found after the first
        catalog.write_batch(facts, [_vec(1)], model)
    assert catalog.counts(model) == (0, 0, 0)
    assert catalog.max_seq(model) == 0
    assert catalog.photo_by_path("/photos/a.jpg") is None


def test_shared_vectors_carry_their_change_counter(catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    base = catalog.model_id("base", 8)
    ids = catalog.write_batch([_fact("/photos/a.jpg", root), _fact("/photos/b.jpg", root)],
                              [_vec(1), _vec(2)], base)
    assert catalog.share_vectors(base, "version", 8) == 2
    known = catalog.known_model("version")
    assert known is not None and known[1] == 8
    assert catalog.max_seq(known[0]) == catalog.max_seq(base)
    assert sorted(catalog.ids_with_embedding(known[0])) == ids
    assert catalog.model_names() == ["base", "version"]
