"""Parts of the window that need no engine: thumbnails, query parsing, progress text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from core.types import Progress
from desktop.index_status import describe, summary
from desktop.query import split_negative
from desktop.thumbnails import make_preview, make_thumbnail


def _rotated_jpeg(path: Path) -> Path:
    """A 120x60 landscape picture stored with EXIF orientation 6 (shown as 60x120)."""
    image = Image.new("RGB", (120, 60), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", exif=exif.tobytes())
    return path


def test_thumbnails_are_upright_and_cached_on_disk(tmp_path: Path, qapp: Any) -> None:
    photo = _rotated_jpeg(tmp_path / "portrait.jpg")
    cache = tmp_path / "data" / "thumbnails"
    image = make_thumbnail(str(photo), cache, size=64)
    assert (image.width(), image.height()) == (32, 64)  # EXIF orientation respected
    files = list(cache.rglob("*.jpg"))
    assert len(files) == 1
    again = make_thumbnail(str(photo), cache, size=64)  # from the disk cache
    assert (again.width(), again.height()) == (32, 64)
    assert list(cache.rglob("*.jpg")) == files
    preview, facts = make_preview(str(photo), size=100)
    assert preview.height() > preview.width()
    assert (facts["width"], facts["height"], facts["format"]) == (60, 120, "JPEG")


def test_a_changed_photo_gets_a_new_thumbnail(tmp_path: Path, qapp: Any) -> None:
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 40), (0, 0, 255)).save(photo)
    cache = tmp_path / "thumbs"
    make_thumbnail(str(photo), cache, size=32)
    Image.new("RGB", (80, 40), (0, 255, 0)).save(photo)
    image = make_thumbnail(str(photo), cache, size=32)
    assert (image.width(), image.height()) == (32, 16)
    assert len(list(cache.rglob("*.jpg"))) == 2


def test_not_splits_off_what_to_leave_out() -> None:
    assert split_negative("a dog on a beach not: people") == ("a dog on a beach", "people")
    assert split_negative("  red circle ") == ("red circle", "")
    assert split_negative("knot: tied") == ("knot: tied", "")


def test_progress_reads_like_a_sentence() -> None:
    running = Progress(phase="embed", done=120, total=500, rate=35.24, eta_s=11)
    assert describe(running) == "Indexing 120 / 500 · 35.2 photos/s · about 0:11 left"
    assert describe(Progress(phase="scan", done=0, total=1200)).endswith("1200 found")
    finished = Progress(phase="done", done=3, total=3, indexed=2, failed=1, elapsed_s=65)
    assert summary(finished, False) == "2 photos indexed, 1 failed in 1:05"
    assert summary(None, False) == "Library up to date"
    assert summary(finished, True).startswith("Indexing stopped")
