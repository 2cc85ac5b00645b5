"""Personal fine-tuning on generated albums the toy model knows nothing about.

The toy CLIP knows colours, shapes and backgrounds ("a yellow star at night"), never
names. Each album holds one kind of scene under a name of words it never saw; after
fine-tuning, the names find their albums' held-out photos and general queries still work.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.config import vector_index_path
from core.errors import ModelUnavailableError, PictorError, UsageError
from core.finetune import albums as ftalbums
from core.finetune import run as ftmod
from core.finetune import versions as ftversions
from core.library import Library
from core.models import fast_images
from core.models.embedder import Embedder
from core.photos.imaging import decode
from core.search.scores import CALIBRATION_SETTING
from tests.support import toyworld

ALBUMS = {
    "Grandma Rosa": toyworld.Scene("star", "yellow", "night"),
    "Bella the dog": toyworld.Scene("square", "blue", "sand"),
    "our boat Esperanza": toyworld.Scene("triangle", "green", "sky"),
}
PER_ALBUM = 12
SETTINGS = ftmod.FinetuneSettings(seed=0)


def make_photos(base: Path) -> Path:
    photos = base / "photos"
    for i, (name, scene) in enumerate(ALBUMS.items()):
        toyworld.write_photos(photos / name, [scene] * PER_ALBUM, seed=100 + i)
    taken = set(ALBUMS.values())
    others = [s for s in toyworld.random_scenes(60, seed=7) if s not in taken][:40]
    toyworld.write_photos(photos / "misc", others, seed=9)
    return photos


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path):
    """One library, indexed with the toy model, fine-tuned once, then re-indexed."""
    base = tmp_path_factory.mktemp("finetune")
    photos = make_photos(base)
    library = Library(base / "data", model=str(toy_clip_dir))
    list(library.index([photos]))
    steps = list(ftmod.finetune(library, list(ALBUMS), SETTINGS))
    list(library.index())
    yield library, steps, photos, toy_clip_dir
    library.close()


@pytest.fixture
def fresh(tmp_path: Path, toy_clip_dir: Path):
    photos = make_photos(tmp_path)
    library = Library(tmp_path / "data", model=str(toy_clip_dir))
    list(library.index([photos]))
    yield library, photos
    library.close()


def test_album_names_learn_their_held_out_photos(tuned) -> None:
    _, steps, _, _ = tuned
    result = steps[-1].result
    assert result is not None and steps[-1].phase == "done"
    gain = result.after.recall_at_1 - result.before.recall_at_1
    assert gain >= 0.3, (result.before, result.after)
    assert result.after.recall_at_5 >= result.before.recall_at_5
    assert result.after.retention >= 0.5  # general queries keep most of their rankings
    epochs = [s for s in steps if s.phase == "train"]
    assert epochs and all(s.loss is not None and s.metrics is not None for s in epochs)
    assert [a["held_out"] for a in result.albums] == [3, 3, 3]


def test_new_version_is_saved_and_used(tuned) -> None:
    library, steps, _, base_model = tuned
    folder = Path(steps[-1].result.model)
    assert folder.parent == library.data_dir / "models" and folder.is_dir()
    assert any(folder.glob("*.safetensors")) and (folder / ftversions.RECORD_NAME).is_file()
    size = sum(f.stat().st_size for f in folder.iterdir())  # the trained parts, not a model
    assert size < 0.1 * (base_model / "model.safetensors").stat().st_size
    assert not list(folder.parent.glob(".tmp-*"))
    assert library.model_name == str(folder)
    with Library(library.data_dir) as again:  # remembered
        assert again.model_name == str(folder)
    [version] = ftversions.versions(library)
    assert version.current and version.base_model == str(base_model)
    assert sorted(version.albums) == sorted(ALBUMS)


def test_photo_vectors_carry_over_since_the_image_side_did_not_train(tuned) -> None:
    library, steps, photos, base_model = tuned
    status = library.status()
    assert steps[-1].result.vectors_reused == status.indexed == status.photos
    photo = next((photos / "misc").iterdir())
    row = library.catalog.photo_by_path(str(photo))
    model_id, dim = library.model_key()
    base_id, _ = library.catalog.known_model(str(base_model))
    assert np.array_equal(library.catalog.vector_of(row.id, model_id, dim),
                          library.catalog.vector_of(row.id, base_id, dim))
    # ... which is right: the version embeds a photo exactly as its base does.
    picture = decode(photo.read_bytes(), min_side=224)[0]
    base = Embedder.load(str(base_model), device="cpu")
    np.testing.assert_allclose(library.embedder.embed_images([picture]),
                               base.embed_images([picture]), atol=1e-6)


def test_album_name_searches_find_the_album_first(tuned) -> None:
    library, _, photos, _ = tuned
    for name in ALBUMS:
        hits = library.search(name, k=3, min_score=0)
        assert Path(hits[0].path).parent == photos / name, (name, hits)
    top = library.search("a red circle", k=1, min_score=0)[0]
    assert "red-circle" in Path(top.path).name  # what the model knew is still there


def test_rollback_restores_the_base_model_without_re_embedding(tuned) -> None:
    library, _, _, base_model = tuned
    tuned_model = library.model_name
    assert ftversions.rollback(library) == str(base_model)
    with Library(library.data_dir) as again:
        assert again.model_name == str(base_model)
        status = again.status()
        assert status.pending == 0 and status.indexed == status.photos
        assert "red-circle" in Path(again.search("a red circle", k=1, min_score=0)[0].path).name
    with pytest.raises(UsageError, match="not a fine-tuned version"):
        ftversions.rollback(library)
    library.use_model(tuned_model)  # leave the module's library as the other tests expect


def test_cancelling_leaves_model_and_data_folder_untouched(fresh) -> None:
    library, _ = fresh
    model = library.model_name
    before = tree(library.data_dir)
    run = ftmod.finetune(library, list(ALBUMS), SETTINGS)
    for progress in run:
        if progress.phase == "train":
            break
    run.close()
    assert library.model_name == model
    assert tree(library.data_dir) == before
    with Library(library.data_dir) as again:
        assert again.model_name == model


@pytest.mark.parametrize("albums, message", [
    (["Grandma Rosa"], "at least two albums"),
    (["Grandma Rosa", "nowhere"], "no library folder is named 'nowhere'"),
    (["Grandma Rosa", "/no/such/folder"], "no such file or folder"),
])
def test_bad_album_choices_are_refused(fresh, albums, message) -> None:
    library, _ = fresh
    model, before = library.model_name, tree(library.data_dir)
    with pytest.raises(UsageError, match=message):
        list(ftmod.finetune(library, albums, SETTINGS))
    assert library.model_name == model and tree(library.data_dir) == before


def test_folder_outside_the_library_is_refused(fresh, tmp_path: Path) -> None:
    library, _ = fresh
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(UsageError, match="not in the library"):
        list(ftmod.finetune(library, ["Grandma Rosa", str(outside)], SETTINGS))


def test_small_or_unreadable_albums_are_refused(fresh) -> None:
    library, photos = fresh
    small = photos / "tiny album"
    toyworld.write_photos(small, [ALBUMS["Grandma Rosa"]] * 2, seed=5)
    list(library.index())
    with pytest.raises(UsageError, match="'tiny album' has 2 indexed photos"):
        list(ftmod.finetune(library, ["Grandma Rosa", str(small)], SETTINGS))
    # photos that became unreadable after indexing
    for path in sorted((photos / "Bella the dog").iterdir())[:10]:
        path.write_bytes(b"not a photo any more")
    with pytest.raises(PictorError, match="only 2 readable photos"):
        list(ftmod.finetune(library, ["Grandma Rosa", "Bella the dog"], SETTINGS))
    assert not (library.data_dir / "models").exists() or \
        not any((library.data_dir / "models").iterdir())


XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
       'xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description><dc:subject><rdf:Bag>'
       '{}</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')


def tag(photo: Path, *keywords: str) -> None:
    """A Lightroom/digiKam-style sidecar (IMG.xmp) holding the photo's keywords."""
    items = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    photo.with_suffix(".xmp").write_text(XMP.format(items), encoding="utf-8")


