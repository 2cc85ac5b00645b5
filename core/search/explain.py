"""Where a description matched in a photo: a heat map of how much each region of the photo
adds to its similarity with the description, computed with the model that ranked it.

The photo is decoded as search decodes it and turned into exactly the pixels the model sees
(so the similarity is the one search ranks by); a grid is laid over the photo as shown, and
each cell is scored in the model's input by one of two methods:

- ``occlusion``: windows of 2 x 2 cells, sliding one cell at a time, are filled with the
  model's mean colour (zero once normalised: no information) and the photo embedded again,
  in batches; a cell's heat is the mean similarity drop over the windows that cover it. It
  runs through :meth:`Embedder.embed_pixels`, so it works for every family the embedder
  loads (NaFlex included) at the precision search uses.
- ``gradient``: gradient x input, one forward and one backward pass of the image tower in
  fp32; a cell's heat is the sum over its pixels of d(similarity)/d(pixel) x (pixel - mean),
  the first-order estimate of what greying it out would cost. Fixed-size inputs only.

Measured with ``bench/explain_methods.py`` on this 2-core CPU (one torch thread; the other
core was busy). Deletion curve: the cells greyed out hottest first; ``auc`` is the
similarity lost as a share of what greying them all loses, averaged along the curve (above
1 when it dips below the all-grey similarity on the way), ``top10`` that share once the
hottest tenth is grey; ``peak`` is how often the peak lies on what the query names. Toy
CLIP: 48 queries, the shapes of photos with two (tests/core/search/two_shapes.py); ViT-B/32
(random weights, bf16 autocast): 4 photos of 1600 x 1200, each query what a 3 x 3 block of
cells adds to a grey view's vector (a text means nothing to random weights).

=========================  ======  ======  =====  ========  ======  ======  =====  ========
method                     toy                              ViT-B/32
-------------------------  -------------------------------  -------------------------------
(per photo)                auc     top10   peak   ms        auc     top10   peak   ms
=========================  ======  ======  =====  ========  ======  ======  =====  ========
occlusion, 2 x 2 windows   1.13    0.84    0.73   5.2       0.87    0.30    3/4    900
occlusion, single cells    1.12    1.03    0.69   6.8       0.94    0.32    2/4    1200
gradient x input           1.04    0.77    0.69   2.8       0.65    0.21    3/4    247
random order               0.44    0.10                     0.37    0.11
=========================  ======  ======  =====  ========  ======  ======  =====  ========

Occlusion is chosen: it measures the very thing asked (what the score loses without a
region), and was the more faithful on both models. Windows of 2 x 2 cells take 36 passes
on a 7 x 7 view instead of 49, put the peak on the named shape more often and lose little
on deletion (which greys single cells, the perturbation single-cell occlusion is scored
by): the whole of :func:`explain` took 0.97 s for ViT-B/32, 7.5 ms for the toy model. The
gradient is 3.6x as fast but less faithful; ``auto`` takes it only when the first batch
shows occlusion would overrun :data:`OCCLUSION_BUDGET_S` (a large model on a CPU).

The grid covers the whole photo as shown, with :data:`GRID` cells along each side of what
the model sees (a ViT-B/32's patches at 224 px); cells the model does not see (outside a
CLIP centre crop) are 0. Values are normalised to 0-1 (1: the cell whose loss costs most);
the peak is the heat-weighted centre of the hottest cell and its neighbours, in full-size
pixels as shown (EXIF orientation applied).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ImageError, PathNotFoundError, UsageError
from core.models.families import image_settings
from core.photos.formats import is_raw
from core.photos.imaging import ModelInput, decode_path, read_info, to_model_pixels
from core.search.calibration import Scale
from core.types import Vector

if TYPE_CHECKING:
    from core.models.embedder import Embedder

Method = Literal["auto", "occlusion", "gradient"]
Pixels = npt.NDArray[np.uint8]
Rect = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in the model's input pixels, right and bottom excluded."""

GRID = 7
"""Cells along the side of the square the model sees: a ViT-B/32's patches at 224 px."""
OCCLUSION_WINDOW = 2
"""Occlusion greys out windows of this many cells a side, sliding one cell at a time: a
cell's heat then averages four overlapping views, which is smoother than one cell alone
and still finds a part smaller than a window."""
BATCH = 16
"""Occluded copies embedded per call: enough to keep the cores busy, little memory."""
OCCLUSION_BUDGET_S = 4.0
"""Past this (estimated from the first batch), ``auto`` takes the gradient instead: a
ViT-L/14 or SigLIP so400m would take most of a minute on a laptop's CPU."""


