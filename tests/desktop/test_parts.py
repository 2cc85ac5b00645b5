"""Parts of the window that need no engine: thumbnails, query parsing, progress text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from core.types import Progress
from desktop.index_status import describe, summary
from desktop.query import split_negative
from desktop.thumbnails import make_preview, make_thumbnail, small_image


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


def test_a_camera_raw_gets_an_upright_thumbnail_and_its_facts(tmp_path: Path,
                                                              qapp: Any) -> None:
    from tests.support.raw_files import write_dng

    photo = write_dng(tmp_path / "IMG_0001.CR2", Image.new("RGB", (400, 200), (200, 30, 30)),
                      preview=1, orientation=6)
    image = make_thumbnail(str(photo), tmp_path / "thumbs", size=64)
    assert (image.width(), image.height()) == (32, 64)  # its preview, turned upright
    _, facts = make_preview(str(photo), size=100)
    assert (facts["width"], facts["height"], facts["format"]) == (200, 400, "RAW")
    assert facts["camera"] == "Pictor Test Camera" and facts["taken_at"].startswith("2021")
    icon = small_image(str(photo), 28)  # the search box's chip for a dropped RAW
    assert icon is not None and (icon.width(), icon.height()) == (14, 28)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    assert small_image(str(tmp_path / "broken.jpg"), 28) is None
    assert small_image(str(tmp_path / "gone.jpg"), 28) is None


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


def test_the_tag_pass_reads_like_a_sentence() -> None:
    tagging = Progress(phase="tag", done=40, total=120, elapsed_s=2)
    assert describe(tagging) == "Tagging photos 40 / 120"


def test_preparing_the_model_says_it_happens_once(qtbot) -> None:  # type: ignore[no-untyped-def]
    from desktop.index_status import IndexStatus

    preparing = Progress(phase="optimise", done=0, total=5000)
    assert describe(preparing) == "Preparing the model for this computer (once per model)…"
    status = IndexStatus()
    qtbot.addWidget(status)
    status.on_progress(preparing)
    assert (status.bar.minimum(), status.bar.maximum()) == (0, 0)  # busy, not "0 of 5000"


def test_the_windows_default_minimum_score_is_the_engines() -> None:
    import inspect

    from core.search.searcher import Searcher
    from desktop.query import Query

    engine = inspect.signature(Searcher.search).parameters["min_score"].default
    assert Query().min_score == engine == 50.0


def test_a_bad_stored_minimum_score_falls_back(tmp_path: Path, qapp: Any) -> None:
    from desktop.settings import Settings

    settings = Settings.at(tmp_path / "s.ini")
    assert settings.min_score == 50
    settings.min_score = 35
    assert settings.min_score == 35
    for stored, read in (("nonsense", 50), ("250", 100), ("-3", 0), ("nan", 50)):
        settings.store.setValue("search/min_score", stored)
        assert settings.min_score == read


def test_result_sentences() -> None:
    from desktop.query import Query
    from desktop.wording import describe, lower_minimum, no_good_match, result_count

    assert describe(Query(text="a <b>dog</b>")) == "“a <b>dog</b>”"
    assert describe(Query(similar_to="/p/IMG_1.jpg")) == "photos like IMG_1.jpg"
    assert describe(Query(text="sea", image="/q/x.png")) == "“sea” with x.png"
    assert lower_minimum(23.4, 5) == 20 and lower_minimum(None, 5) == 0
    text = no_good_match(Query(text="a <b>dog</b>"), 23.4, 20)
    assert "“a &lt;b&gt;dog&lt;/b&gt;”: the best photo scores 23" in text
    assert "<a href='#lower'>Show photos scoring 20 and up</a>" in text
    assert result_count(0, 5, 50) == ""
    assert result_count(1, 0, 50) == "1 photo"
    assert "ranked by similarity" in result_count(3, 0, 50, ranked=True)
    assert result_count(12, 1, 50) == "12 photos · 1 weaker match hidden (under 50)"


def test_the_finetune_dialog_asks_for_the_image_side_only_when_ticked(qtbot: Any) -> None:
    from desktop.finetune_dialog import FinetuneDialog

    dialog = FinetuneDialog()
    qtbot.addWidget(dialog)
    dialog.set_choices([], [])
    dialog.tags.setText("Grandma Rosa, Bella the dog")
    asked: list[tuple[Any, ...]] = []
    dialog.startRequested.connect(lambda *args: asked.append(args))
    dialog.start_button.click()
    dialog._show_running(False)
    dialog.train_images.setChecked(True)
    dialog.start_button.click()
    assert asked == [(["Grandma Rosa", "Bella the dog"], 60, False),
                     (["Grandma Rosa", "Bella the dog"], 60, True)]
    assert not dialog.train_images.isEnabled()  # not changed during a run
