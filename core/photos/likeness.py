"""Picture prints: whether two photos show the same picture (copies), measured in pixels.

Vector cosine says two photos look alike; it cannot tell a re-saved copy from the next frame
of a burst or another photo of the same beach. A print keeps, per photo, what a pixel test
needs (``PRINT_BYTES``, 1,036 bytes): the luminance of the whole frame averaged into a
``GRID`` x ``GRID`` map (stretched to 0-255 so that dark photos keep their detail), the
frame's aspect ratio and a sharpness figure.

:func:`compare` first aligns the two frames (a copy may be cropped up to about a tenth a side,
unevenly, and resized): the aspect ratios tie the width and height scales together, the
maps' column and row profiles give a start, and Gauss-Newton refines the crop to a fraction
of a cell. It then puts each map on the other's scale by rank (brightness, contrast, gamma
and most colour corrections keep the order of luminances), compares every cell with what
the other's map takes within half a cell of it (a little misalignment costs nothing) and
takes the worst ``BLOCK`` x ``BLOCK`` block of that difference: a moved subject or a thing
that appeared is a local change, which a mean over the frame would hide.

What it sees, measured on tests/makers/copies.py (80 photo-like originals) and bench/duplicates.py
(300 more): every copy of JPEG quality 95-40, PNG, WebP, resized to 1/8, cropped up to 9% a
side, brightened, darkened, contrast, gamma, white balance, saturation and a stored turn is
the same picture (worst block 0.083 at most, 99% under 0.041); the same scene with the
subject moved by 10-20% of the width, a burst frame where a ball 8% of the long side
appeared, and another photo of the same beach are not (0.094 and up, 99% over 0.127). The
limit is the map's resolution: a ball of 6% of the long side is seen 8 times in 10, 5% a
quarter of the time, 4% not at all, and a change of colour with no change of brightness not
at all (two camera shots are still told apart by their dates: core.search.duplicates).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

Floats = npt.NDArray[np.floating[Any]]

GRID = 32
"""Cells a side of the luminance map (1,024 bytes). 40 or 44 cells saw small changes no
better: the copies' own differences (a 1/8 copy has 2 pixels a cell) grew as much."""
_HEADER = struct.Struct("<2sBBff")  # magic, version, grid, aspect (w/h), sharpness
_MAGIC, _VERSION = b"pp", 1
PRINT_BYTES = _HEADER.size + GRID * GRID
SHARPNESS_SIDE = 128
"""Sharpness is measured with the short side at this many pixels, so that copies of any
size compare on the same scale (a tiny copy is upscaled to it and loses)."""

MAX_CROP = 0.22
"""The most a copy's frame may differ in width or height from the other's (a tenth off
each side, plus rounding)."""
MIN_OVERLAP = 0.60
"""Below this share of either frame in common, two prints are not one picture (a copy
cropped by a tenth on every side keeps 0.64 of the frame)."""
BLOCK = 2
"""Cells a side of the local block whose mean difference is the worst-case measure (3 hid
more of a small change than it quietened the copies)."""
QUICK_REJECT = 0.3
"""Two prints roughly aligned (from their profiles) whose z-scores still differ by this much
on average differ everywhere: not copies, without aligning them finely. Copies measured
0.13 at most, other photos of the same scene from 0.33 (the moved and burst shots are close
and go on to the fine test)."""
WORST_MAX = 0.088
"""Copies' worst block differs by at most this, in the luminance map's units (0-1) once the
second map is put on the first's scale (see :func:`_measure`). Measured: 1,980 copies
against their original reach 0.083 (99% under 0.041); the 540 other shots of the same
scenes start at 0.094 (99% over 0.127). The limit sits between the two."""


@dataclass(frozen=True, slots=True)
class Print:
    """A parsed print: the luminance map (0-1), the aspect ratio and the sharpness."""

    grid: Floats
    aspect: float
    sharpness: float