def test_tags_of_photos_in_one_folder_are_albums_too(tmp_path: Path,
                                                     toy_clip_dir: Path) -> None:
    """No album folders: one camera roll whose photos carry keywords. A name that no folder
    has is the photos tagged with it; a photo tagged with two chosen names teaches neither."""
    roll = tmp_path / "photos" / "2023 camera roll"
    tagged: dict[str, list[Path]] = {}
    for i, (name, scene) in enumerate(ALBUMS.items()):
        tagged[name] = toyworld.write_photos(roll, [scene] * PER_ALBUM, seed=100 + i,
                                             prefix=f"a{i}-")
        for photo in tagged[name]:
            tag(photo, name, "holiday")
    both = tagged["Bella the dog"][:2]  # Grandma Rosa holding Bella
    for photo in both:
        tag(photo, "Grandma Rosa", "Bella the dog")
    taken = set(ALBUMS.values())
    others = [s for s in toyworld.random_scenes(60, seed=7) if s not in taken][:40]
    toyworld.write_photos(roll, others, seed=9, prefix="other-")
    with Library(tmp_path / "data", model=str(toy_clip_dir)) as library:
        list(library.index([roll.parent]))
        with pytest.raises(UsageError, match="no photo has 'holidays' among its own words"):
            list(ftmod.finetune(library, ["Grandma Rosa", "holidays"], SETTINGS))
        steps = list(ftmod.finetune(library, list(ALBUMS), SETTINGS))
    result = steps[-1].result
    assert result is not None
    report = {a["name"]: a for a in result.albums}
    assert {a["source"] for a in result.albums} == {"words"}
    assert report["Grandma Rosa"]["shared"] == 2 and report["Bella the dog"]["shared"] == 2
    assert report["Grandma Rosa"]["photos"] == PER_ALBUM
    assert report["Bella the dog"]["photos"] == PER_ALBUM - 2
    assert result.after.recall_at_1 >= result.before.recall_at_1 + 0.3


