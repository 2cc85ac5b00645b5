"""A generated world of captioned photos for tests.

Tests need photos whose content is known, so search results can be checked against what a
user would expect ("a red circle" finds the red circles), without shipping or downloading
real pictures. Every photo is a coloured shape on a textured, noisy background; the
rendering is deterministic given a seed, and the default size is not square so that the
resize and crop paths of the image pipeline get exercised.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 200, 40),
    "blue": (30, 60, 230),
    "yellow": (245, 225, 30),
    "purple": (150, 40, 190),
    "orange": (250, 135, 20),
}
# background name -> the phrase a caption uses for it
BACKGROUNDS: dict[str, str] = {
    "grass": "on grass",
    "sky": "in the sky",
    "sand": "on sand",
    "night": "at night",
}
DEFAULT_SIZE = (96, 72)
MAX_ROTATION = math.radians(20)  # a tilt, as in a hand-held photo
RADIUS = (0.28, 0.36)  # shape size, as a fraction of the shorter side
# How far from the centre a shape may sit, as a share of the room left. Kept small: with the
# full room, the tiny patch-based test model needed several times longer to learn shapes.
JITTER = 0.3
_SUPERSAMPLE = 4  # shapes are drawn large and shrunk, for anti-aliased edges
_FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


@dataclass(frozen=True)
class Scene:
    """What a toy photo shows: one coloured shape on one background."""

    shape: str
    colour: str
    background: str

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}")

    @property
    def caption(self) -> str:
        """A plain description, e.g. ``"a red circle on grass"``."""
        return f"a {self.colour} {self.shape} {BACKGROUNDS[self.background]}"

    @property
    def slug(self) -> str:
        """A file-name friendly label, e.g. ``"red-circle-grass"``."""
        return f"{self.colour}-{self.shape}-{self.background}"


def all_scenes() -> list[Scene]:
    """Every shape x colour x background combination, in a fixed order."""
    return [
        Scene(shape, colour, background)
        for colour, shape, background in itertools.product(COLOURS, SHAPES, BACKGROUNDS)
    ]


def random_scenes(n: int, *, seed: int) -> list[Scene]:
    """``n`` scenes drawn uniformly (with repeats) from all combinations."""
    rng = np.random.default_rng(seed)
    pool = all_scenes()
    return [pool[i] for i in rng.integers(0, len(pool), size=n)]


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid upscaled smoothly."""
    w, h = size
    gw, gh = max(2, cells), max(2, round(cells * h / w))
    grid = (rng.random((gh, gw)) * 255).astype(np.uint8)
    big = Image.fromarray(grid, mode="L").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def _background(name: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """An HxWx3 float image of a textured background."""
    w, h = size
    coarse = _smooth_noise(rng, size, 5)[..., None]
    fine = _smooth_noise(rng, size, 24)[..., None]
    grain = rng.standard_normal((h, w, 1), dtype=np.float32)
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    if name == "grass":
        base = np.array([60, 130, 45], np.float32) + rng.uniform(-15, 15, 3)
        img = base * (0.7 + 0.5 * coarse) + 40 * (fine - 0.5) + 12 * grain
        blades = rng.random((h, w, 1)) < 0.08
        img = np.where(blades, img * 0.6, img)
    elif name == "sky":
        top = np.array([70, 130, 215], np.float32) + rng.uniform(-15, 15, 3)
        bottom = np.array([165, 205, 245], np.float32)
        img = top * (1 - ys) + bottom * ys
        clouds = np.clip((coarse * 0.6 + fine * 0.4 - 0.55) * 4.0, 0.0, 1.0)
        img = img * (1 - clouds) + 245 * clouds + 4 * grain
    elif name == "sand":
        base = np.array([215, 190, 140], np.float32) + rng.uniform(-15, 15, 3)
        ripples = np.sin(ys[..., 0] * rng.uniform(20, 40) + coarse[..., 0] * 6)[..., None]
        img = base * (0.85 + 0.2 * coarse) + 10 * ripples + 18 * grain
    elif name == "night":
        base = np.array([15, 20, 50], np.float32) + rng.uniform(-8, 8, 3)
        img = base * (0.6 + 0.8 * coarse) + 5 * grain
        stars = rng.random((h, w, 1)) < 0.01
        img = np.where(stars, 230.0, img)
    else:  # pragma: no cover - Scene validates names
        raise ValueError(name)
    return np.broadcast_to(img, (h, w, 3)).astype(np.float32)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a polygonal shape with circumradius ``r``, rotated by ``angle``."""
    if shape == "square":
        pts = [(r * math.cos(a), r * math.sin(a)) for a in np.arange(4) * math.pi / 2 + math.pi / 4]
    elif shape == "triangle":
        pts = [(r * math.cos(a), r * math.sin(a)) for a in np.arange(3) * 2 * math.pi / 3]
    elif shape == "star":
        pts = [
            (
                (r if k % 2 == 0 else r * 0.42) * math.cos(k * math.pi / 5),
                (r if k % 2 == 0 else r * 0.42) * math.sin(k * math.pi / 5),
            )
            for k in range(10)
        ]
    elif shape == "cross":
        a, b = r * 0.3, r * 0.95
        pts = [
            (a, b),
            (a, a),
            (b, a),
            (b, -a),
            (a, -a),
            (a, -b),
            (-a, -b),
            (-a, -a),
            (-b, -a),
            (-b, a),
            (-a, a),
            (-a, b),
        ]
    else:  # pragma: no cover - Scene validates names
        raise ValueError(shape)
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in pts]


def _shape_mask(
    shape: str, size: tuple[int, int], centre: tuple[float, float], radius: float, angle: float
) -> np.ndarray:
    """An anti-aliased HxW coverage mask in [0, 1] for the shape."""
    s = _SUPERSAMPLE
    w, h = size
    layer = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(layer)
    cx, cy, r = centre[0] * s, centre[1] * s, radius * s
    if shape == "circle":
        draw.ellipse((cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85), fill=255)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, angle), fill=255)
    small = layer.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)[..., None] / 255.0


def render(scene: Scene, *, seed: int, size: tuple[int, int] = DEFAULT_SIZE) -> Image.Image:
    """Draw ``scene`` as an RGB photo of ``size`` (width, height).

    Position, size, rotation, tint, texture and noise vary with ``seed``. The shape always lies
    inside the central square of the picture, so a CLIP-style centre crop still shows it.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    side = min(w, h)
    img = _background(scene.background, rng, size)
    radius = side * rng.uniform(*RADIUS)
    slack = (side / 2 - radius - 1) * JITTER
    centre = (w / 2 + rng.uniform(-slack, slack), h / 2 + rng.uniform(-slack, slack))
    mask = _shape_mask(scene.shape, size, centre, radius, rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    tint = np.array(COLOURS[scene.colour], np.float32) + rng.uniform(-20, 20, 3)
    shading = 0.85 + 0.3 * _smooth_noise(rng, size, 3)[..., None]
    fill = np.clip(tint * shading, 0, 255)
    # a darker rim, as real objects have edges that stand out from the background
    rim = np.clip(mask * (1 - mask) * 4, 0, 1) * 0.35
    img = img * (1 - mask) + fill * mask
    img = img * (1 - rim)
    img = img + rng.uniform(2, 7) * rng.standard_normal(img.shape, dtype=np.float32)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.6)))
    return out


