"""Toy photos with two shapes at known places, for the tests of where a description matched
(tests/core/search/test_explain.py, tests/e2e/test_explain_cli.py) and bench/explain_methods.py.

The toy CLIP (tests/support/models.py) saw one shape a photo; here one shape sits in the left
half and one in the right half of the middle square (what a CLIP centre crop keeps), each
about as large as it can be there, drawn with the toy world's own backgrounds and masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support import toyworld

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in pixels, right and bottom excluded."""


@dataclass(frozen=True)
class TwoShapes:
    """A photo and, for each shape's caption ("a red circle"), the box the shape fills."""

    image: Image.Image
    boxes: dict[str, Box]


def two_shapes(left: tuple[str, str], right: tuple[str, str], background: str, *, seed: int,
               size: tuple[int, int] = (96, 96)) -> TwoShapes:
    """``left`` and ``right`` as ``(colour, shape)`` on ``background``: a photo of ``size``
    (width, height) and the shapes' boxes."""
    rng = np.random.default_rng(seed)
    width, height = size
    side = min(size)
    x0, y0 = (width - side) / 2, (height - side) / 2
    img = toyworld._background(background, rng, size)
    boxes = {}
    for k, (colour, shape) in enumerate((left, right)):
        radius = side / 2 * rng.uniform(0.36, 0.42)
        centre = (x0 + side / 4 + k * side / 2 + rng.uniform(-2, 2),
                  y0 + side / 2 + rng.uniform(-side / 6, side / 6))
        mask = toyworld._shape_mask(shape, size, centre, radius, rng.uniform(-0.3, 0.3))
        img = img * (1 - mask) + np.array(toyworld.COLOURS[colour], np.float32) * mask
        ys, xs = np.nonzero(mask[..., 0] > 0.5)
        boxes[f"a {colour} {shape}"] = (int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                        int(ys.max()) + 1)
    img = img + 3 * rng.standard_normal(img.shape, dtype=np.float32)
    return TwoShapes(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), boxes)


def inside(point: tuple[int, int], box: Box) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


def write_turned(photo: TwoShapes, path: Path) -> None:
    """``photo`` as a JPEG whose pixels are stored turned a quarter to the left, with EXIF
    Orientation 6 (turn right to show), as a phone held upright writes it."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.image.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