@dataclass(frozen=True, slots=True)
class Likeness:
    """How two prints compare, at the best alignment found.

    ``worst``: the largest mean difference over any ``BLOCK`` x ``BLOCK`` block of cells,
    in luminance (the second print put on the first's scale); ``overlap``: the smaller
    share of either frame that the other shows; ``scale``,
    ``offset``: where the second frame lies in the first (its width as a share of the
    first's, and its top-left corner in shares of the first's sides).
    """

    worst: float
    overlap: float
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)

    @property
    def distance(self) -> float:
        """1 or less: copies (the worst block over its limit)."""
        if self.overlap < MIN_OVERLAP:
            return 10.0
        return self.worst / WORST_MAX

    @property
    def same(self) -> bool:
        return self.distance <= 1.0


_APART = Likeness(1.0, 0.0)
"""Frames whose shapes differ too much to be crops of one another."""


# --- making a print ---------------------------------------------------------------------


def picture_print(image: Image.Image) -> bytes:
    """The print of an upright RGB image of any size (``PRINT_BYTES`` bytes)."""
    gray = _luminance(image)
    grid = np.asarray(gray.resize((GRID, GRID), Image.Resampling.BOX), np.float32)
    low, high = float(grid.min()), float(grid.max())
    stretched = (grid - low) * (255.0 / max(high - low, 1e-3))
    cells = np.clip(np.rint(stretched), 0, 255).astype(np.uint8)
    header = _HEADER.pack(_MAGIC, _VERSION, GRID, image.width / image.height, _sharpness(gray))
    return header + bytes(cells.tobytes())


