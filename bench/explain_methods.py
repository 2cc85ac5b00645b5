"""The heat map's methods compared (core.search.explain): faithfulness and speed.

Faithfulness is the deletion curve: the cells of the grid are greyed out (the model's mean
colour) one by one, hottest first, and the similarity measured after each. A faithful map
makes it fall fastest. Two figures, over the photos whose similarity greying the whole view
lowers by more than 0.02 (a caption the photo does not match has nothing to take away):

- ``deletion_auc``: the similarity lost, as a share of what greying everything loses,
  averaged along the curve (higher: faster; a random order gives the baseline);
- ``top10``: the share lost once the hottest 10% of the cells are greyed.

``peak_hits`` is the share of captions whose peak lies in the box of the shape they name.
The toy CLIP (tests/support/models.py) is the trained model, on photos with two shapes
(tests/core/search/two_shapes.py); the ViT-B/32-sized model (bench/_common.py, random
weights) gives the speed at the size the target is set for, and a deletion curve that
says how faithful each method is to that model's function, whatever it computes.

    .venv/bin/python bench/explain_methods.py [--threads N] [--vit-photos 3]

Prints one JSON object. Times are medians per photo in ms, in the same run for every
method (absolute times on a shared machine are noise; their ratios are not).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import CACHE, REPO, build_model, photo_like

sys.path.insert(0, str(REPO))

from core.models.embedder import Embedder
from core.photos.imaging import decode_path
from core.search import explain as ex

METHODS: dict[str, Callable[..., Any]] = {
    "occlusion_2x2_windows": lambda m, v, q, r, b: ex.occlusion_heat(m, v, q, r, base=b),
    "occlusion_single_cells": lambda m, v, q, r, b: ex.occlusion_heat(m, v, q, r, base=b,
                                                                     window=1),
    "gradient_x_input": lambda m, v, q, r, b: ex.gradient_heat(m, v, q, r),
}
PAIRS = [(("red", "circle"), ("blue", "square")), (("blue", "square"), ("red", "circle")),
         (("yellow", "triangle"), ("green", "star")), (("purple", "cross"), ("orange", "circle"))]


def deletion(model: Embedder, view: ex.ModelView, query: Any,
             rects: list[list[ex.Rect | None]], order: list[tuple[int, int]]
             ) -> tuple[float, float] | None:
    """(deletion_auc, top10) for greying the cells in ``order``; None if greying them all
    costs the similarity under 0.02."""
    grey = ex.mean_colour(model)
    batch = np.repeat(view.pixels[None], len(order) + 1, axis=0)
    for k, (i, j) in enumerate(order):
        rect = rects[i][j]
        assert rect is not None
        batch[k + 1:, rect[1]:rect[3], rect[0]:rect[2]] = grey
    sims = np.concatenate([model.embed_pixels(view.packed(batch[s:s + 16]))
                           for s in range(0, len(batch), 16)]) @ query
    lost = float(sims[0] - sims[-1])
    if lost <= 0.02:
        return None
    tenth = max(1, round(len(order) / 10))
    return float(np.mean((sims[0] - sims[1:]) / lost)), float((sims[0] - sims[tenth]) / lost)


def measure(model: Embedder, cases: list[tuple[Path, Any, tuple[int, ...] | None]]
            ) -> dict[str, Any]:
    """Every method on every (photo, caption or query vector, box of what it names) case."""
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, list[float]]] = {
        name: {"deletion": [], "top10": [], "hits": [], "ms": []}
        for name in [*METHODS, "random_order"]}
    for path, caption, box in cases:
        picture, _ = decode_path(path, min_side=model.image_input.size)
        view = ex.model_view(picture, model.image_input)
        rows, cols = ex.grid_shape(picture.size, view.box)
        rects = ex.cell_rects(rows, cols, picture.size, view)
        cells = [(i, j) for i in range(rows) for j in range(cols) if rects[i][j]]
        query = model.text_vector(caption) if isinstance(caption, str) else caption
        base = float(model.embed_pixels(view.packed(view.pixels[None]))[0] @ query)
        orders = {"random_order": [cells[k] for k in rng.permutation(len(cells))]}
        for name, method in METHODS.items():
            started = time.perf_counter()
            values = method(model, view, query, rects, base)
            results[name]["ms"].append((time.perf_counter() - started) * 1000)
            assert values is not None
            orders[name] = sorted(cells, key=lambda ij, v=values: -v[ij])
            if box is not None:
                grid = ex.normalised(values)
                x, y = ex.peak(grid, (picture.width / cols, picture.height / rows))
                results[name]["hits"].append(box[0] <= x < box[2] and box[1] <= y < box[3])
        for name, order in orders.items():
            curve = deletion(model, view, query, rects, order)
            if curve is not None:
                results[name]["deletion"].append(curve[0])
                results[name]["top10"].append(curve[1])
    return {name: {key: round(statistics.median(v) if key == "ms" else statistics.mean(v), 3)
                   for key, v in figures.items() if v} | {"cases": len(figures["deletion"])}
            for name, figures in results.items()}


def toy_cases(folder: Path) -> list[tuple[Path, Any, tuple[int, ...] | None]]:
    from tests.core.search.two_shapes import two_shapes

    cases: list[tuple[Path, Any, tuple[int, ...] | None]] = []
    for seed in range(3):
        for k, (left, right) in enumerate(PAIRS):
            for background in ("grass", "sand", "sky", "night"):
                photo = two_shapes(left, right, background, seed=seed * 10 + k)
                path = folder / f"toy-{seed}-{k}-{background}.png"
                photo.image.save(path)
                cases += [(path, caption, box) for caption, box in photo.boxes.items()]
    return cases


def region_case(model: Embedder, path: Path, seed: int) -> tuple[Path, Any, tuple[int, ...]]:
    """A "description" a random-weight model surely matches: what a block of 3 x 3 cells
    adds to the vector of a grey view, and that block's box in the picture."""
    picture, _ = decode_path(path, min_side=model.image_input.size)
    view = ex.model_view(picture, model.image_input)
    rows, cols = ex.grid_shape(picture.size, view.box)
    rects = ex.cell_rects(rows, cols, picture.size, view)
    seen = [(i, j) for i in range(rows - 2) for j in range(cols - 2)
            if rects[i][j] and rects[i + 2][j + 2]]
    top, left = seen[np.random.default_rng(seed).integers(len(seen))]
    a, b = rects[top][left], rects[top + 2][left + 2]
    assert a is not None and b is not None
    kept = np.repeat(ex.mean_colour(model)[None, None], view.pixels.shape[0], axis=0)
    kept = np.repeat(kept, view.pixels.shape[1], axis=1)  # grey but the block
    kept[a[1]:b[3], a[0]:b[2]] = view.pixels[a[1]:b[3], a[0]:b[2]]
    grey = np.repeat(ex.mean_colour(model)[None, None], kept.shape[0], axis=0)
    grey = np.repeat(grey, kept.shape[1], axis=1)
    # Less the grey view's vector: a random tower gives every input nearly the same
    # vector (cosine 0.97+), which would swamp what the block adds.
    vectors = model.embed_pixels(view.packed(np.stack([kept, grey])))
    query = (vectors[0] - vectors[1]) / np.linalg.norm(vectors[0] - vectors[1])
    cell_w, cell_h = picture.width / cols, picture.height / rows
    box = (int(left * cell_w), int(top * cell_h), int((left + 3) * cell_w),
           int((top + 3) * cell_h))
    return path, query, box


def explain_ms(model: Embedder, path: Path, text: str, repeats: int = 3) -> float:
    """The whole of ``explain`` (decoding, text, heat), best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        ex.explain(path, text, embedder=lambda: model)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--vit-photos", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from tests.conftest import cached_model
    from tests.support import models

    report: dict[str, Any] = {"threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        toy = Embedder.load(str(cached_model("toy-clip", models.train_toy_clip)),
                            device="cpu", precision="fp32")
        cases = toy_cases(folder)
        report["toy"] = measure(toy, cases)
        report["toy"]["explain_ms"] = explain_ms(toy, cases[0][0], cases[0][1])
        vit = Embedder.load(str(build_model(CACHE / "models" / "vitb32-L12", layers=None)),
                            device="cpu")
        photos = []
        for seed in range(args.vit_photos):
            path = folder / f"photo-{seed}.jpg"
            photo_like(seed, 1600, 1200).save(path, quality=90)
            photos.append(region_case(vit, path, seed))
        report["vit_b32"] = measure(vit, photos)
        report["vit_b32"]["precision"] = vit.precision
        report["vit_b32"]["explain_ms"] = explain_ms(vit, photos[0][0], "a dog on a beach")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