@dataclass(frozen=True, slots=True)
class Heat:
    """How much each region of a photo adds to its similarity with a text.

    ``grid`` holds ``rows`` x ``cols`` values in 0-1, row-major, top row first, over the
    photo as shown; cell ``(r, c)`` covers ``x`` in ``[c * cell[0], (c + 1) * cell[0])`` and
    ``y`` likewise, in full-size pixels (``size``: the photo's width and height as shown).
    ``peak`` is where the description matched best; ``score`` the calibrated 0-100 score of
    ``similarity`` (None without a calibration)."""

    photo: str
    text: str
    grid: tuple[tuple[float, ...], ...]
    cell: tuple[float, float]
    peak: tuple[int, int]
    similarity: float
    score: float | None
    size: tuple[int, int]
    method: str
    seconds: float

    @property
    def rows(self) -> int:
        return len(self.grid)

    @property
    def cols(self) -> int:
        return len(self.grid[0])

    def to_json(self) -> dict[str, Any]:
        return {"photo": self.photo, "text": self.text,
                "similarity": round(self.similarity, 4), "score": self.score,
                "peak": {"x": self.peak[0], "y": self.peak[1]},
                "grid": [[round(v, 3) for v in row] for row in self.grid],
                "cell": {"width": round(self.cell[0], 2), "height": round(self.cell[1], 2)},
                "size": {"width": self.size[0], "height": self.size[1]},
                "method": self.method}


@dataclass(frozen=True, slots=True)
class ModelView:
    """A photo as the model sees it: ``pixels`` (height x width x 3, before NaFlex packs
    them into patches) show ``box`` (left, top, right, bottom) of the decoded picture."""

    pixels: Pixels
    box: tuple[float, float, float, float]
    spec: ModelInput

    def packed(self, images: Pixels) -> Pixels:
        """A batch of images shaped like :attr:`pixels` as the embedder takes them (NaFlex:
        cut into patches as core.photos.imaging.naflex_pixels does, with no resizing)."""
        if not self.spec.naflex:
            return images
        count, height, width = images.shape[:3]
        p = self.spec.patch
        rows, cols = height // p, width // p
        out = np.zeros((count, self.spec.max_patches + 1, p * p * 3), np.uint8)
        out[:, : rows * cols] = images.reshape(count, rows, p, cols, p, 3).transpose(
            0, 1, 3, 2, 4, 5).reshape(count, rows * cols, p * p * 3)
        out[:, -1, :4] = np.frombuffer(np.array([rows, cols], "<u2").tobytes(), np.uint8)
        return out


# -- the request ---------------------------------------------------------------------------


def check_request(photo: Path | str, text: str) -> tuple[Path, str]:
    """The photo as a readable image file and the text stripped, or a clear UsageError
    (before any model loads)."""
    text = text.strip()
    if not text:
        raise UsageError("explain needs a description (it is empty)")
    path = Path(photo).expanduser()
    if not path.exists():
        raise PathNotFoundError(photo)
    if not path.is_file():
        raise UsageError(f"not a file: {photo}")
    try:
        if not is_raw(path):  # a RAW's header is its whole preview: decoded once, later
            read_info(path)
    except ImageError as error:
        raise UsageError(f"cannot explain {photo}: {error.reason}") from error
    return path.resolve(), text


def check_output(out: Path | str) -> Path:
    """Where a heat image may be written: its folder must exist."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise UsageError(f"{out} is a folder: name the image file to write")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {out}: no such folder: {path.parent}")
    return path


def explain(photo: Path | str, text: str, *, embedder: Callable[[], Embedder],
            scale: Callable[[Vector], Scale] | None = None,
            method: Method = "auto") -> Heat:
    """The heat map of ``text`` over ``photo``; ``embedder`` gives the model (asked for
    once the request is checked), ``scale`` the calibration, given the photo's vector."""
    path, text = check_request(photo, text)
    started = time.perf_counter()
    model = embedder()
    try:
        picture, info = decode_path(path, min_side=model.image_input.size)
    except ImageError as error:
        raise UsageError(f"cannot explain {photo}: {error.reason}") from error
    view = model_view(picture, model.image_input)
    query = model.text_vector(text)
    vector = model.embed_pixels(view.packed(view.pixels[None]))[0]  # as search scores it
    similarity = float(vector @ query)
    rows, cols = grid_shape(picture.size, view.box)
    rects = cell_rects(rows, cols, picture.size, view)
    values, chosen = heat_values(model, view, query, rects, base=similarity, method=method)
    grid = normalised(values)
    cell = (info.width / cols, info.height / rows)
    x, y = peak(grid, cell)
    return Heat(photo=str(path), text=text,
                grid=tuple(tuple(float(v) for v in row) for row in grid), cell=cell,
                peak=(min(x, info.width - 1), min(y, info.height - 1)),
                similarity=similarity,
                score=scale(vector).score_one(similarity) if scale is not None else None,
                size=(info.width, info.height), method=chosen,
                seconds=time.perf_counter() - started)


