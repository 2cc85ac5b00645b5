"""Camera RAW files for tests: DNGs that LibRaw reads, written with tifffile.

No camera's RAW can be downloaded on our machines, so the tests make their own: a Bayer
mosaic (RGGB, 12 bits) of a picture, in a DNG whose colour matrix makes the camera's space
linear sRGB, with an optional RGB preview in IFD0, the raw data in a sub-IFD, EXIF make,
model and date, and an orientation (and no ImageDescription: tifffile's own JSON would
show as the photo's words). LibRaw develops it back to (roughly) the picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

_XYZ_TO_LINEAR_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415,
                       0.0557, -0.2040, 1.0570)
WHITE = 4095


def _rationals(values: tuple[float, ...]) -> list[int]:
    out: list[int] = []
    for value in values:
        out += [round(value * 10_000), 10_000]
    return out


def mosaic(picture: Image.Image) -> np.ndarray:
    """The RGGB sensor values that would develop into ``picture`` (linear, 12 bits)."""
    rgb = (np.asarray(picture.convert("RGB"), np.float32) / 255.0) ** 2.2 * (WHITE - 95)
    height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    cfa = np.empty((height, width), np.uint16)
    cfa[0::2, 0::2] = rgb[0:height:2, 0:width:2, 0]
    cfa[0::2, 1::2] = rgb[0:height:2, 1:width:2, 1]
    cfa[1::2, 0::2] = rgb[1:height:2, 0:width:2, 1]
    cfa[1::2, 1::2] = rgb[1:height:2, 1:width:2, 2]
    return cfa


def write_dng(path: Path, picture: Image.Image, *, preview: int | None = 2,
              orientation: int = 1, taken: str | None = "2021:06:14 18:30:00",
              description: str | None = None) -> Path:
    """``picture`` as a DNG; ``preview``: the embedded preview is the picture shrunk by
    this factor (None: no preview, LibRaw has to develop the mosaic); ``taken=None``: no
    EXIF make, model or date; ``description``: an ImageDescription, as a photographer's
    software writes one."""
    cfa = mosaic(picture)
    exif = [(271, "s", 0, "Pictor", True), (272, "s", 0, "Test Camera", True),
            (306, "s", 0, taken, True)] if taken else []
    camera = [(50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
              (50708, "s", 0, "Pictor Test Camera", True),  # UniqueCameraModel
              *exif, (274, "H", 1, orientation, True),
              (50721, "2i", 9, _rationals(_XYZ_TO_LINEAR_SRGB), True),  # ColorMatrix1
              (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
              (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True)]  # AsShotNeutral: grey is grey
    sensor = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True),  # RGGB
              (50717, "H", 1, WHITE, True)]  # WhiteLevel
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        if preview is None:
            tif.write(cfa, photometric=32803, subfiletype=0, extratags=camera + sensor,
                      metadata=None, description=description)
        else:
            small = picture.convert("RGB").resize((picture.width // preview,
                                                   picture.height // preview))
            tif.write(np.asarray(small), photometric="rgb", subfiletype=1, subifds=1,
                      extratags=camera, metadata=None, description=description)
            tif.write(cfa, photometric=32803, subfiletype=0, extratags=sensor, metadata=None)
    return path
