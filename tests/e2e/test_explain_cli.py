"""`python main.py explain PHOTO TEXT`: where a description matched, as a user runs it.

The toy CLIP and a photo with a blue square on the left and a red circle on the right
(tests/core/search/two_shapes.py), stored turned with an EXIF orientation: the peak for
"a red circle" is on the right of the photo as shown, and --out draws the photo as shown.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.core.search.two_shapes import TwoShapes, inside, two_shapes, write_turned
from tests.support.cli import pictor

WIDTH, HEIGHT = 120, 96


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TwoShapes]:
    shapes = two_shapes(("blue", "square"), ("red", "circle"), "grass", seed=1,
                        size=(WIDTH, HEIGHT))
    path = tmp_path_factory.mktemp("explain") / "turned.jpg"
    write_turned(shapes, path)
    return path, shapes


def test_explain_json_finds_the_right_hand_shape(photo: tuple[Path, TwoShapes],
                                                 toy_clip_dir: Path, tmp_path: Path) -> None:
    path, shapes = photo
    done = pictor("explain", str(path), "a red circle", "--json", "--model",
                  str(toy_clip_dir), data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    heat = json.loads(done.stdout)
    assert set(heat) >= {"photo", "text", "similarity", "score", "peak", "grid", "cell",
                         "method"}
    assert (heat["photo"], heat["text"], heat["method"]) == (str(path), "a red circle",
                                                             "occlusion")
    assert 0 <= heat["score"] <= 100 and -1 <= heat["similarity"] <= 1
    assert heat["size"] == {"width": WIDTH, "height": HEIGHT}
    peak = (heat["peak"]["x"], heat["peak"]["y"])
    assert peak[0] >= WIDTH / 2 and inside(peak, shapes.boxes["a red circle"]), heat["peak"]
    rows, cols = len(heat["grid"]), len(heat["grid"][0])
    assert cols * heat["cell"]["width"] == pytest.approx(WIDTH, abs=0.1)
    assert rows * heat["cell"]["height"] == pytest.approx(HEIGHT, abs=0.1)
    assert max(max(row) for row in heat["grid"]) == 1.0


def test_explain_table_and_heat_image(photo: tuple[Path, TwoShapes], toy_clip_dir: Path,
                                      tmp_path: Path) -> None:
    path, _ = photo
    out = tmp_path / "heat.png"
    done = pictor("explain", str(path), "a red circle", "--out", str(out), "--model",
                  str(toy_clip_dir), data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "peak: x " in done.stdout and f"(of {WIDTH} x {HEIGHT})" in done.stdout
    assert "@@" in done.stdout  # the hottest cell, drawn
    with Image.open(out) as drawn:
        assert (drawn.format, drawn.size) == ("PNG", (WIDTH, HEIGHT))


def test_bad_input_is_one_line_and_status_2(photo: tuple[Path, TwoShapes], toy_clip_dir: Path,
                                            tmp_path: Path) -> None:
    path, _ = photo
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a photo")
    cases = {
        "no such file or folder": [str(tmp_path / "missing.jpg"), "a red circle"],
        "not an image": [str(text_file), "a red circle"],
        "needs a description": [str(path), "  "],
        "no such folder": [str(path), "a red circle", "--out",
                           str(tmp_path / "missing" / "heat.png")],
    }
    for message, args in cases.items():
        done = pictor("explain", *args, "--model", str(toy_clip_dir), data=tmp_path / "data")
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pictor: ") and message in lines[0], \
            (args, done.stderr)
