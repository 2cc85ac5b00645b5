"""The catalog's side of duplicates: prints follow their photo's content, and the words of
copies moved to the Trash keep finding the copy that stayed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.store.catalog import Catalog, PhotoFacts


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "library.db") as cat:
        yield cat


def _fact(path: str, root_id: int, **extra) -> PhotoFacts:
    base = dict(path=path, root_id=root_id, size=10, mtime=1_600_000_000.0,
                content_hash=f"hash-{path}", width=40, height=30, format="JPEG")
    base.update(extra)
    return PhotoFacts(**base)


def _vec() -> np.ndarray:
    return np.ones(8, dtype=np.float32) / np.sqrt(8)


def test_a_print_is_stored_with_its_photo_and_dropped_when_the_content_changes(
        catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    [pid] = catalog.write_batch([_fact("/photos/a.jpg", root, picture_print=b"one")],
                                [_vec()], model)
    assert catalog.prints_of([pid]) == {pid: b"one"}
    # Same content, indexed again for another model without a print: the print stays.
    catalog.write_batch([_fact("/photos/a.jpg", root)], [_vec()], catalog.model_id("n", 8))
    assert catalog.prints_of([pid]) == {pid: b"one"}
    # New content: the old print describes other pixels.
    catalog.write_batch([_fact("/photos/a.jpg", root, content_hash="new")], [_vec()], model)
    assert catalog.prints_of([pid]) == {}
    catalog.write_prints([(pid, b"two")])
    assert catalog.prints_of([pid]) == {pid: b"two"}


def test_removed_copies_leave_the_catalog_and_their_words_find_the_kept_one(
        catalog: Catalog) -> None:
    root = catalog.add_root("/photos")
    model = catalog.model_id("m", 8)
    keep, copy = catalog.write_batch(
        [_fact("/photos/camera/IMG_1.jpg", root, user_words="sunset"),
         _fact("/photos/Honeymoon Album/IMG_1-export.jpg", root, user_words="Kefalonia")],
        [_vec(), _vec()], model)
    assert catalog.word_matches("kefalonia", model, limit=5) != []
    catalog.remove_copies(keep, [copy])
    assert catalog.copy_facts([keep, copy]).keys() == {keep}
    found = catalog.word_matches("kefalonia", model, limit=5)
    assert found == [keep]
    assert catalog.word_matches("honeymoon", model, limit=5) == [keep]
    # The kept photo's own words, read again from its file, keep what it carries.
    catalog.write_batch([_fact("/photos/camera/IMG_1.jpg", root, user_words="dusk")],
                        [_vec()], model)
    assert catalog.word_matches("kefalonia", model, limit=5) == [keep]
    assert catalog.word_matches("dusk", model, limit=5) == [keep]
    assert catalog.filtered_ids(model).tolist() == [keep]
