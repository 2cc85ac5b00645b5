"""A heat map drawn over its photo, for ``explain --out`` and the window's overlay: the
photo as shown (full size, EXIF orientation applied), half of it the heat's colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ImageError, UsageError, disk_full
from core.photos.imaging import decode_path
from core.photos.rgb import to_rgb
from core.search.explain import Heat

OPACITY = 0.5
"""How much of each pixel is the heat's colour."""
_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
"""A dark-to-bright colour map (black, purple, red, orange, pale yellow, as 'inferno'): its
brightness rises with the heat, so it reads in grey too."""
_COLOURS = np.array([(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)],
                    dtype=np.float32)


def colours(values: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Heat values (0-1) as RGB, channel last."""
    channels = [np.interp(values, _STOPS, _COLOURS[:, k]) for k in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def overlay(picture: Image.Image, heat: Heat) -> Image.Image:
    """``picture`` (the photo as shown, any scale) with the heat blended over it: the grid
    is stretched smoothly over the whole picture, as its cells cover the whole photo."""
    rgb = to_rgb(picture)
    grid = Image.fromarray(np.asarray(heat.grid, dtype=np.float32), mode="F")
    smooth = np.asarray(grid.resize(rgb.size, Image.Resampling.BILINEAR), dtype=np.float32)
    tint = Image.fromarray(colours(np.clip(smooth, 0.0, 1.0)), mode="RGB")
    return Image.blend(rgb, tint, OPACITY)


def write_overlay(heat: Heat, out: Path) -> None:
    """Draw ``heat`` over its photo at the photo's full size as shown, into ``out`` (PNG)."""
    try:
        picture, _ = decode_path(heat.photo)
    except ImageError as error:
        raise UsageError(f"cannot read {heat.photo}: {error.reason}") from error
    image = overlay(picture, heat)
    if image.size != heat.size:  # a RAW's preview may be smaller than its sensor's size
        image = image.resize(heat.size, Image.Resampling.BILINEAR)
    try:
        image.save(out, format="PNG")
    except OSError as error:
        if disk_full(error):
            raise  # the fronts tell a full disk as such
        raise UsageError(f"cannot write {out}: {error.strerror or error}") from error
