"""core.photos.text_reading with the real OCR models (PP-OCRv6, from rapidocr's wheel), on
photos drawn by tests/support/text_photos.py. The models load once for the module."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.config import CACHE_DIR_ENV, TEXT_DETECTOR_DIR
from core.errors import ModelUnavailableError, TextReadingError
from core.photos import text_models, text_reading
from core.photos.imaging import decode_path
from core.photos.text_reading import TextLine, TextReader
from tests.support import text_photos
from tests.support.text_photos import TextPhoto, plain_photo, text_photo

INT8_CACHE = Path(os.environ[CACHE_DIR_ENV]) / TEXT_DETECTOR_DIR
"""Where the int8 detector is built once for the whole test run (tests/conftest.py sets
the cache folder), as indexing uses it on a CPU."""


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader(threads=2, int8_cache=INT8_CACHE)


def _said(lines: list[TextLine]) -> list[str]:
    return [" ".join(line.text.lower().split()) for line in lines]


def _expect(lines: list[TextLine], *wanted: str) -> None:
    assert _said(lines) == [" ".join(text.lower().split()) for text in wanted]
    assert all(0.5 <= line.confidence <= 1 for line in lines)


@pytest.mark.parametrize("text", ["Harbour Street 12", "RE1634", "Call 0271-5550123"])
def test_words_codes_and_phone_numbers_are_read(reader: TextReader, text: str) -> None:
    _expect(reader.read(text_photo([text], seed=len(text)).image), text)


@pytest.mark.parametrize("font_name", ["sans", "serif", "mono", "bold"])
def test_each_font_is_read(reader: TextReader, font_name: str) -> None:
    photo = text_photo(["Open daily 9 to 17"], font_name=font_name, seed=3)
    _expect(reader.read(photo.image), "Open daily 9 to 17")


@pytest.mark.parametrize("options", [{"tilt": 5.0}, {"tilt": -5.0}, {"noise": 20.0},
                                     {"quality": 60}],
                         ids=["tilted-left", "tilted-right", "noisy", "jpeg-60"])
def test_tilted_noisy_and_compressed_text_is_read(reader: TextReader,
                                                  options: dict[str, float]) -> None:
    photo = text_photo(["Museum entrance", "Ticket RE1634"], seed=5, **options)
    _expect(reader.read(photo.image), "Museum entrance", "Ticket RE1634")


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_text_turned_inside_the_picture_is_read_in_its_own_order(reader: TextReader,
                                                                 turn: int) -> None:
    """A sign photographed on its side or upside down: each line is read the right way
    round, the first line of the sign first."""
    photo = text_photo(["Platform 4", "Exit to Market Square", "Trains to Lyon"],
                       turn=turn, seed=turn)
    _expect(reader.read(photo.image), "Platform 4", "Exit to Market Square", "Trains to Lyon")


def test_a_short_code_on_its_side_is_read(reader: TextReader) -> None:
    _expect(reader.read(text_photo(["RE1634"], turn=90, seed=8).image), "RE1634")


def test_lines_come_in_reading_order(reader: TextReader) -> None:
    """Two columns of a menu board: a line is read left to right across the columns."""
    image = text_photo(["Soup"], where=(0.25, 0.3), seed=2).image
    for text, where in (("Bread", (0.25, 0.6)), ("4.50", (0.75, 0.3)), ("2.80", (0.75, 0.6))):
        drawn = text_photo([text], where=where, seed=2)
        left, top, right, bottom = drawn.text_box
        image.paste(drawn.image.crop((left - 4, top - 4, right + 4, bottom + 4)),
                    (left - 4, top - 4))
    _expect(reader.read(image), "Soup", "4.50", "Bread", "2.80")


def _inside(point: tuple[float, float], box: tuple[float, float, float, float],
            margin: float) -> bool:
    x, y = point
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin


def _check_box(line: TextLine, photo: TextPhoto) -> None:
    """The line's corners lie around the drawn text, in the pixels of the image given."""
    drawn = tuple(float(v) for v in photo.text_box)
    height = drawn[3] - drawn[1]
    assert len(line.box) == 4
    assert all(_inside(corner, drawn, margin=0.6 * height) for corner in line.box)
    xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
    assert min(xs) <= drawn[0] + height and max(xs) >= drawn[2] - height
    assert min(ys) <= drawn[1] + 0.3 * height and max(ys) >= drawn[3] - 0.3 * height


