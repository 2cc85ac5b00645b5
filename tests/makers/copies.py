"""A library of photo-like pictures, every kind of copy a library collects, and hard negatives,
written as real files with their ground truth (the duplicate finder's tests and the command
line's end-to-end tests share it).

Originals are rendered scenes, not flat shapes: a sky with clouds, a sea with waves or a lake
under hills, textured sand or grass, umbrellas, rocks, boats, a person as the subject, optics
blur and sensor grain. Most are beaches sharing one palette and horizon, so different
originals look alike at low resolution (the case where vector cosine alone fails). Each
original is a camera JPEG (camera EXIF, date taken, earliest file time) under ``camera/``,
and gets every copy of :data:`COPY_KINDS` elsewhere. Hard negatives are other shots: the same
scene with the subject moved by 10-20% of the width (``moved``), a burst frame where a small
object appeared (``burst``), and a different photo with the same palette and layout
(``lookalike``); the moved shot also gets a copy of its own.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageDraw, ImageEnhance, ImageFilter

Floats = npt.NDArray[np.float32]

THEMES = ("beach", "beach", "beach", "lake", "beach", "city", "beach", "lake")
"""Theme of the i-th original (cycled): mostly beaches, so many look alike."""
SIZES = ((720, 480), (640, 480), (480, 720))
START = datetime(2024, 6, 12, 10, 0, 0)
BALL = 0.08
"""The burst frame's ball: 8% of the long side across."""


@dataclass(frozen=True)
class Scene:
    """What a shot shows: the background (theme, seed) and where the subject stands."""

    theme: str
    seed: int
    size: tuple[int, int]
    subject_x: float  # the subject's centre, as a share of the width
    subject_y: float
    ball: float = 0.0  # a burst frame's beach ball: its diameter as a share of the long side


@dataclass
class CopiesTruth:
    """What :func:`make_library` wrote: every file's picture and how it was made."""

    folder: Path
    picture_of: dict[Path, str] = field(default_factory=dict)
    """Every file -> the picture it shows; copies of one picture share it."""
    kind_of: dict[Path, str] = field(default_factory=dict)
    """Every file -> ``original``, a copy kind of :data:`COPY_KINDS`, ``moved``, ..."""
    originals: dict[str, Path] = field(default_factory=dict)
    """Picture -> the camera's file (the one a user keeps)."""
    hard_negatives: list[tuple[Path, Path, str]] = field(default_factory=list)
    """Pairs of files that show different shots (never copies), with the kind of shot."""
    taken_at: dict[Path, datetime | None] = field(default_factory=dict)
    """The date in a file's EXIF (None: it carries none)."""

    @property
    def files(self) -> list[Path]:
        return sorted(self.picture_of)

    def copy_pairs(self) -> set[frozenset[Path]]:
        """Every pair of distinct files that show the same picture."""
        by_picture: dict[str, list[Path]] = {}
        for path, picture in self.picture_of.items():
            by_picture.setdefault(picture, []).append(path)
        return {frozenset(pair) for paths in by_picture.values()
                for pair in combinations(sorted(paths), 2)}

    def similar_pairs(self) -> set[frozenset[Path]]:
        """Originals and their moved or burst shots: taken minutes apart, not copies."""
        return {frozenset((a, b)) for a, b, why in self.hard_negatives if why != "lookalike"}


# --- rendering --------------------------------------------------------------------------


def _noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> Floats:
    """Smooth noise in [0, 1]: a coarse random grid upscaled bicubically."""
    w, h = size
    grid = (rng.random((max(2, round(cells * h / w)), cells)) * 255).astype(np.uint8)
    big = Image.fromarray(grid).resize(size, Image.Resampling.BICUBIC)
    big = big.filter(ImageFilter.GaussianBlur(w / cells / 3))  # no trace of the grid's cells
    return np.asarray(big, np.float32) / 255


def _band(top: Floats, bottom: Floats, ys: Floats) -> Floats:
    return top * (1 - ys[..., None]) + bottom * ys[..., None]


