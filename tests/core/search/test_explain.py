"""Where a description matched: the heat map's peak lies on the shape a caption names, in
the photo's pixels as shown, with every model family; bad requests fail before the model
loads. Photos with two shapes at known places come from tests/core/search/two_shapes.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import PathNotFoundError, UsageError
from core.models.embedder import Embedder
from core.photos.imaging import decode_path
from core.search import explain as explain_module
from core.search.calibration import Scale
from core.search.explain import Heat, check_output, explain
from core.search.heat_image import write_overlay
from tests.conftest import cached_model
from tests.core.search.two_shapes import inside, two_shapes, write_turned
from tests.support import families

RED, BLUE = ("red", "circle"), ("blue", "square")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Torch on one thread: two threads spin-wait on a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy(toy_clip_dir: Path) -> Embedder:
    return Embedder.load(str(toy_clip_dir), device="cpu", precision="fp32")


def _explain(model: Embedder, photo: Path, text: str, **options: object) -> Heat:
    return explain(photo, text, embedder=lambda: model, **options)  # type: ignore[arg-type]


def test_peak_lies_on_the_shape_the_caption_names(toy: Embedder, tmp_path: Path) -> None:
    found = []
    for seed, (left, right) in enumerate([(RED, BLUE), (BLUE, RED)]):
        photo = two_shapes(left, right, "grass", seed=seed)
        path = tmp_path / f"{seed}.png"
        photo.image.save(path)
        for caption, box in photo.boxes.items():
            heat = _explain(toy, path, caption)
            found.append((caption, heat.peak, box, inside(heat.peak, box)))
    assert sum(hit for *_, hit in found) >= 3, found


def test_peak_is_in_the_pixels_shown_for_a_turned_photo(toy: Embedder, tmp_path: Path) -> None:
    """Stored turned with EXIF Orientation 6: the grid, its cells and the peak are those of
    the upright photo (120 x 96), not of the stored pixels (96 x 120)."""
    photo = two_shapes(RED, BLUE, "grass", seed=0, size=(120, 96))
    path = tmp_path / "turned.jpg"
    write_turned(photo, path)
    heat = _explain(toy, path, "a red circle")
    assert heat.size == (120, 96)
    assert inside(heat.peak, photo.boxes["a red circle"]), heat
    assert heat.cols * heat.cell[0] == pytest.approx(120)
    assert heat.rows * heat.cell[1] == pytest.approx(96)
    out = tmp_path / "heat.png"
    write_overlay(heat, out)
    with Image.open(out) as drawn:
        assert (drawn.format, drawn.size) == ("PNG", (120, 96))


def test_grid_covers_the_photo_and_what_the_model_cannot_see_is_cold(
        toy: Embedder, tmp_path: Path) -> None:
    """A wide photo: the toy CLIP sees its middle square only, so the side columns are 0."""
    path = tmp_path / "wide.png"
    two_shapes(RED, BLUE, "grass", seed=1, size=(192, 96)).image.save(path)
    heat = _explain(toy, path, "a red circle")
    grid = np.array(heat.grid)
    assert grid.shape == (heat.rows, heat.cols) == (7, 14)
    assert grid.min() >= 0 and grid.max() == pytest.approx(1.0)
    assert not grid[:, :3].any() and not grid[:, -3:].any()
    assert heat.to_json()["cell"] == {"width": round(192 / 14, 2), "height": round(96 / 7, 2)}


def test_similarity_and_score_are_the_searchs(toy: Embedder, tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    two_shapes(RED, BLUE, "sand", seed=2).image.save(path)
    scale = Scale(center=0.1, width=0.05)
    heat = _explain(toy, path, "  a blue square ", scale=lambda vector: scale)
    picture, _ = decode_path(path, min_side=toy.image_input.size)
    expected = float(toy.embed_images([picture])[0] @ toy.text_vector("a blue square"))
    assert heat.text == "a blue square"
    assert heat.similarity == pytest.approx(expected, abs=1e-5)
    assert heat.score == scale.score_one(heat.similarity)
    assert heat.method == "occlusion"
    assert set(heat.to_json()) >= {"photo", "text", "similarity", "score", "peak", "grid",
                                   "cell", "method"}


def test_gradient_method_finds_the_shape_too(toy: Embedder, tmp_path: Path) -> None:
    photo = two_shapes(RED, BLUE, "grass", seed=0)
    path = tmp_path / "p.png"
    photo.image.save(path)
    heat = _explain(toy, path, "a red circle", method="gradient")
    assert heat.method == "gradient"
    assert heat.peak[0] < 48  # the red circle's half


FAMILY_MODELS = {
    "siglip": ("tiny-siglip", families.build_tiny_siglip),
    "siglip2-naflex": ("tiny-siglip2-naflex", families.build_tiny_siglip2_naflex),
    "chinese-clip": ("tiny-chinese-clip", families.build_tiny_chinese_clip),
}


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_every_family_gives_a_heat_map(family: str, tmp_path: Path) -> None:
    """Tiny random models (their heat means nothing): the grid spans the photo, and NaFlex,
    which the gradient path does not drive, is explained by occlusion."""
    model = Embedder.load(str(cached_model(*FAMILY_MODELS[family])), device="cpu",
                          precision="fp32")
    path = tmp_path / "p.jpg"
    two_shapes(RED, BLUE, "sky", seed=3, size=(120, 96)).image.save(path)
    picture, _ = decode_path(path, min_side=model.image_input.size)
    searched = float(model.embed_images([picture])[0] @ model.text_vector("a red circle"))
    for method in ("auto", "gradient"):
        heat = _explain(model, path, "a red circle", method=method)
        assert heat.similarity == pytest.approx(searched, abs=1e-5)
        assert heat.cols * heat.cell[0] == pytest.approx(120)
        assert heat.rows * heat.cell[1] == pytest.approx(96)
        assert 0 <= heat.peak[0] < 120 and 0 <= heat.peak[1] < 96
        naflex = family == "siglip2-naflex"
        assert heat.method == ("occlusion" if method == "auto" or naflex else "gradient")


def test_auto_takes_the_gradient_when_occlusion_would_be_slow(
        toy: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.png"
    two_shapes(RED, BLUE, "grass", seed=0).image.save(path)
    monkeypatch.setattr(explain_module, "OCCLUSION_BUDGET_S", 0.0)
    assert _explain(toy, path, "a red circle").method == "gradient"
    assert _explain(toy, path, "a red circle", method="occlusion").method == "occlusion"


def test_bad_requests_fail_before_the_model_loads(tmp_path: Path) -> None:
    def no_model() -> Embedder:
        raise AssertionError("the model was asked for")

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), "red").save(photo)
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a photo")
    for path, text, error in [(photo, "   ", UsageError),
                              (tmp_path / "missing.jpg", "a dog", PathNotFoundError),
                              (tmp_path, "a dog", UsageError),
                              (not_image, "a dog", UsageError)]:
        with pytest.raises(error):
            explain(path, text, embedder=no_model)
    with pytest.raises(UsageError, match="no such folder"):
        check_output(tmp_path / "missing" / "heat.png")
    with pytest.raises(UsageError, match="is a folder"):
        check_output(tmp_path)