@pytest.mark.parametrize("size", [(960, 720), (4000, 3000)])
def test_boxes_lie_around_the_text_in_the_image_given(reader: TextReader,
                                                      size: tuple[int, int]) -> None:
    """A 12 MP photo is read shrunk; its boxes come back in its own pixels."""
    photo = text_photo(["Harbour Street 12"], size=size, where=(0.3, 0.7), seed=4)
    (line,) = reader.read(photo.image)
    _check_box(line, photo)


def test_a_photo_turned_by_its_exif_tag_is_read_as_shown(reader: TextReader,
                                                          tmp_path: Path) -> None:
    """The pixels are stored on their side with an Orientation tag; decoding turns them
    upright, and the boxes are in the upright picture's pixels."""
    photo = text_photo(["Lighthouse tours"], size=(900, 600), seed=6)
    for orientation in (6, 8, 3):
        path = text_photos.save_oriented(photo.image, tmp_path / f"o{orientation}.jpg",
                                         orientation)
        shown, _ = decode_path(path)
        assert shown.size == photo.image.size
        (line,) = reader.read(shown)
        assert _said([line]) == ["lighthouse tours"]
        _check_box(line, photo)


GATE_SIZES = [(4000, 3000), (1500, 2000), (1920, 1080), (1024, 768)]


