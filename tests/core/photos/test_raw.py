"""Camera RAW files: the embedded preview or the developed sensor data, upright, with the
camera's metadata; RAW+JPEG pairs counted once; damaged RAWs refused with a reason."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.errors import CorruptImageError, ImageError, UnsupportedFormatError
from core.photos import formats, imaging
from core.sync.scanner import walk
from tests.support.raw_files import write_dng

rawpy = pytest.importorskip("rawpy")


def halves(width: int = 800, height: int = 600) -> Image.Image:
    """Red on the left, blue on the right: which way up it is shows in the pixels."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (200, 40, 40)
    pixels[:, width // 2:] = (40, 40, 200)
    return Image.fromarray(pixels)


def colour_at(picture: Image.Image, x: float, y: float) -> str:
    r, _, b = picture.convert("RGB").getpixel((int(x * picture.width), int(y * picture.height)))
    return "red" if r > b + 60 else "blue" if b > r + 60 else "other"


def decode_file(path: Path, min_side: int | None = 224) -> tuple[Image.Image, Any]:
    return imaging.decode(path.read_bytes(), min_side=min_side, name=path)


def test_raw_is_a_photo_with_the_cameras_metadata(tmp_path: Path) -> None:
    assert ".dng" in formats.PHOTO_EXTENSIONS and ".cr3" in formats.PHOTO_EXTENSIONS
    picture, info = decode_file(write_dng(tmp_path / "IMG_1.DNG", halves()))
    assert picture.size == (400, 300)  # the embedded preview, not a developed mosaic
    assert colour_at(picture, 0.2, 0.5) == "red" and colour_at(picture, 0.8, 0.5) == "blue"
    assert (info.width, info.height, info.format) == (800, 600, "RAW")
    assert info.camera == "Pictor Test Camera"
    assert info.taken_at == datetime(2021, 6, 14, 18, 30)
    assert imaging.read_info(tmp_path / "IMG_1.DNG") == info


def test_a_raws_own_description_is_read_and_camera_boilerplate_is_not(tmp_path: Path) -> None:
    from core.words.user_words import read_user_texts

    mine = write_dng(tmp_path / "IMG_1.NEF", halves(), description="Grandma's garden")
    junk = write_dng(tmp_path / "IMG_2.NEF", halves(), description="NIKON DIGITAL CAMERA")
    assert "Grandma's garden" in [t.text for t in read_user_texts(mine)]
    assert "NIKON DIGITAL CAMERA" not in [t.text for t in read_user_texts(junk)]


def test_a_raw_turned_by_the_camera_comes_out_upright(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "turned.dng", halves(), orientation=6)  # turned right
    picture, info = decode_file(path)
    assert picture.height > picture.width and (info.width, info.height) == (600, 800)
    assert colour_at(picture, 0.5, 0.2) == "red" and colour_at(picture, 0.5, 0.8) == "blue"


def test_without_a_usable_preview_the_sensor_data_is_developed(tmp_path: Path) -> None:
    for name, preview in (("none.dng", None), ("tiny.dng", 16)):  # 16: a 50x37 thumbnail
        picture, _ = decode_file(write_dng(tmp_path / name, halves(), preview=preview,
                                           orientation=6))
        assert picture.size == (300, 400), name  # half-size development, turned by LibRaw
        assert colour_at(picture, 0.5, 0.2) == "red" and colour_at(picture, 0.5, 0.8) == "blue"


class PreviewIsJpeg:
    """A RAW whose preview is a JPEG (as cameras write), around a real rawpy object."""

    def __init__(self, inner: Any, jpeg: bytes) -> None:
        self.inner, self.jpeg = inner, jpeg

    def __enter__(self) -> PreviewIsJpeg:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def extract_thumb(self) -> Any:
        return SimpleNamespace(format=rawpy.ThumbFormat.JPEG, data=self.jpeg)


@pytest.mark.parametrize("preview_orientation", [None, 6])
def test_a_jpeg_preview_is_decoded_small_and_turned_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preview_orientation: int | None) -> None:
    # A full-size preview (decoded at 1/8 scale), stored as the sensor saw it; some
    # cameras give it the RAW's orientation in its own EXIF: turned once all the same.
    preview = halves(4000, 3000)
    buffer = io.BytesIO()
    exif = Image.Exif()
    if preview_orientation:
        exif[274] = preview_orientation
    preview.save(buffer, "JPEG", quality=90, exif=exif)
    path = write_dng(tmp_path / "jpeg-preview.dng", halves(), orientation=6)
    real_imread = rawpy.imread
    monkeypatch.setattr(rawpy, "imread",
                        lambda source: PreviewIsJpeg(real_imread(source), buffer.getvalue()))
    picture, _ = decode_file(path)
    assert picture.size == (375, 500)  # upright, 1/8 of 3000x4000
    assert colour_at(picture, 0.5, 0.2) == "red" and colour_at(picture, 0.5, 0.8) == "blue"