def test_album_choices_are_named_folders_with_enough_photos(fresh) -> None:
    library, photos = fresh
    toyworld.write_photos(photos / "2019" / "Rome", toyworld.random_scenes(4, seed=11), seed=11)
    toyworld.write_photos(photos / "DCIM" / "100CANON", toyworld.random_scenes(5, seed=12),
                          seed=12)
    toyworld.write_photos(photos / "tiny album", toyworld.random_scenes(3, seed=13), seed=13)
    holiday = photos.parent / "Holiday 2024"  # a library folder of its own
    toyworld.write_photos(holiday, toyworld.random_scenes(5, seed=14), seed=14)
    list(library.index([photos, holiday]))
    choices = ftalbums.album_choices(library)
    assert [(c.name, c.photos) for c in choices] == [
        ("Bella the dog", PER_ALBUM), ("Grandma Rosa", PER_ALBUM), ("Holiday 2024", 5),
        ("our boat Esperanza", PER_ALBUM), ("Rome", 4)]  # not photos, misc, 2019, DCIM, tiny
    assert choices[4].folder == str(photos.resolve() / "2019" / "Rome")


def test_deleting_versions_frees_their_space_and_keeps_what_is_needed(fresh) -> None:
    library, photos = fresh
    base, before = library.model_name, tree(photos)
    quick = ftmod.FinetuneSettings(epochs=2, seed=0)
    first = list(ftmod.finetune(library, list(ALBUMS), quick))[-1].result.model
    assert library.status().pending == 0  # nothing to re-embed, and the search index
    assert vector_index_path(library.data_dir, first).exists()  # is copied, not rebuilt
    list(library.index())
    second = list(ftmod.finetune(library, list(ALBUMS), quick))[-1].result.model
    list(library.index())
    with pytest.raises(UsageError, match="is the model in use"):
        ftversions.delete_version(library, Path(second).name)
    library.use_model(base)
    with pytest.raises(UsageError, match="was trained from it"):
        ftversions.delete_version(library, first)  # rolling `second` back needs it
    with pytest.raises(UsageError, match="no fine-tuned version named nope"):
        ftversions.delete_version(library, "nope")

    index = vector_index_path(library.data_dir, second)
    second_id, _ = library.catalog.known_model(second)
    calibration = CALIBRATION_SETTING.format(model_id=second_id)
    library.catalog.set_setting(calibration, "{}")  # (model ids are reused)
    assert index.exists()
    version, freed = ftversions.delete_version(library, Path(second).name)
    assert version.folder == second and freed > 1000
    assert not Path(second).exists() and not index.exists()
    assert library.catalog.known_model(second) is None
    assert library.catalog.get_setting(calibration) is None
    assert [v.folder for v in ftversions.versions(library)] == [first]
    ftversions.delete_version(library, first)
    assert ftversions.versions(library) == []
    assert not list((library.data_dir / ftversions.MODELS_DIR).iterdir())
    assert tree(photos) == before  # the photos are never touched
    assert library.model_name == base and library.status().indexed == library.status().photos


