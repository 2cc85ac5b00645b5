"""The Library facade end to end in-process: index, resume, moves, failures, filters, sync.

Uses the tiny random CLIP for bookkeeping behaviour (what is indexed, kept, removed) and
never asserts anything about its ranking quality.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.config import vector_index_path
from core.errors import PathNotFoundError, UsageError
from core.library import Library
from core.models.embedder import Embedder
from tests.support import toyworld


def _photos(folder: Path, n: int = 12, *, seed: int = 7) -> list[Path]:
    return toyworld.write_photos(folder, toyworld.random_scenes(n, seed=seed), seed=seed)


def _run(library: Library, *paths: Path):
    progress = list(library.index(list(paths) or None, batch_size=4))
    return progress[-1]


@pytest.fixture
def library(tmp_path: Path, tiny_clip_dir: Path):
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as lib:
        yield lib


def test_index_then_reindex_embeds_each_photo_once(library: Library, tmp_path: Path) -> None:
    _photos(tmp_path / "photos")
    first = _run(library, tmp_path / "photos")
    assert (first.indexed, first.failed, first.skipped) == (12, 0, 0)
    assert first.phase == "done" and first.done == first.total == 12
    again = _run(library)
    assert (again.indexed, again.skipped, again.total) == (0, 12, 0)
    status = library.status()
    assert (status.photos, status.indexed, status.pending, status.failed) == (12, 12, 0, 0)
    assert [r.path for r in status.roots] == [str((tmp_path / "photos").resolve())]


def test_changed_file_is_re_embedded_and_deleted_file_removed(
    library: Library, tmp_path: Path
) -> None:
    paths = _photos(tmp_path / "photos")
    _run(library, tmp_path / "photos")
    toyworld.render(toyworld.Scene("star", "blue", "sky"), seed=1).save(paths[0])
    os.utime(paths[0], (1, 1))
    paths[1].unlink()
    report = _run(library)
    assert (report.indexed, report.removed, report.skipped) == (1, 1, 10)
    assert library.status().photos == 11
    assert len(library.vector_index()) == 11


def test_moved_and_renamed_photos_keep_their_record_without_re_embedding(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _photos(tmp_path / "photos")
    _run(library, tmp_path / "photos")
    old_id = library.catalog.photo_by_path(str(paths[0].resolve())).id
    (tmp_path / "photos" / "sub").mkdir()
    moved_to = tmp_path / "photos" / "sub" / "renamed.jpg"
    shutil.move(paths[0], moved_to)

    calls = []
    original = Embedder.embed_pixels
    monkeypatch.setattr(Embedder, "embed_pixels",
                        lambda self, px: calls.append(len(px)) or original(self, px))
    report = _run(library)
    assert (report.moved, report.removed, report.indexed) == (1, 0, 0)
    assert calls == []
    row = library.catalog.photo_by_path(str(moved_to.resolve()))
    assert row is not None and row.id == old_id
    assert library.status().photos == 12


def test_an_identical_copy_reuses_the_vector(library: Library, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _photos(tmp_path / "photos", 4)
    _run(library, tmp_path / "photos")
    shutil.copy(paths[0], tmp_path / "photos" / "copy.jpg")
    calls = []
    original = Embedder.embed_pixels
    monkeypatch.setattr(Embedder, "embed_pixels",
                        lambda self, px: calls.append(len(px)) or original(self, px))
    report = _run(library)
    assert report.indexed == 1 and calls == []
    hits = library.similar(paths[0], k=1, min_score=0)
    assert Path(hits[0].path).name == "copy.jpg" and hits[0].similarity > 0.999


def test_interrupted_run_resumes_without_redoing_committed_batches(
    library: Library, tmp_path: Path
) -> None:
    _photos(tmp_path / "photos", 12)
    run = library.index([tmp_path / "photos"], batch_size=4)
    for progress in run:
        if progress.phase == "embed" and progress.done >= 4:
            break
    run.close()  # what a Ctrl-C or a closed window does
    assert library.status().indexed == 4
    report = _run(library)
    assert (report.indexed, report.skipped) == (8, 4)


def test_bad_files_are_recorded_with_reasons_and_the_rest_indexed(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    _photos(folder, 5)
    (folder / "notes.jpg").write_text("not an image at all")
    data = next(folder.glob("0001-*.jpg")).read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "ignored.txt").write_text("not a photo extension: never looked at")
    report = _run(library, folder)
    assert (report.indexed, report.failed) == (5, 2)
    reasons = {Path(f.path).name: f.error for f in library.status().failures}
    assert set(reasons) == {"notes.jpg", "truncated.jpg"}
    assert all(reasons.values())
    # Unchanged failures are not retried; a fixed file is.
    assert _run(library).failed == 0
    shutil.copy(next(folder.glob("0002-*.jpg")), folder / "notes.jpg")
    assert _run(library).indexed == 1


def test_an_offline_root_keeps_every_record(library: Library, tmp_path: Path) -> None:
    drive = tmp_path / "usb"
    _photos(drive, 6)
    _run(library, drive)
    hidden = tmp_path / "unplugged"
    drive.rename(hidden)
    drive.mkdir()  # an empty mount point, as after unmounting
    report = _run(library)
    assert report.removed == 0
    status = library.status()
    assert status.photos == 6 and status.indexed == 6
    assert [r.online for r in status.roots] == [False]
    drive.rmdir()
    hidden.rename(drive)
    report = _run(library)
    assert (report.indexed, report.skipped, report.removed) == (0, 6, 0)


def test_missing_paths_change_nothing(library: Library, tmp_path: Path) -> None:
    with pytest.raises(PathNotFoundError, match="nope"):
        library.index([tmp_path / "nope"])
    assert library.catalog.roots() == []
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(UsageError, match="not a folder"):
        library.index([tmp_path / "file.jpg"])
    with pytest.raises(PathNotFoundError):
        library.similar(tmp_path / "missing.jpg")


def test_nested_folders_share_one_root(library: Library, tmp_path: Path) -> None:
    _photos(tmp_path / "all" / "2019", 3)
    _photos(tmp_path / "all" / "2020", 3, seed=8)
    _run(library, tmp_path / "all" / "2019")
    _run(library, tmp_path / "all")
    _run(library, tmp_path / "all" / "2020")
    assert [r.path for r in library.roots()] == [str((tmp_path / "all").resolve())]
    assert library.status().indexed == 6


def test_folder_and_date_filters(library: Library, tmp_path: Path) -> None:
    a = _photos(tmp_path / "p" / "a", 3)
    b = _photos(tmp_path / "p" / "b", 3, seed=9)
    for path in a:
        os.utime(path, (1262304000, 1262304000))  # 2010-01-01
    for path in b:
        os.utime(path, (1577836800, 1577836800))  # 2020-01-01
    _run(library, tmp_path / "p")
    in_a = library.search("a red circle", folder=tmp_path / "p" / "a", k=10, min_score=0)
    assert sorted(Path(h.path).name for h in in_a) == sorted(p.name for p in a)
    recent = library.search("a red circle", after="2015", k=10, min_score=0)
    assert {Path(h.path).parent.name for h in recent} == {"b"}
    old = library.search("a red circle", before="2015", k=10, min_score=0)
    assert {Path(h.path).parent.name for h in old} == {"a"}
    assert library.search("x", after="2030") == []


def test_vector_index_file_is_a_cache(library: Library, tmp_path: Path) -> None:
    _photos(tmp_path / "photos", 6)
    _run(library, tmp_path / "photos")
    expected = [h.path for h in library.search("a red circle", k=6, min_score=0)]
    path = vector_index_path(library.data_dir, library.model_name)
    library.close()

    for damage in (lambda: path.unlink(), lambda: path.write_bytes(b"garbage" * 10)):
        damage()
        with Library(library.data_dir) as again:
            assert [h.path for h in again.search("a red circle", k=6, min_score=0)] == expected
            assert path.exists()


def test_stale_index_is_synced_from_the_catalog(library: Library, tmp_path: Path) -> None:
    paths = _photos(tmp_path / "photos", 6)
    _run(library, tmp_path / "photos")
    path = vector_index_path(library.data_dir, library.model_name)
    saved = path.read_bytes(), path.with_suffix(".json").read_bytes()
    paths[0].unlink()
    _photos(tmp_path / "photos" / "more", 2, seed=3)
    _run(library)
    library.close()
    # Simulate a crash after the catalog committed but before the index was saved.
    path.write_bytes(saved[0])
    path.with_suffix(".json").write_bytes(saved[1])
    with Library(library.data_dir) as again:
        index = again.vector_index()
        assert len(index) == 7
        assert set(index.keys().tolist()) == again.catalog.ids_with_embedding(
            again.model_key()[0])


def test_library_remembers_and_switches_models(tmp_path: Path, tiny_clip_dir: Path,
                                               toy_clip_dir: Path) -> None:
    data = tmp_path / "data"
    _photos(tmp_path / "photos", 4)
    with Library(data, model=str(tiny_clip_dir), device="cpu") as lib:
        _run(lib, tmp_path / "photos")
    with Library(data) as lib:
        assert lib.model_name == str(tiny_clip_dir.resolve())
    with Library(data, model=str(toy_clip_dir), device="cpu") as lib:
        assert lib.status().pending == 4
        assert _run(lib).indexed == 4
        assert len(lib.status().models) == 2
    with Library(data, model=str(tiny_clip_dir), device="cpu") as lib:  # switching back
        assert lib.status().pending == 0
        assert _run(lib).indexed == 0
        assert len(lib.search("a red circle", k=4, min_score=0)) == 4


def test_search_needs_a_query(library: Library) -> None:
    with pytest.raises(UsageError):
        library.search("   ")


def test_query_image_outside_the_library_works_and_bad_image_is_usage_error(
    library: Library, tmp_path: Path
) -> None:
    _photos(tmp_path / "photos", 4)
    _run(library, tmp_path / "photos")
    outside = tmp_path / "query.png"
    toyworld.render(toyworld.Scene("circle", "red", "grass"), seed=3).save(outside)
    assert len(library.search(image=outside, k=3, min_score=0)) == 3
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(UsageError, match=r"bad\.jpg"):
        library.search(image=bad)
    vector = library.image_vector(outside)
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)


def test_index_files_updates_just_what_a_watcher_reports(library: Library,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    paths = _photos(folder, 6)
    _run(library, folder)
    old_id = library.catalog.photo_by_path(str(paths[0].resolve())).id

    new = _photos(folder / "new", 2, seed=11)
    moved_to = folder / "renamed.jpg"
    paths[0].rename(moved_to)
    paths[1].unlink()
    outside = _photos(tmp_path / "elsewhere", 1, seed=12)
    changed = [*new, paths[0], moved_to, paths[1], *outside]
    report = list(library.index_files(changed, batch_size=4))[-1]
    assert (report.indexed, report.moved, report.removed) == (2, 1, 1)
    assert library.catalog.photo_by_path(str(moved_to.resolve())).id == old_id
    assert library.catalog.photo_by_path(str(outside[0].resolve())) is None

    shutil.rmtree(folder / "new")  # a whole folder deleted: one event for the folder
    report = list(library.index_files([folder / "new"]))[-1]
    assert report.removed == 2
    assert library.status().photos == 5


def test_file_names_that_are_not_utf8_or_are_nfd_are_kept_exactly(
    library: Library, tmp_path: Path
) -> None:
    import unicodedata

    folder = tmp_path / "photos"
    source = _photos(folder, 2)
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9-latin1.jpg")  # not valid UTF-8
    nfd = folder / unicodedata.normalize("NFD", "crème-brûlée.jpg")
    os.rename(source[0], latin1)
    os.rename(source[1], nfd)
    report = _run(library, folder)
    assert (report.indexed, report.failed) == (2, 0)
    stored = {os.fsencode(h.path) for h in library.search("a red circle", k=5, min_score=0)}
    assert stored == {latin1, os.fsencode(nfd)}
    # Unchanged on a second run: the stored names match the disk byte for byte.
    assert _run(library).skipped == 2


def test_the_tag_pass_ends_a_run_and_keeps_its_totals(library: Library,
                                                      tmp_path: Path) -> None:
    _photos(tmp_path / "photos", 6)
    steps = list(library.index([tmp_path / "photos"], batch_size=4))
    tagging = [s for s in steps if s.phase == "tag"]
    assert tagging and steps[-1].phase == "done" and steps[-1].indexed == 6
    assert all(s.indexed == 6 for s in tagging)  # the run's report, while tags are counted
    assert tagging[-1].done == tagging[-1].total == 6
    assert steps[-1].elapsed_s >= tagging[-1].elapsed_s
    again = list(library.index(batch_size=4))  # nothing new: nothing to tag
    assert [s.total for s in again if s.phase == "tag"] in ([], [0])