def _background(theme: str, rng: np.random.Generator, size: tuple[int, int]) -> Floats:
    """Sky over water over ground, textured; every beach shares a palette and horizon."""
    w, h = size
    horizon, shore = 0.40 + rng.uniform(-0.02, 0.02), 0.58 + rng.uniform(-0.03, 0.03)
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    coarse, fine = _noise(rng, size, 6), _noise(rng, size, 40)
    palette = {"beach": ((60, 120, 200), (170, 205, 235), (30, 95, 150), (215, 190, 140)),
               "lake": ((90, 130, 190), (200, 210, 225), (40, 70, 80), (70, 120, 50)),
               "city": ((120, 150, 190), (220, 220, 215), (90, 90, 95), (120, 115, 110))}
    sky_top, sky_low, water, ground = (np.array(c, np.float32) + rng.uniform(-12, 12, 3)
                                       for c in palette[theme])
    img = _band(sky_top, sky_low, np.clip(ys / horizon, 0, 1))
    clouds = np.clip((coarse * 0.7 + fine * 0.3 - 0.5) * 3, 0, 1)[..., None]
    img = img * (1 - clouds) + 240 * clouds
    waves = np.sin(ys * h * rng.uniform(0.25, 0.4) + fine * 8)[..., None]
    sea = water * (0.85 + 0.3 * coarse[..., None]) + 14 * waves
    img = np.where((ys >= horizon)[..., None], sea, img)
    land = ground * (0.8 + 0.3 * coarse[..., None]) + 40 * (fine[..., None] - 0.5)
    return np.where((ys >= shore)[..., None], land, img).astype(np.float32)


Box = tuple[float, float, float, float]


def _props(draw: ImageDraw.ImageDraw, rng: np.random.Generator, theme: str,
           size: tuple[int, int]) -> list[Box]:
    """Umbrellas, rocks, a boat (or hills and blocks): the background's own objects; returns
    the boxes of those on the ground."""
    w, h = size
    boxes = []
    for _ in range(int(rng.integers(2, 5))):
        x, y = rng.uniform(0.05, 0.95) * w, rng.uniform(0.62, 0.95) * h
        r = rng.uniform(0.04, 0.09) * w
        colour = tuple(int(c) for c in rng.integers(30, 240, 3))
        if theme == "beach" and rng.random() < 0.6:  # an umbrella: canopy and pole
            draw.line((x, y - r, x, y + r * 0.8), fill=(80, 70, 60), width=max(1, w // 200))
            draw.pieslice((x - r, y - 1.8 * r, x + r, y), 180, 360, fill=colour)
            boxes.append((x - r, y - 1.8 * r, x + r, y + r * 0.8))
        else:  # a rock or a bush
            draw.ellipse((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=colour)
            boxes.append((x - r, y - r * 0.6, x + r, y + r * 0.6))
    top = rng.uniform(0.30, 0.38) * h
    if theme == "beach":  # a boat on the horizon
        x = rng.uniform(0.1, 0.9) * w
        draw.polygon([(x - 30, top + 12), (x + 30, top + 12), (x + 20, top + 24),
                      (x - 20, top + 24)], fill=(240, 240, 235))
    else:  # hills or a skyline
        for _ in range(5):
            x, r = rng.uniform(0, w), rng.uniform(0.08, 0.2) * w
            shade = tuple(int(c) for c in rng.integers(40, 120, 3))
            if theme == "city":
                draw.rectangle((x - r / 3, top - r, x + r / 3, top + 0.1 * h), fill=shade)
            else:
                draw.ellipse((x - r, top - r / 2, x + r, top + r / 2), fill=shade)
    return boxes


def _open_spot(rng: np.random.Generator, scene: Scene, taken: list[Box],
               r: float) -> tuple[float, float]:
    """A place on the ground for a ball of radius ``r`` that covers nothing already there."""
    w, h = scene.size
    subject = (scene.subject_x * w - 0.1 * w, 0, scene.subject_x * w + 0.1 * w, h)
    for _ in range(200):
        x, y = rng.uniform(0.08, 0.92) * w, rng.uniform(0.68, 0.9) * h
        if all(x + r < x0 or x - r > x1 or y + r < y0 or y - r > y1
               for x0, y0, x1, y1 in [*taken, subject]):
            return x, y
    return x, y


def _person(draw: ImageDraw.ImageDraw, scene: Scene, colour: tuple[int, int, int]) -> None:
    """The subject: a person about a third of the picture's height."""
    w, h = scene.size
    x, y, s = scene.subject_x * w, scene.subject_y * h, 0.33 * min(w, h) * 1.2
    draw.rounded_rectangle((x - s * 0.18, y - s * 0.25, x + s * 0.18, y + s * 0.45),
                           radius=s * 0.08, fill=colour)
    draw.ellipse((x - s * 0.11, y - s * 0.5, x + s * 0.11, y - s * 0.27), fill=(225, 180, 150))
    draw.rectangle((x - s * 0.16, y + s * 0.45, x - s * 0.03, y + s * 0.75), fill=(40, 40, 60))
    draw.rectangle((x + s * 0.03, y + s * 0.45, x + s * 0.16, y + s * 0.75), fill=(40, 40, 60))


def render(scene: Scene, *, grain_seed: int) -> Image.Image:
    """The picture a camera takes of ``scene`` (new sensor grain for every shot)."""
    rng = np.random.default_rng(scene.seed)
    img = Image.fromarray(np.clip(_background(scene.theme, rng, scene.size), 0, 255)
                          .astype(np.uint8))
    draw = ImageDraw.Draw(img)
    boxes = _props(draw, rng, scene.theme, scene.size)
    _person(draw, scene, tuple(int(c) for c in rng.integers(40, 230, 3)))  # type: ignore[arg-type]
    if scene.ball:  # on open ground
        r = scene.ball * max(scene.size) / 2
        x, y = _open_spot(rng, scene, boxes, r)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(230, 40, 40))
        draw.pieslice((x - r, y - r, x + r, y + r), 200, 320, fill=(250, 240, 60))
    img = img.filter(ImageFilter.GaussianBlur(0.8))  # optics
    grain = np.random.default_rng(grain_seed).normal(0, 4, (scene.size[1], scene.size[0], 1))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + grain, 0, 255)
                           .astype(np.uint8))