def test_a_version_whose_base_model_is_gone_says_so(tuned, tmp_path: Path) -> None:
    _, steps, _, _ = tuned
    copy = tmp_path / "version"
    shutil.copytree(steps[-1].result.model, copy)
    record = json.loads((copy / ftversions.RECORD_NAME).read_text())
    (copy / ftversions.RECORD_NAME).write_text(json.dumps({**record, "base_model": "/no/model"}))
    with pytest.raises(ModelUnavailableError, match="needs the model it was trained from"):
        Embedder.load(str(copy), device="cpu")
    (copy / ftversions.RECORD_NAME).write_text("{")
    with pytest.raises(ModelUnavailableError, match=r"no readable pictor-finetune\.json"):
        Embedder.load(str(copy), device="cpu")


def test_a_version_uses_its_base_models_int8_image_tower(
        tuned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library, _, _, base_model = tuned
    monkeypatch.setattr(fast_images, "MIN_SPEEDUP", 0.0)  # a toy model says nothing of speed
    cache = tmp_path / "cache"
    assert Embedder.load(str(base_model), device="cpu").use_fast_images(cache, build=True)
    version = Embedder.load(library.model_name, device="cpu")
    assert version.has_fast_images(cache) is True  # the image side did not train: no rebuild
    assert version.use_fast_images(cache, build=False)


def test_training_the_image_side_too_re_embeds_the_photos(fresh) -> None:
    library, _ = fresh
    base = library.model_name
    settings = ftmod.FinetuneSettings(epochs=20, seed=0, train_vision=True)
    result = list(ftmod.finetune(library, list(ALBUMS), settings))[-1].result
    assert result.vectors_reused == 0 and library.model_name == result.model
    status = library.status()
    assert status.pending == status.photos  # the photos' vectors change with the image side
    assert result.after.recall_at_1 - result.before.recall_at_1 >= 0.3
    picture = decode(next(iter(sorted(library.data_dir.parent.rglob("*.jpg")))).read_bytes(),
                     min_side=224)[0]
    tuned, original = Embedder.load(result.model, device="cpu"), Embedder.load(base,
                                                                               device="cpu")
    assert tuned.image_source != original.image_source  # its own int8 tower, not the base's
    assert not np.allclose(tuned.embed_images([picture]), original.embed_images([picture]),
                           atol=1e-4)
    steps = list(library.index())
    assert steps[-1].indexed == status.photos and library.status().pending == 0


def test_an_album_name_finds_its_photos_with_the_default_settings(tuned) -> None:
    """The vocabulary says nothing of names the base model never knew: a version is
    calibrated on what its names learnt to find (its albums' held-out photos), so the
    default cut-off shows an album's photos for its name, and hides what is not there."""
    library, _, photos, _ = tuned
    for name in ALBUMS:
        hits = library.search(name, k=12)  # default min_score
        assert len(hits) >= 6, (name, [h.score for h in hits], hits.best_hidden)
        assert all(Path(h.path).parent == photos / name for h in hits[:6]), name
    assert not [h for h in library.search("a birthday cake", k=12) if h.match == "meaning"]