@pytest.mark.parametrize("size", GATE_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_the_gate_finds_every_line_two_percent_of_the_height(reader: TextReader,
                                                             size: tuple[int, int]) -> None:
    """The cheap gate must lose no photo with ordinary-sized text: lines whose letters are
    2% of the photo's height, in each font, tilted, noisy, compressed or turned."""
    variants: list[dict[str, object]] = [
        {"font_name": "sans"}, {"font_name": "serif", "tilt": 5.0},
        {"font_name": "mono", "noise": 20.0}, {"font_name": "bold", "quality": 60},
        {"turn": 90}, {"turn": 180, "font_name": "serif"}]
    for i, options in enumerate(variants):
        photo = text_photo(["Tel 0271-5550123"] if i % 2 else ["EXIT"], size=size,
                           font_size=round(0.02 * size[1]), seed=i,
                           where=(0.2 + 0.12 * i, 0.8 - 0.1 * i), **options)
        assert reader.likely_text(photo.image), options


@pytest.mark.parametrize("height", [0.1, 0.25])
def test_the_gate_finds_big_print(reader: TextReader, height: float) -> None:
    """A close-up of a sign: the gate asks more of a thick box, and big print has it."""
    for turn in (0, 90):
        photo = text_photo(["EXIT"], size=(1600, 1200), font_size=round(height * 1200),
                           font_name="bold", turn=turn, seed=turn)
        assert reader.likely_text(photo.image), turn


def test_the_gate_says_no_on_photos_without_text(reader: TextReader) -> None:
    """Gradients, noise, shapes, skies and grass at three sizes. The gate may take a dark
    bar the size of a word for one (it did for 3 in 50 drawn shapes, never for the other
    kinds): that costs a full reading, which then finds nothing."""
    said_yes = []
    for kind in text_photos.PLAIN_KINDS:
        for seed, size in enumerate([(960, 720), (2000, 1500), (1500, 2000)]):
            image = plain_photo(kind, size, seed=seed)
            if reader.likely_text(image):
                said_yes.append((kind, seed))
            assert reader.read_photo(image) == [], (kind, seed)
    assert len(said_yes) <= 1 and all(kind == "shapes" for kind, _ in said_yes), said_yes


def test_read_photo_reads_where_the_gate_says_yes(reader: TextReader) -> None:
    _expect(reader.read_photo(text_photo(["No parking"], seed=9).image), "No parking")


def _detected_shapes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    seen: list[tuple[int, ...]] = []
    detect = text_reading._detect
    monkeypatch.setattr(text_reading, "_detect", lambda models, pixels, *rest: (
        seen.append(pixels.shape[:2]), detect(models, pixels, *rest))[1])
    return seen


def test_a_reading_after_the_gate_looks_only_where_it_found_text(
        reader: TextReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full detection runs on the regions around the gate's boxes, not the photo."""
    photo = text_photo(["Harbour Street 12"], size=(2000, 1500), font_size=45,
                       where=(0.25, 0.3), seed=11)
    regions = reader.text_regions(photo.image)
    assert len(regions) == 1 and text_reading._share(regions) < 0.25
    seen = _detected_shapes(monkeypatch)
    (line,) = reader.read_photo(photo.image)
    assert _said([line]) == ["harbour street 12"]
    _check_box(line, photo)  # in the whole photo's pixels, not the region's
    assert len(seen) == 2 and seen[1][0] * seen[1][1] < 0.3 * 1500 * 2000  # gate, region


def test_small_print_beside_what_the_gate_found_is_read(reader: TextReader) -> None:
    """A receipt's fine print, should the gate miss it, lies inside the region of its big
    print: read as a whole-photo reading reads it."""
    photo = text_photo(["SUPERMARKT"], size=(2000, 1500), font_size=60, where=(0.4, 0.4),
                       seed=12)
    header_only = reader.text_regions(photo.image)
    draw = ImageDraw.Draw(photo.image)
    left, bottom = photo.text_box[0], photo.text_box[3]
    draw.text((left, bottom + 25), "RE1634 Tel 0271-5550123", fill=(20, 20, 30),
              font=text_photos.font("sans", 20))
    wanted = _said(reader.read(photo.image))
    assert wanted == ["supermarkt", "re1634 tel 0271-5550123"]
    assert _said(reader.read(photo.image, regions=header_only)) == wanted
    assert _said(reader.read_photo(photo.image)) == wanted


def test_text_in_two_places_is_read_from_both_regions(reader: TextReader) -> None:
    photo = text_photo(["EXIT"], size=(1920, 1080), font_size=40, where=(0.12, 0.15), seed=13)
    draw = ImageDraw.Draw(photo.image)
    draw.text((1500, 900), "Platform 9", fill=(20, 20, 30), font=text_photos.font("bold", 40))
    regions = reader.text_regions(photo.image)
    assert len(regions) == 2
    assert sorted(_said(reader.read_photo(photo.image))) == ["exit", "platform 9"]


def test_regions_merge_when_they_overlap_or_nearly_touch_and_stay_inside_the_photo() -> None:
    line = np.float32([[10, 10], [50, 10], [50, 20], [10, 20]])
    below = line + np.float32([0, 30])
    far = line + np.float32([340, 250])
    regions = text_reading._regions(np.stack([line, below, far]), (400, 300))
    assert len(regions) == 2
    near, away = sorted(regions)
    assert near[0] == 0 and near[1] == 0  # clipped at the photo's edge
    assert near[3] * 300 >= 50 + 4 * 10  # both lines, with their margin below
    assert all(0 <= value <= 1 for region in regions for value in region)
    assert away[2] == 1 and away[3] == 1
    chain = [(0.0, 0.0, 0.2, 0.2), (0.15, 0.0, 0.4, 0.2), (0.35, 0.0, 0.6, 0.2)]
    assert text_reading._merged(chain, gap=0) == [(0.0, 0.0, 0.6, 0.2)]  # a and c via b
    touching = [(0.0, 0.0, 0.2, 0.2), (0.21, 0.0, 0.4, 0.2)]
    assert len(text_reading._merged(touching, gap=0)) == 2
    assert text_reading._merged(touching, gap=0.02) == [(0.0, 0.0, 0.4, 0.2)]


def test_a_faint_box_over_the_whole_frame_makes_no_region() -> None:
    sky = np.float32([[0, 0], [399, 0], [399, 299], [0, 299]])
    sign = np.float32([[300, 250], [360, 250], [360, 262], [300, 262]])
    (region,) = text_reading._regions(np.stack([sky, sign]), (400, 300))
    assert region[0] > 0.5 and region[1] > 0.6


def test_regions_over_half_the_photo_or_many_are_read_as_the_whole_photo(
        reader: TextReader, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = text_photo(["No parking"], seed=9)  # 960x720, the line across the middle
    seen = _detected_shapes(monkeypatch)
    assert _said(reader.read(photo.image, regions=[(0.0, 0.0, 0.6, 1.0)])) == ["no parking"]
    assert seen == [(720, 960)]  # the whole photo, not the region that cuts the line
    many = [(0.1 * i, 0.0, 0.1 * i + 0.02, 0.02) for i in range(9)]
    seen.clear()
    reader.read(photo.image, regions=many)
    assert seen == [(720, 960)]
    seen.clear()
    assert reader.read(photo.image, regions=[(0.0, 0.0, 0.1, 0.1)]) == []  # nothing there
    assert seen == [(96, 96)]  # 96x72 widened to the network's step, not stretched


def test_text_at_the_photos_far_corner_is_read_where_it_is(reader: TextReader) -> None:
    photo = text_photo(["Gate 42"], size=(2000, 1500), font_size=40, where=(0.93, 0.96),
                       seed=14)
    regions = reader.text_regions(photo.image)
    assert regions and max(region[2] for region in regions) == 1
    (line,) = reader.read_photo(photo.image)
    assert _said([line]) == ["gate 42"]
    _check_box(line, photo)


def test_chinese_text_is_read(reader: TextReader) -> None:
    font_path = text_photos.cjk_font_path()
    if font_path is None:
        pytest.skip("no font for Chinese characters on this system")
    photo = text_photo(["北京西站"], font_path=font_path, seed=1)
    _expect(reader.read(photo.image), "北京西站")


@pytest.mark.parametrize("image", [
    Image.new("RGB", (1, 1)), Image.new("RGB", (0, 0)), Image.new("RGB", (640, 480)),
    Image.new("RGB", (4000, 3)), Image.new("L", (300, 200), 255),
    Image.new("RGBA", (300, 200), (0, 0, 0, 0))],
    ids=["1x1", "empty", "all-black", "a-strip", "grey", "transparent"])
def test_odd_inputs_give_no_text(reader: TextReader, image: Image.Image) -> None:
    assert reader.read(image) == []
    assert reader.likely_text(image) is False
    assert reader.read_photo(image) == []


def test_other_modes_are_read_as_rgb(reader: TextReader) -> None:
    grey = text_photo(["RE1634"], seed=2).image.convert("L")
    _expect(reader.read(grey), "RE1634")


def test_a_runtime_failure_is_a_clear_error(reader: TextReader,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(pixels: np.ndarray) -> np.ndarray:
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : out of memory")

    broken_models = dataclasses.replace(reader.models, detect=broken)
    monkeypatch.setattr(text_models, "load", lambda **_: broken_models)
    failing = TextReader()
    image = text_photo(["RE1634"], seed=2).image
    for call in (failing.likely_text, failing.read, failing.read_photo):
        with pytest.raises(TextReadingError, match=r"could not be read.*out of memory"):
            call(image)


def test_pixels_that_cannot_be_made_rgb_are_a_clear_error(reader: TextReader) -> None:
    with pytest.raises(TextReadingError, match=r"could not be read \(ValueError"):
        reader.read(Image.new("La", (300, 200)))


def test_a_missing_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setattr(text_models, "model_folder", lambda: tmp_path)
    with pytest.raises(ModelUnavailableError, match=r"PP-OCRv6_det_small\.onnx is missing"):
        TextReader().likely_text(Image.new("RGB", (64, 64)))


def test_loading_never_downloads_and_prints_nothing(monkeypatch: pytest.MonkeyPatch,
                                                    capfd: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """rapidocr downloads a model or an alphabet it cannot find, and logs INFO lines to the
    terminal: neither happens (the sessions are Pictor's, its logger is quieted)."""
    import rapidocr.utils.download_file as downloads

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("rapidocr tried to download something")

    monkeypatch.setattr(downloads.DownloadFile, "run", classmethod(refuse))
    monkeypatch.setattr(downloads.requests, "get", refuse)
    with caplog.at_level(logging.INFO):
        fresh = TextReader(threads=1)
        _expect(fresh.read_photo(text_photo(["RE1634"], seed=2).image), "RE1634")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert not [r for r in caplog.records if r.name == "RapidOCR" and r.levelno < logging.WARNING]
    assert logging.getLogger("RapidOCR").handlers == []