def heat_values(model: Embedder, view: ModelView, query: Vector,
                rects: list[list[Rect | None]], *, base: float,
                method: Method = "auto") -> tuple[npt.NDArray[np.float64], str]:
    """Each cell's raw contribution by ``method``, and the method that gave it: ``auto`` is
    occlusion, or the gradient when occlusion would take over :data:`OCCLUSION_BUDGET_S`
    (a large model on a CPU) and the gradient applies (not NaFlex)."""
    gradient_applies = not view.spec.naflex
    if method == "gradient" and gradient_applies:
        return gradient_heat(model, view, query, rects), "gradient"
    budget = OCCLUSION_BUDGET_S if method == "auto" and gradient_applies else None
    values = occlusion_heat(model, view, query, rects, base=base, budget_s=budget)
    if values is None:
        return gradient_heat(model, view, query, rects), "gradient"
    return values, "occlusion"


# -- geometry ------------------------------------------------------------------------------


def model_view(picture: Image.Image, spec: ModelInput) -> ModelView:
    """What the model sees of ``picture``: a centre crop's square (CLIP), or all of it
    squashed to a square (SigLIP) or kept in shape (NaFlex)."""
    width, height = picture.size
    pixels = to_model_pixels(picture, spec)
    if spec.naflex:
        p = spec.patch
        rows, cols = (int(v) for v in pixels[-1, :4].copy().view("<u2"))
        patches = pixels[: rows * cols].reshape(rows, cols, p, p, 3)
        pixels = np.ascontiguousarray(patches.transpose(0, 2, 1, 3, 4).reshape(
            rows * p, cols * p, 3))
    if spec.crop:  # the middle square, to within a pixel of the resize's rounding
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return ModelView(pixels, (left, top, left + side, top + side), spec)
    return ModelView(pixels, (0.0, 0.0, float(width), float(height)), spec)


def grid_shape(size: tuple[int, int], box: tuple[float, float, float, float]) -> tuple[int, int]:
    """Rows and columns over the whole picture, with cells of the size that puts
    :data:`GRID` of them along each side of what the model sees."""
    width, height = size
    cell_w, cell_h = (box[2] - box[0]) / GRID, (box[3] - box[1]) / GRID
    return max(1, round(height / cell_h)), max(1, round(width / cell_w))


