"""The text pass's bookkeeping, with a stand-in reader (the real OCR is tested in
tests/core/photos/test_text_reading.py and tests/e2e/test_text_and_places_cli.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from core.config import INFLIGHT_DIR
from core.library import Library
from core.photos.text_reading import Region, TextLine
from core.sync.text_pass import CRASH_REASON, TextPass
from tests.support import toyworld


class _Reader:
    """Reads "hello <width>" in every photo, and counts the photos it was given."""

    def __init__(self) -> None:
        self.read_count = 0
        self._lock = threading.Lock()  # the pass reads two photos at once

    def load(self) -> None:
        """Nothing to load."""

    def text_regions(self, image: Image.Image) -> list[Region]:
        return [(0.0, 0.0, 1.0, 1.0)]

    def read(self, image: Image.Image, *,
             regions: list[Region] | None = None) -> list[TextLine]:
        with self._lock:
            self.read_count += 1
        box = ((1.0, 2.0), (30.0, 2.0), (30.0, 12.0), (1.0, 12.0))
        return [TextLine(f"hello {image.width}", box, 0.9)]


@pytest.fixture
def library(tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch):
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(20, seed=3), seed=3)
    with Library(tmp_path / "data", model=str(tiny_clip_dir), device="cpu") as opened:
        for _ in opened.index([photos]):  # the tests' default: no text pass
            pass
        monkeypatch.setenv("PICTOR_READ_TEXT", "1")  # for the passes the tests run
        yield opened


def _pass(library: Library, reader: _Reader) -> TextPass:
    return TextPass(library.catalog, library.data_dir, reader=lambda: reader)  # type: ignore[arg-type,return-value]


def test_a_stopped_pass_carries_on_where_it_was(library: Library) -> None:
    reader = _Reader()
    run = _pass(library, reader).run()
    first = [next(run), next(run)]
    run.close()  # stopped after the first batch
    assert first[0].total == 20 and first[1].done == 8
    assert library.catalog.count_text_pending() == 12
    again = _Reader()
    steps = list(_pass(library, again).run())
    assert steps[-1].done == 12 and again.read_count == 12  # the rest, and only the rest
    assert library.status().text == {"read": 20, "with_text": 20, "failed": 0, "pending": 0}
    assert list(_pass(library, again).run()) == []  # nothing left: nothing to load


def _dead_marker(library: Library, folder: str, path: str) -> Path:
    """A marker left by a process that died while reading ``path``."""
    markers = library.data_dir / INFLIGHT_DIR / folder
    markers.mkdir(parents=True, exist_ok=True)
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    assert not Path(f"/proc/{dead}").exists()
    (markers / f"decode-{dead}-1").write_text(path)
    return markers


def test_a_photo_that_crashed_pictor_alone_is_not_read_again(library: Library) -> None:
    victim = library.catalog.text_pending(1)[0]
    markers = _dead_marker(library, "text-alone", victim[1])
    reader = _Reader()
    list(_pass(library, reader).run())
    assert reader.read_count == 19
    stored = library.catalog.text_of(victim[0])
    assert stored is not None and stored.error == CRASH_REASON and stored.lines == []
    assert library.status().text["failed"] == 1
    assert not any(markers.iterdir())


def test_photos_read_together_in_a_crash_are_read_again_alone_first(
        library: Library) -> None:
    """Two photos are read at once, so a crash names both: each is read again on its own
    before the others (the next crash then names one), and neither is failed for it."""
    pending = library.catalog.text_pending(20)
    named = [pending[7][1], pending[12][1]]
    markers = _dead_marker(library, "text", named[0])
    (markers / f"decode-{2**22 + 12345}-2").write_text(named[1])

    class Watching(_Reader):
        def __init__(self) -> None:
            super().__init__()
            self.order: list[str] = []

        def read(self, image: Image.Image, *,
                 regions: list[Region] | None = None) -> list[TextLine]:
            self.order.append(threading.current_thread().name)
            return super().read(image)

    reader = Watching()
    steps = list(_pass(library, reader).run())
    assert reader.read_count == 20 and steps[1].done == 2
    assert not any(name.startswith("text") for name in reader.order[:2])  # not the pool's
    assert library.status().text == {"read": 20, "with_text": 20, "failed": 0, "pending": 0}
    assert not any(markers.iterdir())
    assert not any((library.data_dir / INFLIGHT_DIR / "text-alone").iterdir())


def test_a_photo_that_cannot_be_decoded_fails_alone(library: Library) -> None:
    photo_id, path, _ = library.catalog.text_pending(1)[0]
    Path(path).write_bytes(b"not a photo any more")
    reader = _Reader()
    list(_pass(library, reader).run())
    assert reader.read_count == 19
    stored = library.catalog.text_of(photo_id)
    assert stored is not None and stored.error and stored.lines == []


def test_a_changed_photo_is_read_again(library: Library, tmp_path: Path) -> None:
    reader = _Reader()
    list(_pass(library, reader).run())
    photo_id, path = next((row.id, row.path) for row in
                          library.catalog.photos_at_or_under(str(tmp_path)).values())
    toyworld.render(toyworld.all_scenes()[0], seed=99, size=(300, 200)).save(path)
    os.utime(path, (1e9, 1e9))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PICTOR_READ_TEXT", "0")  # its own pass would use the real reader
        for _ in library.index():
            pass
    assert library.catalog.text_of(photo_id) is None  # its old text is gone
    list(_pass(library, reader).run())
    stored = library.catalog.text_of(photo_id)
    assert stored is not None and stored.text == "hello 300"
    assert [hit.path for hit in library.search("hello 300", min_score=100)] == [path]


def test_off_by_the_environment(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOR_READ_TEXT", "0")
    assert list(_pass(library, _Reader()).run()) == []


def test_a_budget_leaves_the_rest_for_a_later_run(library: Library) -> None:
    reader = _Reader()
    steps = list(_pass(library, reader).run(budget_s=0.0))  # stops after its first batch
    assert steps[-1].done == 8 and library.catalog.count_text_pending() == 12
    list(_pass(library, reader).run())
    assert library.catalog.count_text_pending() == 0


def test_two_photos_are_read_at_once_and_written_in_order(library: Library) -> None:
    class Slow(_Reader):
        """Each read waits until another is under way (or a second has passed)."""

        def __init__(self) -> None:
            super().__init__()
            self.together = threading.Barrier(2, timeout=1)
            self.met = 0

        def read(self, image: Image.Image, *,
                 regions: list[Region] | None = None) -> list[TextLine]:
            try:
                self.together.wait()
                with self._lock:
                    self.met += 1
            except threading.BrokenBarrierError:
                self.together.reset()
            return super().read(image)

    reader = Slow()
    steps = list(_pass(library, reader).run())
    assert [step.done for step in steps] == [0, 8, 16, 20]
    assert reader.met >= 18  # all but the odd one out, at most, read beside another
    assert library.status().text == {"read": 20, "with_text": 20, "failed": 0, "pending": 0}


def test_the_models_load_before_any_photo_is_marked(library: Library) -> None:
    """Loading (the first time: building the int8 detector, seconds and memory) happens
    before a photo is marked as being read, so a crash there fails no photo."""
    markers = library.data_dir / INFLIGHT_DIR / "text"

    class Loading(_Reader):
        def load(self) -> None:
            self.marked = [m.read_text() for m in markers.glob("*")] if markers.is_dir() \
                else []

    reader = Loading()
    list(_pass(library, reader).run())
    assert reader.marked == [] and reader.read_count == 20