def test_without_exif_of_its_own_a_raw_takes_its_previews(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in CR3 and RAF files, whose container is not TIFF: the date and camera are in the
    embedded JPEG's EXIF."""
    exif = Image.Exif()
    exif[271], exif[272] = "FUJIFILM", "X-T5"
    exif.get_ifd(0x8769)[36867] = "2024:08:01 07:15:00"  # DateTimeOriginal
    buffer = io.BytesIO()
    halves(1600, 1200).save(buffer, "JPEG", exif=exif)
    path = write_dng(tmp_path / "DSCF0001.RAF", halves(), taken=None)
    real_imread = rawpy.imread
    monkeypatch.setattr(rawpy, "imread",
                        lambda source: PreviewIsJpeg(real_imread(source), buffer.getvalue()))
    _, info = decode_file(path)
    assert info.camera == "FUJIFILM X-T5" and info.taken_at == datetime(2024, 8, 1, 7, 15)
    assert (info.width, info.height) == (800, 600)  # the RAW's size, not the preview's


@pytest.mark.parametrize("damage", ["truncated", "not-a-raw"])
def test_a_damaged_raw_is_refused_with_a_reason(tmp_path: Path, damage: str) -> None:
    good = write_dng(tmp_path / "good.dng", halves()).read_bytes()
    data = good[: len(good) // 5] if damage == "truncated" else os.urandom(5000)
    with pytest.raises(ImageError) as refused:
        imaging.decode(data, min_side=224, name="IMG_1.CR2")
    assert isinstance(refused.value, CorruptImageError | UnsupportedFormatError)
    assert "RAW" in refused.value.reason


def test_a_raw_beside_its_cameras_jpeg_is_counted_once(tmp_path: Path) -> None:
    folder = tmp_path / "card"
    write_dng(folder / "IMG_0001.CR2", halves())  # a DNG by content; the name is what counts
    halves().save(folder / "IMG_0001.JPG")
    write_dng(folder / "IMG_0002.NEF", halves())  # RAW only
    write_dng(folder / "IMG_0003.arw", halves())
    (folder / "IMG_0003.txt").write_text("notes")  # not a photo: does not stand for the RAW
    found = sorted(Path(entry.path).name for entry in walk(folder))
    assert found == ["IMG_0001.JPG", "IMG_0002.NEF", "IMG_0003.arw"]
    assert formats.has_developed_sibling(str(folder / "IMG_0001.CR2"))
    assert not formats.has_developed_sibling(str(folder / "IMG_0002.NEF"))


def test_the_cameras_jpeg_added_later_takes_the_raws_place(tmp_path: Path,
                                                           toy_clip_dir: Path) -> None:
    """By a full scan (``index``) and by a watcher's report of the one file (the JPEG
    copied in, then deleted: the RAW is listed again)."""
    from core.library import Library

    folder = tmp_path / "card"
    write_dng(folder / "IMG_0001.CR2", halves())
    jpeg = folder / "IMG_0001.JPG"
    with Library(tmp_path / "data", model=str(toy_clip_dir), device="cpu") as library:

        def listed() -> list[str]:
            return sorted(Path(p).name for p in library.catalog.photos_at_or_under(str(folder)))

        def run(steps: Any) -> None:
            for _ in steps:
                pass

        run(library.index([folder]))
        assert listed() == ["IMG_0001.CR2"]
        halves().save(jpeg)  # copied from the card afterwards
        run(library.index())
        assert listed() == ["IMG_0001.JPG"]

        jpeg.unlink()
        run(library.index_files([jpeg]))  # what a watcher reports
        assert listed() == ["IMG_0001.CR2"]
        halves().save(jpeg)
        run(library.index_files([jpeg]))
        assert listed() == ["IMG_0001.JPG"]
    assert (folder / "IMG_0001.CR2").is_file()  # only the catalog forgot it