def cell_rects(rows: int, cols: int, size: tuple[int, int],
               view: ModelView) -> list[list[Rect | None]]:
    """Each grid cell's rectangle in the model's input (None: the model does not see it)."""
    width, height = size
    left, top, right, bottom = view.box
    view_h, view_w = view.pixels.shape[:2]

    def span(start: float, end: float, low: float, high: float, out: int) -> tuple[int, int]:
        a, b = max(start, low), min(end, high)
        scale = out / (high - low)
        return round((a - low) * scale), round((b - low) * scale)

    rects: list[list[Rect | None]] = []
    for r in range(rows):
        y0, y1 = span(r * height / rows, (r + 1) * height / rows, top, bottom, view_h)
        row: list[Rect | None] = []
        for c in range(cols):
            x0, x1 = span(c * width / cols, (c + 1) * width / cols, left, right, view_w)
            row.append((x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None)
        rects.append(row)
    return rects


# -- the methods ---------------------------------------------------------------------------


def occlusion_windows(rects: list[list[Rect | None]],
                      window: int = OCCLUSION_WINDOW) -> list[tuple[Rect, list[tuple[int, int]]]]:
    """The windows to grey out, each with the cells it covers: ``window`` x ``window``
    cells sliding one cell at a time over the cells the model sees, never past their
    edge (fewer passes than single cells: 36 on a 7 x 7 view, not 49)."""
    seen = [(i, j) for i, row in enumerate(rects) for j, rect in enumerate(row) if rect]
    top, bottom = min(i for i, _ in seen), max(i for i, _ in seen) + 1
    left, right = min(j for _, j in seen), max(j for _, j in seen) + 1
    windows = []
    for r in range(top, max(bottom - window, top) + 1):
        for c in range(left, max(right - window, left) + 1):
            cells = [(i, j) for i in range(r, min(r + window, bottom))
                     for j in range(c, min(c + window, right)) if rects[i][j] is not None]
            if cells:
                windows.append((_union([rects[i][j] for i, j in cells]), cells))
    return windows


def occlusion_heat(model: Embedder, view: ModelView, query: Vector,
                   rects: list[list[Rect | None]], *, base: float,
                   window: int = OCCLUSION_WINDOW,
                   budget_s: float | None = None) -> npt.NDArray[np.float64] | None:
    """Each cell's mean similarity drop (from ``base``) over the greyed-out windows that
    cover it; None when the first batch shows the rest would overrun ``budget_s``."""
    windows = occlusion_windows(rects, window)
    grey = mean_colour(model)
    similarities: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(windows), BATCH):
        part = windows[start:start + BATCH]
        batch = np.repeat(view.pixels[None], len(part), axis=0)
        for k, (rect, _) in enumerate(part):
            batch[k, rect[1]:rect[3], rect[0]:rect[2]] = grey
        similarities += (model.embed_pixels(view.packed(batch)) @ query).tolist()
        if start == 0 and budget_s is not None and (time.perf_counter() - started) * len(
                windows) / len(part) > budget_s:
            return None
    total, count = np.zeros((len(rects), len(rects[0]))), np.zeros((len(rects), len(rects[0])))
    for (_, cells), similarity in zip(windows, similarities, strict=True):
        for i, j in cells:
            total[i, j] += base - similarity
            count[i, j] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def gradient_heat(model: Embedder, view: ModelView, query: Vector,
                  rects: list[list[Rect | None]]) -> npt.NDArray[np.float64]:
    """Gradient x input summed over each cell's pixels, in fp32 (fixed-size inputs only):
    ``values`` are normalised pixels, so the model's mean colour is their zero."""
    import torch
    import torch.nn.functional as F

    from core.models.outputs import features

    normalisation = image_settings(model.processor)[1]
    mean = torch.tensor(normalisation.mean).view(1, 3, 1, 1)
    std = torch.tensor(normalisation.std).view(1, 3, 1, 1)
    pixels = torch.from_numpy(np.ascontiguousarray(view.pixels)).permute(2, 0, 1)[None]
    values = ((pixels.float() / 255.0 - mean) / std).to(model.device)
    values.requires_grad_(True)
    weights = next(model.model.parameters())
    with torch.enable_grad():
        output = features(model.model.get_image_features(
            pixel_values=values.to(weights.dtype)))
        vector = F.normalize(output.float(), dim=-1)[0]
        similarity = vector @ torch.from_numpy(query).to(vector.device)
        (grad,) = torch.autograd.grad(similarity, values)
    relevance = (grad * values).sum(dim=1)[0].detach().cpu().numpy().astype(np.float64)
    heat = np.zeros((len(rects), len(rects[0])))
    for i, row in enumerate(rects):
        for j, rect in enumerate(row):
            if rect is not None:
                heat[i, j] = relevance[rect[1]:rect[3], rect[0]:rect[2]].sum()
    return heat


def mean_colour(model: Embedder) -> Pixels:
    """The model's mean pixel as uint8: what normalising turns into zeros."""
    mean = image_settings(model.processor)[1].mean
    return np.array([round(v * 255) for v in mean], dtype=np.uint8)


def _union(rects: Sequence[Rect | None]) -> Rect:
    real = [r for r in rects if r is not None]
    return (min(r[0] for r in real), min(r[1] for r in real),
            max(r[2] for r in real), max(r[3] for r in real))


# -- reading the grid ----------------------------------------------------------------------


def normalised(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Only what raised the similarity counts, scaled so the hottest cell is 1."""
    positive = np.clip(values, 0.0, None)
    top = float(positive.max()) if positive.size else 0.0
    return positive / top if top > 0 else positive


def peak(grid: npt.NDArray[np.float64], cell: tuple[float, float]) -> tuple[int, int]:
    """The heat-weighted centre of the hottest cell and its eight neighbours, in pixels
    (the centre of the grid when nothing is hot)."""
    rows, cols = grid.shape
    if not grid.any():
        return int(cols * cell[0] / 2), int(rows * cell[1] / 2)
    r, c = np.unravel_index(int(np.argmax(grid)), grid.shape)
    r0, r1, c0, c1 = max(r - 1, 0), min(r + 2, rows), max(c - 1, 0), min(c + 2, cols)
    near = grid[r0:r1, c0:c1]
    ys, xs = np.mgrid[r0:r1, c0:c1]
    weight = float(near.sum())
    x = (float((near * (xs + 0.5)).sum()) / weight) * cell[0]
    y = (float((near * (ys + 0.5)).sum()) / weight) * cell[1]
    return int(x), int(y)
