"""The small copies an index run keeps for the text pass's gate (core.sync.gate_pictures),
and the text pass using them: the files of photos without text are not opened again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from core.library import Library
from core.photos import reading, text_reading
from core.sync import gate_pictures
from core.sync.gate_pictures import GatePictures
from tests.support.text_photos import PlainKind, plain_photo, text_photo


def _photo(path: Path, size: tuple[int, int] = (2000, 1500)) -> tuple[str, int, float]:
    plain_photo("sky", size, seed=1).save(path, "JPEG", quality=90)
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime


def _keep(pictures: GatePictures, path: str, size: int, mtime: float,
          position: tuple[float, float] | None = None) -> None:
    with Image.open(path) as image:
        pictures.keep(path, size, mtime, image, position)


def test_a_copy_is_kept_at_the_gates_size_and_taken_once(tmp_path: Path) -> None:
    path, size, mtime = _photo(tmp_path / "a.jpg")
    pictures = GatePictures()
    _keep(pictures, path, size, mtime, (37.39, -5.98))
    kept = pictures.take(path)
    assert kept is not None and kept.picture.mode == "RGB"
    assert min(kept.picture.size) == text_reading.GATE_SHORT_SIDE
    assert kept.position == (37.39, -5.98)
    assert pictures.take(path) is None and len(pictures) == 0 and pictures.nbytes == 0


def test_a_picture_a_little_smaller_than_the_gates_is_kept_as_it_is(tmp_path: Path) -> None:
    """A 3:2 12 MP photo decoded at 1/8 for the image model: 532x354."""
    path, size, mtime = _photo(tmp_path / "a.jpg", (532, 354))
    pictures = GatePictures()
    _keep(pictures, path, size, mtime)
    kept = pictures.take(path)
    assert kept is not None and kept.picture.size == (532, 354)


def test_a_photo_smaller_than_the_gate_looks_at_is_not_kept(tmp_path: Path) -> None:
    path, size, mtime = _photo(tmp_path / "small.jpg", (400, 300))
    pictures = GatePictures()
    _keep(pictures, path, size, mtime)
    assert len(pictures) == 0 and pictures.take(path) is None


def test_a_copy_of_a_file_changed_or_gone_since_is_not_used(tmp_path: Path) -> None:
    changed, size, mtime = _photo(tmp_path / "changed.jpg")
    gone, gone_size, gone_mtime = _photo(tmp_path / "gone.jpg")
    pictures = GatePictures()
    _keep(pictures, changed, size, mtime)
    _keep(pictures, gone, gone_size, gone_mtime)
    os.utime(changed, (mtime + 60, mtime + 60))
    os.remove(gone)
    assert pictures.take(changed) is None and pictures.take(gone) is None


def test_the_copies_stay_within_their_memory(tmp_path: Path) -> None:
    paths = [_photo(tmp_path / f"{i}.jpg") for i in range(3)]
    pictures = GatePictures(max_bytes=1)
    for path, size, mtime in paths:
        _keep(pictures, path, size, mtime)
    assert len(pictures) == 0 and pictures.nbytes == 0
    pictures = GatePictures()
    _keep(pictures, *paths[0])
    one = pictures.nbytes
    for path, size, mtime in paths + paths[:1]:  # the same photo again replaces its copy
        _keep(pictures, path, size, mtime)
    assert len(pictures) == 3 and pictures.nbytes == 3 * one  # the same picture thrice
    roomy = GatePictures(max_bytes=2 * one + gate_pictures._ROOM - 1)
    for path, size, mtime in paths:
        _keep(roomy, path, size, mtime)
    assert len(roomy) == 2  # no room left for the third
    roomy.clear()
    assert len(roomy) == 0 and roomy.nbytes == 0


def test_the_copies_take_a_small_share_of_the_memory_available(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate_pictures, "available_bytes", lambda: 1 * 2**30)
    assert gate_pictures.memory_budget() == 64 * 2**20  # 1/16 of 1 GB
    monkeypatch.setattr(gate_pictures, "available_bytes", lambda: 64 * 2**30)
    assert gate_pictures.memory_budget() == gate_pictures.MAX_BYTES
    monkeypatch.setattr(gate_pictures, "available_bytes", lambda: None)  # cannot tell
    assert gate_pictures.memory_budget() == gate_pictures.MAX_BYTES


def test_the_text_pass_opens_only_the_photos_with_text(
        tmp_path: Path, tiny_clip_dir: Path, text_pass_on: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The index run keeps a copy of each photo it decodes; the gate looks at those, and
    only the photos it finds text in are opened again, to be read."""
    photos = tmp_path / "photos"
    photos.mkdir()
    size = (3840, 2880)  # decoded at 1/8 for the model: still the gate's size (11 MP)
    text_photo(["HARBOUR 12"], size=size, font_size=120,
               seed=1).image.save(photos / "sign.jpg", "JPEG", quality=90)
    kinds: tuple[PlainKind, ...] = ("sky", "texture", "gradient")
    for i, kind in enumerate(kinds):
        plain_photo(kind, size, seed=i).save(photos / f"{kind}.jpg", "JPEG")
    opened: list[str] = []
    reading_text = False
    open_photo = reading.open_photo

    def counting(path: str | Path):  # type: ignore[no-untyped-def]
        if reading_text:  # the index run before opens them through it too
            opened.append(Path(path).name)
        return open_photo(path)

    monkeypatch.setattr(reading, "open_photo", counting)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        for step in library.index([photos]):
            reading_text = reading_text or step.phase == "text"
        assert reading_text and opened == ["sign.jpg"]
        assert library.status().text == {"read": 4, "with_text": 1, "failed": 0,
                                         "pending": 0}
        assert Path(library.search("HARBOUR", k=1)[0].path).name == "sign.jpg"
        assert len(library.text_pass.gate_pictures) == 0


def test_photos_whose_text_is_known_leave_no_copies(
        tmp_path: Path, tiny_clip_dir: Path, text_pass_on: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo indexed again with the same content (touched, or a new model) keeps its
    text: no copy is made for it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    plain_photo("sky", (3840, 2880), seed=1).save(photos / "sky.jpg", "JPEG")
    kept: list[str] = []
    keep = GatePictures.keep

    def counting(self: GatePictures, path: str, *rest: object) -> None:
        kept.append(Path(path).name)
        keep(self, path, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(GatePictures, "keep", counting)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as library:
        for _ in library.index([photos]):
            pass
        assert kept == ["sky.jpg"] and library.status().text["read"] == 1
        os.utime(photos / "sky.jpg", (1e9, 1e9))
        for _ in library.index([photos]):
            pass
        assert kept == ["sky.jpg"]  # not again