# --- copies -----------------------------------------------------------------------------


def _camera_exif(taken: datetime, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "Canon EOS R6"
    if orientation != 1:
        exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = \
        taken.strftime("%Y:%m:%d %H:%M:%S")
    return exif.tobytes()


def _jpeg(image: Image.Image, quality: int, exif: bytes = b"") -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _resized(image: Image.Image, share: float) -> Image.Image:
    size = (max(1, round(image.width * share)), max(1, round(image.height * share)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _cropped(image: Image.Image, sides: tuple[float, float, float, float]) -> Image.Image:
    left, top, right, bottom = sides
    w, h = image.size
    return image.crop((round(left * w), round(top * h), w - round(right * w),
                       h - round(bottom * h)))


def _curve(image: Image.Image, fn: Callable[[Floats], Floats]) -> Image.Image:
    values = np.asarray(image, np.float32) / 255
    return Image.fromarray(np.clip(fn(values) * 255 + 0.5, 0, 255).astype(np.uint8))


def _white_balance(image: Image.Image) -> Image.Image:
    return _curve(image, lambda v: v * np.array([1.10, 1.0, 0.86], np.float32))


Maker = Callable[[Image.Image, bytes, bytes, np.random.Generator], bytes]
"""(decoded original, its file's bytes, its camera EXIF, rng) -> the copy's file bytes."""

COPY_KINDS: dict[str, tuple[str, Maker]] = {
    # kind: (path below the library folder, with {n} for the picture's number; how)
    "identical": ("backup/IMG_{n}.jpg", lambda im, raw, exif, rng: raw),
    "identical-renamed": ("camera/IMG_{n} (1).jpg", lambda im, raw, exif, rng: raw),
    "jpeg-q95": ("exports/IMG_{n}.jpg", lambda im, raw, exif, rng: _jpeg(im, 95)),
    "jpeg-q60": ("exports/web/IMG_{n}.jpg", lambda im, raw, exif, rng: _jpeg(im, 60)),
    "jpeg-q40": ("old phone/IMG_{n}.jpg", lambda im, raw, exif, rng: _jpeg(im, 40)),
    "png": ("converted/IMG_{n}.png", lambda im, raw, exif, rng: _encoded(im, "PNG")),
    "webp": ("converted/IMG_{n}.webp",
             lambda im, raw, exif, rng: _encoded(im, "WEBP", quality=80)),
    "resized-1/2": ("exports/IMG_{n}_half.jpg",
                    lambda im, raw, exif, rng: _jpeg(_resized(im, 1 / 2), 90)),
    "resized-1/4": ("exports/IMG_{n}_small.jpg",
                    lambda im, raw, exif, rng: _jpeg(_resized(im, 1 / 4), 90)),
    "resized-1/8": ("thumbnails/IMG_{n}.jpg",
                    lambda im, raw, exif, rng: _jpeg(_resized(im, 1 / 8), 90)),
    "messenger": ("whatsapp/IMG-20240612-WA{n}.jpg",
                  lambda im, raw, exif, rng: _jpeg(_resized(im, 0.3), 70)),
    "crop": ("edits/IMG_{n}_crop.jpg",  # up to 9% off each side, unevenly
             lambda im, raw, exif, rng: _jpeg(_cropped(im, tuple(rng.uniform(0, 0.09, 4))), 90)),
    "crop-resized": ("exports/web/IMG_{n}_crop.jpg",
                     lambda im, raw, exif, rng: _jpeg(_resized(_cropped(
                         im, tuple(rng.uniform(0.02, 0.08, 4))), 0.5), 75)),
    "brighter": ("edits/IMG_{n}-edited.jpg",  # an editor keeps the camera's EXIF
                 lambda im, raw, exif, rng: _jpeg(ImageEnhance.Brightness(im).enhance(1.25),
                                                  92, exif)),
    "darker": ("edits/IMG_{n} darker.jpg",
               lambda im, raw, exif, rng: _jpeg(ImageEnhance.Brightness(im).enhance(0.75), 90)),
    "contrast": ("edits/IMG_{n} contrast.jpg",
                 lambda im, raw, exif, rng: _jpeg(ImageEnhance.Contrast(im).enhance(1.35), 90)),
    "gamma": ("edits/IMG_{n} gamma.jpg",
              lambda im, raw, exif, rng: _jpeg(_curve(im, lambda v: v ** 0.7), 90)),
    "white-balance": ("edits/IMG_{n} warm.jpg",
                      lambda im, raw, exif, rng: _jpeg(_white_balance(im), 90)),
    "saturation": ("edits/IMG_{n} vivid.jpg",
                   lambda im, raw, exif, rng: _jpeg(ImageEnhance.Color(im).enhance(1.4), 90)),
    "exif-rotated": ("rotated/IMG_{n}.jpg",  # turned pixels; Orientation 6 turns them back
                     lambda im, raw, exif, rng: _jpeg(im.transpose(Image.Transpose.ROTATE_90), 92,
                                                      _rotated_exif(exif))),
}


def _rotated_exif(exif: bytes) -> bytes:
    tags = Image.Exif()
    tags.load(exif)
    tags[ExifTags.Base.Orientation] = 6  # "rotate 90 degrees clockwise to display"
    return tags.tobytes()


# --- the library ------------------------------------------------------------------------


def _write(path: Path, data: bytes, when: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))
    return path


class _Writer:
    """Writes shots and copies and records them in the truth."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.truth = CopiesTruth(folder)
        self.rng = np.random.default_rng(seed)
        self.grain = seed * 1000

    def shot(self, scene: Scene, picture: str, kind: str, name: str,
             taken: datetime) -> tuple[Path, Image.Image, bytes, bytes]:
        """A camera file: rendered, q92, camera EXIF, its file time the moment it was taken."""
        self.grain += 1
        image = render(scene, grain_seed=self.grain)
        exif = _camera_exif(taken)
        raw = _jpeg(image, 92, exif)
        path = _write(self.truth.folder / "camera" / name, raw, taken)
        self._record(path, picture, kind, taken)
        self.truth.originals[picture] = path
        return path, Image.open(io.BytesIO(raw)).convert("RGB"), raw, exif

    def copy(self, kind: str, original: tuple[Path, Image.Image, bytes, bytes],
             picture: str, number: str, when: datetime) -> Path:
        """A copy made later (a day later per kind, so the original is always the earliest)."""
        template, make = COPY_KINDS[kind]
        _, image, raw, exif = original
        path = _write(self.truth.folder / template.format(n=number),
                      make(image, raw, exif, self.rng), when)
        keeps_exif = kind.startswith("identical") or kind in ("brighter", "exif-rotated")
        self._record(path, picture, kind, self.truth.taken_at[original[0]] if keeps_exif
                     else None)
        return path

    def _record(self, path: Path, picture: str, kind: str, taken: datetime | None) -> None:
        self.truth.picture_of[path] = picture
        self.truth.kind_of[path] = kind
        self.truth.taken_at[path] = taken


def _scene(index: int, seed: int) -> Scene:
    rng = np.random.default_rng((seed, index))
    return Scene(THEMES[index % len(THEMES)], seed * 1000 + index, SIZES[index % len(SIZES)],
                 subject_x=float(rng.uniform(0.3, 0.7)), subject_y=float(rng.uniform(0.55, 0.65)))


def make_library(folder: Path, *, originals: int = 8, seed: int = 0) -> CopiesTruth:
    """Write ``originals`` camera photos, every copy of :data:`COPY_KINDS` of each, and the
    hard negatives, under ``folder``; return the ground truth.

    Originals are taken a day apart; the moved and burst shots of an original seconds after
    it (similar shots), its lookalike on another day. Copies' file times are later than their
    original's. About 25 files an original (~40 ms each to write).
    """
    writer = _Writer(folder, seed)
    for i in range(originals):
        scene, number, taken = _scene(i, seed), f"{1000 + i:04d}", START + timedelta(days=i)
        picture = f"p{i}"
        original = writer.shot(scene, picture, "original", f"IMG_{number}.jpg", taken)
        for j, kind in enumerate(COPY_KINDS):
            writer.copy(kind, original, picture, number, taken + timedelta(days=30 + j))
        _negatives(writer, scene, original[0], picture, number, taken)
    return writer.truth


def _negatives(writer: _Writer, scene: Scene, original: Path, picture: str, number: str,
               taken: datetime) -> None:
    """The moved, burst and lookalike shots of one original (and a copy of the moved one)."""
    rng = np.random.default_rng(scene.seed)
    shift = float(rng.uniform(0.10, 0.20)) * (1 if scene.subject_x < 0.5 else -1)
    shots = {
        "moved": (replace(scene, subject_x=scene.subject_x + shift), taken + timedelta(seconds=40)),
        "burst": (replace(scene, ball=BALL), taken + timedelta(seconds=1)),
        "lookalike": (replace(scene, seed=scene.seed + 500_000), taken + timedelta(days=200)),
    }
    for offset, (kind, (shot_scene, when)) in enumerate(shots.items(), start=1):
        name = f"IMG_{number}_{offset}.jpg"
        shot = writer.shot(shot_scene, f"{picture}-{kind}", kind, name, when)
        writer.truth.hard_negatives.append((original, shot[0], kind))
        if kind == "moved":
            writer.copy("jpeg-q60", shot, f"{picture}-{kind}", f"{number}_{offset}",
                        when + timedelta(days=30))


def clip_like_vectors(truth: CopiesTruth, *, dim: int = 64, seed: int = 0
                      ) -> dict[Path, npt.NDArray[np.float32]]:
    """Unit vectors that behave as a CLIP model's do on this library (no real weights exist
    offline): copies sit at cosine 0.97-0.99 from their picture (crops 0.93), the moved,
    burst and lookalike shots at 0.95, 0.97 and 0.9 from their original, other pictures of
    the same theme about 0.6 away and other themes lower. Cosine alone cannot tell a copy
    from a burst frame here: only the prints can."""
    rng = np.random.default_rng(seed)
    themes = {name: _unit(rng.standard_normal(dim)) for name in sorted(set(THEMES))}
    centres: dict[str, npt.NDArray[np.float32]] = {}
    shots = {"moved": 0.95, "burst": 0.97, "lookalike": 0.9}
    for picture in sorted(set(truth.picture_of.values()), key=lambda p: (len(p), p)):
        base, _, shot = picture.partition("-")
        if shot:
            centres[picture] = _towards(centres[base], shots[shot], rng)
        else:
            theme = themes[THEMES[int(base[1:]) % len(THEMES)]]
            centres[picture] = _unit(theme + 0.8 * _unit(rng.standard_normal(dim)))
    out = {}
    for path in truth.files:
        kind = truth.kind_of[path]
        near = 0.995 if kind in ("original", *shots) else 0.93 if kind.startswith("crop") \
            else 0.97
        out[path] = _towards(centres[truth.picture_of[path]], near, rng)
    return out


def _unit(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _towards(centre: npt.NDArray[np.float32], cosine: float,
             rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A unit vector at ``cosine`` from ``centre``."""
    side = rng.standard_normal(centre.shape).astype(np.float32)
    side = _unit(side - (side @ centre) * centre)
    return _unit(cosine * centre + math.sqrt(1 - cosine**2) * side)