def near_duplicate(img: Image.Image, *, seed: int) -> Image.Image:
    """A slightly edited copy: small crop, brightness change and a JPEG round trip.

    This is what a user's library holds when the same photo was saved twice, so querying by
    one copy should find the other first.
    """
    rng = np.random.default_rng(seed)
    w, h = img.size
    left, top = (round(v * rng.uniform(0, 0.04)) for v in (w, h))
    right, bottom = (round(v * (1 - rng.uniform(0, 0.04))) for v in (w, h))
    out = (
        img.convert("RGB").crop((left, top, right, bottom)).resize((w, h), Image.Resampling.BICUBIC)
    )
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.9, 1.1))
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=int(rng.integers(70, 92)))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


def image_seed(seed: int, index: int) -> int:
    """The render seed of photo ``index`` in a set generated with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def render_many(
    scenes: Sequence[Scene], *, seed: int, size: tuple[int, int] = DEFAULT_SIZE
) -> list[Image.Image]:
    """Render each scene with its own seed derived from ``seed`` and its position."""
    return [render(s, seed=image_seed(seed, i), size=size) for i, s in enumerate(scenes)]


def write_photos(
    folder: Path,
    scenes: Iterable[Scene],
    *,
    seed: int,
    fmt: str = "JPEG",
    size: tuple[int, int] = DEFAULT_SIZE,
    prefix: str = "",
) -> list[Path]:
    """Render ``scenes`` into ``folder`` as ``0000-red-circle-grass.jpg`` and so on (after
    ``prefix``, so several calls can share a folder).

    Returns the written paths in the order of ``scenes``; the same seed writes the same files.
    """
    fmt = fmt.upper()
    suffix = _FORMAT_SUFFIX.get(fmt, "." + fmt.lower())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, scene in enumerate(scenes):
        path = folder / f"{prefix}{i:04d}-{scene.slug}{suffix}"
        image = render(scene, seed=image_seed(seed, i), size=size)
        options = {"quality": 90} if fmt in {"JPEG", "WEBP"} else {}
        image.save(path, format=fmt, **options)
        paths.append(path)
    return paths