def _luminance(image: Image.Image) -> Image.Image:
    """Rec. 601 luma as a float image (no rounding before the averaging)."""
    rgb = np.asarray(image.convert("RGB"), np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return Image.fromarray(luma, mode="F")


def _sharpness(gray: Image.Image) -> float:
    """Mean absolute Laplacian over the standard deviation, with the short side at
    ``SHARPNESS_SIDE``: detail per contrast, the same for a brightened copy."""
    scale = SHARPNESS_SIDE / min(gray.size)
    size = (max(3, round(gray.width * scale)), max(3, round(gray.height * scale)))
    filt = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    v = np.asarray(gray.resize(size, filt), np.float32)
    lap = 4 * v[1:-1, 1:-1] - v[:-2, 1:-1] - v[2:, 1:-1] - v[1:-1, :-2] - v[1:-1, 2:]
    return float(np.abs(lap).mean() / max(float(v.std()), 1.0))


def parse(data: bytes) -> Print:
    """A print's parts; ValueError for bytes that are no print of this version."""
    if len(data) != PRINT_BYTES:
        raise ValueError(f"a print has {PRINT_BYTES} bytes, not {len(data)}")
    magic, version, grid, aspect, sharpness = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != _VERSION or grid != GRID or not aspect > 0:
        raise ValueError("not a picture print of this version")
    cells = np.frombuffer(data, np.uint8, offset=_HEADER.size).reshape(GRID, GRID)
    return Print(cells.astype(np.float32) / 255.0, float(aspect), float(sharpness))


def sharpness_of(data: bytes) -> float:
    """The print's sharpness (higher is sharper; about 0.1-2 for photos)."""
    return parse(data).sharpness


_IJG_LUMINANCE = np.array([  # the JPEG standard's luminance table (Annex K), row by row
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def jpeg_quality(quantization: Mapping[int, Sequence[int]] | None) -> int | None:
    """The quality (1-100) a JPEG was saved at, from its luminance quantization table
    (Pillow's ``image.quantization``, read from the header alone): the libjpeg quality
    whose scaled standard table is nearest. None when the file says nothing (not a JPEG)."""
    if not quantization or len(quantization.get(0, ())) != 64:
        return None
    table = np.asarray(quantization[0], np.float64)
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 / qualities, 200 - 2 * qualities)
    tables = np.clip(np.floor((_IJG_LUMINANCE[None, :] * scales[:, None] + 50) / 100), 1, 255)
    return int(qualities[np.abs(tables - table[None, :]).sum(axis=1).argmin()])


# --- comparing prints -------------------------------------------------------------------


def same_picture(a: bytes | Print, b: bytes | Print) -> bool:
    """Whether two prints show the same picture (a copy: re-saved, resized, converted,
    cropped a little, colour-corrected), not merely the same scene."""
    return compare(a, b).same


def copy_distance(a: bytes | Print, b: bytes | Print) -> float:
    """How far two prints are from being copies: 1 or less, they are (see
    :attr:`Likeness.distance`)."""
    return compare(a, b).distance


def compare(a: bytes | Print, b: bytes | Print) -> Likeness:
    """Align ``b``'s frame with ``a``'s and measure how they differ (symmetric up to the
    alignment's rounding)."""
    pa, pb = (p if isinstance(p, Print) else parse(p) for p in (a, b))
    ratio = pb.aspect / pa.aspect  # = (b's width share of a) / (b's height share of a)
    if not (1 - MAX_CROP) ** 2 <= ratio <= 1 / (1 - MAX_CROP) ** 2:
        return _APART
    flat_a, flat_b = (bool(p.grid.max() == p.grid.min()) for p in (pa, pb))
    if flat_a or flat_b:  # one even tone (a blank frame) is only like another
        return Likeness(0.0 if flat_a and flat_b else 1.0, 1.0)
    whole = None
    if abs(ratio - 1) < 0.01:  # most copies are the whole frame: try that first
        whole = _measure(pa.grid, pb.grid, ratio, (1.0, 0.0, 0.0))
        if whole.same:
            return whole
    found = _search(pa, pb, ratio)
    return found if whole is None or found.distance < whole.distance else whole


def _search(pa: Print, pb: Print, ratio: float) -> Likeness:
    """Find where ``pb``'s frame lies in ``pa``'s (profiles for a start, then Gauss-Newton)
    and measure there, on the grid of the print that shows more."""
    za, zb = _zscore(pa.grid), _zscore(pb.grid)
    starts = np.array(_profile_starts(za, zb, ratio), np.float32)
    za, zb = _smooth(za), _smooth(zb)
    costs = _costs(za, zb, ratio, starts)
    start = starts[int(np.argmin(costs))]
    if float(costs.min()) > QUICK_REJECT:  # different everywhere: no need to align finely
        return Likeness(1.0, float(_overlaps(ratio, start[None])[0]), *_as_place(start))
    scale, ox, oy = _align(za, zb, ratio, start)
    if scale * scale / ratio <= 1:
        return _measure(pa.grid, pb.grid, ratio, (scale, ox, oy))
    found = _measure(pb.grid, pa.grid, 1 / ratio, (1 / scale, -ox / scale, -oy * ratio / scale))
    return replace(found, scale=scale, offset=(ox, oy))


Transform = tuple[float, float, float]
"""(scale, ox, oy): b's cell centre (u, v) lies at a's (ox + scale*u, oy + scale/ratio*v)."""


def _as_place(t: Floats) -> tuple[float, tuple[float, float]]:
    return float(t[0]), (float(t[1]), float(t[2]))

_CENTRES = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
_SCALES = np.exp(np.linspace(math.log(1 - MAX_CROP), -math.log(1 - MAX_CROP), 13))


def _zscore(grid: Floats) -> Floats:
    return np.asarray((grid - grid.mean()) / max(float(grid.std()), 1e-3), np.float32)


def _interp(values: Floats, x: Floats) -> Floats:
    """Linear interpolation of cell values at positions ``x`` (shares of the side)."""
    pos = np.clip(x * GRID - 0.5, 0, GRID - 1.001)
    i = pos.astype(np.int64)
    frac = (pos - i).astype(np.float32)
    return np.asarray(values[i] * (1 - frac) + values[i + 1] * frac, np.float32)


_MARGIN = 0.06
"""How far past the other's edge a frame may reach (both copies cropped differently)."""


def _axis_fit(pa: Floats, pb: Floats, scales: Floats) -> tuple[Floats, Floats]:
    """For each scale (b's share of a along this axis), the offset at which profile ``pb``
    best matches ``pa`` (correlation over the samples inside ``a``), and that correlation."""
    low = np.minimum(0.0, 1 - scales)[:, None] - _MARGIN
    high = np.maximum(0.0, 1 - scales)[:, None] + _MARGIN
    offsets = low + np.arange(32, dtype=np.float32)[None, :] / 64
    x = offsets[:, :, None] + scales[:, None, None] * _CENTRES[None, None, :]
    inside = ((x >= 0) & (x <= 1)).astype(np.float32)
    va = _interp(pa, x)
    n = np.maximum(inside.sum(axis=2), 1)
    da = (va - (va * inside).sum(axis=2, keepdims=True) / n[..., None]) * inside
    db = (pb - (pb * inside).sum(axis=2, keepdims=True) / n[..., None]) * inside
    corr = (da * db).sum(axis=2) / np.sqrt((da * da).sum(axis=2) * (db * db).sum(axis=2) + 1e-6)
    corr = np.where((n >= MIN_OVERLAP * GRID) & (offsets <= high), corr, -2.0)
    best = corr.argmax(axis=1)
    rows = np.arange(len(scales))
    return offsets[rows, best].astype(np.float32), corr[rows, best].astype(np.float32)


def _profile_starts(za: Floats, zb: Floats, ratio: float) -> list[Transform]:
    """Starting alignments from the column and row profiles (means down and across)."""
    scales = _SCALES.astype(np.float32)
    heights = scales / ratio
    keep = (heights >= 1 - MAX_CROP) & (heights <= 1 / (1 - MAX_CROP))
    scales, heights = scales[keep], heights[keep]
    ox, cx = _axis_fit(za.mean(axis=0), zb.mean(axis=0), scales)
    oy, cy = _axis_fit(za.mean(axis=1), zb.mean(axis=1), heights)
    order = np.argsort(-(cx + cy))[:3]
    starts = [(float(scales[i]), float(ox[i]), float(oy[i])) for i in order]
    if abs(ratio - 1) < 0.02:
        starts.append((1.0, 0.0, 0.0))
    return starts


def _weights(pos: Floats) -> Floats:
    """Linear interpolation as matrices: ``(T, GRID, GRID)``, row i holding the weights of
    the cells around position ``pos[t, i]`` (a share of the side)."""
    p = np.clip(pos * GRID - 0.5, 0, GRID - 1.001)
    i = p.astype(np.int64)
    frac = (p - i).astype(np.float32)
    w = np.zeros((*pos.shape, GRID), np.float32)
    t, row = np.indices(pos.shape)
    w[t, row, i] = 1 - frac
    w[t, row, i + 1] = frac
    return w


def _costs(za: Floats, zb: Floats, ratio: float, ts: Floats) -> Floats:
    """For each transform (rows of ``ts``), the mean absolute difference of the z-scored
    overlap (inf where the frames overlap too little)."""
    scale, ox, oy = ts[:, 0:1], ts[:, 1:2], ts[:, 2:3]
    x, y = ox + scale * _CENTRES, oy + scale / ratio * _CENTRES  # (T, GRID) each
    inside = (((y >= 0) & (y <= 1))[:, :, None] & ((x >= 0) & (x <= 1))[:, None, :])
    v = _weights(y) @ za @ _weights(x).transpose(0, 2, 1)
    w = inside.astype(np.float32)
    n = np.maximum(w.sum(axis=(1, 2)), 1)[:, None, None]
    za_ = _masked_z(v, w, n)
    zb_ = _masked_z(np.broadcast_to(zb, v.shape), w, n)
    cost = (np.abs(za_ - zb_) * w).sum(axis=(1, 2)) / n[:, 0, 0]
    return np.where(_overlaps(ratio, ts) >= MIN_OVERLAP, cost, np.inf).astype(np.float32)


def _overlaps(ratio: float, ts: Floats) -> Floats:
    """For each transform, the smaller share of either frame that lies in both."""
    scale, ox, oy = ts[:, 0], ts[:, 1], ts[:, 2]
    height = scale / ratio
    ix = np.maximum(0.0, np.minimum(1.0, ox + scale) - np.maximum(0.0, ox))
    iy = np.maximum(0.0, np.minimum(1.0, oy + height) - np.maximum(0.0, oy))
    return np.asarray(np.minimum(ix * iy, ix * iy / (scale * height)), np.float32)


def _masked_z(v: Floats, w: Floats, n: Floats) -> Floats:
    mean = (v * w).sum(axis=(1, 2), keepdims=True) / n
    d = (v - mean) * w
    std = np.sqrt((d * d).sum(axis=(1, 2), keepdims=True) / n)
    return np.asarray(d / np.maximum(std, 1e-3), np.float32)


def _align(za: Floats, zb: Floats, ratio: float, start: Floats) -> Transform:
    """Gauss-Newton (Lucas-Kanade) from ``start``: the transform, with a gain and a bias of
    ``za``'s values, that fits ``zb`` best in least squares."""
    gy, gx = np.gradient(za)
    stack = np.stack([za, gx * GRID, gy * GRID])  # values and slopes per unit of the side
    s, ox, oy = (float(v) for v in start)
    gain, bias = 1.0, 0.0
    u, v = np.tile(_CENTRES, GRID), np.repeat(_CENTRES, GRID)
    for _ in range(8):
        x, y = ox + s * _CENTRES, oy + s / ratio * _CENTRES
        inside = (((y >= 0) & (y <= 1))[:, None] & ((x >= 0) & (x <= 1))[None, :]).ravel()
        if inside.mean() < MIN_OVERLAP:
            break
        va, vx, vy = (_weights(y[None])[0] @ stack @ _weights(x[None])[0].T).reshape(3, -1)
        jac = np.stack([gain * (vx * u + vy * v / ratio), gain * vx, gain * vy, va,
                        np.ones_like(va)], axis=1)[inside]
        residual = (zb.ravel() - (gain * va + bias))[inside]
        step = np.linalg.solve(jac.T @ jac + 1e-6 * np.eye(5), jac.T @ residual)
        step[:3] = np.clip(step[:3], -0.02, 0.02)
        s, ox, oy = s + float(step[0]), ox + float(step[1]), oy + float(step[2])
        gain, bias = gain + float(step[3]), bias + float(step[4])
        if np.abs(step[:3]).max() < 1e-4:
            break
    return s, ox, oy


def _matched(x: Floats, onto: Floats) -> tuple[Floats, Floats]:
    """``x``'s values put on ``onto``'s scale by rank (histogram matching), as the interval
    their ties span: a brightened copy's clipped highlights are one tie, which any order of
    the original's fits."""
    ordered, target = np.sort(x.ravel()), np.sort(onto.ravel())
    low = np.searchsorted(ordered, x, side="left")
    high = np.searchsorted(ordered, x, side="right") - 1
    return target[low], target[high]


def _area_weights(start: float, span: float) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Averaging matrix from b's cells to a's along one side, b covering ``[start, start +
    span]`` of a: row i holds the share of a's cell i that each of b's cells covers; and
    which of a's cells b covers wholly."""
    edges = (np.arange(GRID + 1, dtype=np.float32) / GRID - start) / span  # in b's units
    low, high = np.clip(edges[:-1], 0, 1), np.clip(edges[1:], 0, 1)
    cells = np.arange(GRID, dtype=np.float32) / GRID
    w = np.clip(np.minimum(high[:, None], cells[None, :] + 1 / GRID)
                - np.maximum(low[:, None], cells[None, :]), 0, None)
    total = w.sum(axis=1, keepdims=True)
    whole = total[:, 0] * GRID * span > 0.99
    return (w / np.maximum(total, 1e-9)).astype(np.float32), whole


def _measure(ga: Floats, gb: Floats, ratio: float, t: Transform) -> Likeness:
    """How b differs from a where ``t`` puts it: b's cells averaged over a's (b shows no more
    than a, so its cells are the finer), both blurred alike, then each put on the other's
    scale by rank (histogram matching: brightness, contrast, gamma and most colour
    corrections keep the order of luminances).

    Each value is compared with what the other takes within half a cell (:func:`_outside`),
    and the worst ``BLOCK`` x ``BLOCK`` mean of that is the measure: a moved subject or a
    thing that appeared is a local change.
    Differences are in luminance, not in ranks: ranks magnify the noise of flat areas and
    turn two areas of nearly equal luminance that an edit swapped (a brightened shirt that
    clipped) into a large change.
    """
    scale, ox, oy = t
    overlap = float(_overlaps(ratio, np.array([t], np.float32))[0])
    wx, cols = _area_weights(ox, scale)
    wy, rows = _area_weights(oy, scale / ratio)
    if overlap < MIN_OVERLAP or not cols.any() or not rows.any():
        return Likeness(1.0, overlap, scale, (ox, oy))
    box = np.ix_(np.flatnonzero(rows), np.flatnonzero(cols))
    a, b = _smooth(ga[box]), _smooth((wy @ gb @ wx.T)[box])
    diff = np.maximum(_outside((a, a), _matched(b, a)), _outside((b, b), _matched(a, b)))
    return Likeness(float(_block_means(diff, BLOCK).max()), overlap, scale, (ox, oy))


def _shifted(x: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """``x`` moved by one cell up, down, left and right (edges repeated)."""
    up = np.concatenate([x[:1], x[:-1]])
    down = np.concatenate([x[1:], x[-1:]])
    left = np.concatenate([x[:, :1], x[:, :-1]], axis=1)
    right = np.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    return up, down, left, right


def _smooth(x: Floats) -> Floats:
    """A [1, 2, 1] / 4 blur both ways: a thin line a cell wide in one print is spread over
    two cells in the other (their cells differ in size), so both are spread alike."""
    up, down, _, _ = _shifted(x)
    rows = (up + 2 * x + down) / 4
    _, _, left, right = _shifted(rows)
    return ((left + 2 * rows + right) / 4).astype(np.float32)


def _outside(x: tuple[Floats, Floats], y: tuple[Floats, Floats]) -> Floats:
    """How far each interval of ``x`` (lows, highs) lies outside what ``y`` takes within half
    a cell (its own interval, and halfway to each of its eight neighbours): a misalignment
    of up to half a cell costs nothing, and a thing beside an edge still shows."""
    return np.maximum(0.0, np.maximum(x[0] - _reach(y[1], np.maximum),
                                      _reach(y[0], np.minimum) - x[1]))


def _reach(y: Floats, pick: Any) -> Floats:
    """The largest (``np.maximum``) or smallest value within half a cell of each cell."""
    up, down, _, _ = _shifted(y)
    best = y
    for row in (up, y, down):
        _, _, left, right = _shifted(row)
        for other in (row, left, right):
            best = pick(best, (y + other) / 2)
    return np.asarray(best, np.float32)


def _block_means(values: Floats, size: int) -> Floats:
    """Means of every ``size`` x ``size`` block (sliding), by a summed-area table."""
    table = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (table[size:, size:] - table[:-size, size:] - table[size:, :-size]
            + table[:-size, :-size])
    return np.asarray(sums / (size * size), np.float32)
