"""Photos with text in them, drawn with Pillow (no downloads), and photos without any.

:func:`text_photo` writes given lines onto a photo-like background (a gradient with grain)
in one of a few fonts, optionally tilted, turned inside the picture, noisy or passed through
JPEG, and says where the text landed. :func:`save_oriented` stores a photo with an EXIF
Orientation tag, its pixels turned the other way, so that as shown it looks as given.
:func:`plain_photo` gives pictures with no text (gradients, noise, shapes) for the gate.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
    "bold": "DejaVuSans-Bold.ttf",
}
"""The fonts by name; without DejaVu on the system every name falls back to Pillow's own."""
_CJK_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
# Where Pillow's transpose methods put stored pixels for each EXIF orientation, so that
# the viewer's turn (ImageOps.exif_transpose) gives back the picture as drawn.
_T = Image.Transpose
_STORE_AS = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM,
             5: _T.TRANSPOSE, 6: _T.ROTATE_90, 7: _T.TRANSVERSE, 8: _T.ROTATE_270}
_TURNS = {90: _T.ROTATE_270, 180: _T.ROTATE_180, 270: _T.ROTATE_90}
"""Clockwise turns of the text inside the picture, as Pillow's (anticlockwise) transposes."""

Box = tuple[int, int, int, int]
PlainKind = Literal["gradient", "noise", "shapes", "sky", "texture"]
PLAIN_KINDS: tuple[PlainKind, ...] = ("gradient", "noise", "shapes", "sky", "texture")


@dataclass(frozen=True)
class TextPhoto:
    """A drawn photo and the rectangle (left, top, right, bottom) its text covers."""

    image: Image.Image
    text_box: Box


def font(name: str = "sans", size: int = 48) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """One of :data:`FONT_FILES` at ``size`` pixels, or Pillow's built-in font."""
    path = DEJAVU / FONT_FILES[name]
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def cjk_font_path() -> Path | None:
    """A font that draws Chinese characters, when the system has one (tests skip without)."""
    for candidate in _CJK_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def background(size: tuple[int, int], *, seed: int = 0,
               colours: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None,
               grain: float = 6.0) -> Image.Image:
    """A smooth diagonal gradient between two colours, with a little sensor grain."""
    rng = np.random.default_rng(seed)
    top, bottom = colours or (tuple(int(v) for v in rng.integers(150, 256, 3)),
                              tuple(int(v) for v in rng.integers(120, 230, 3)))
    width, height = size
    ramp = (np.linspace(0, 0.7, height, dtype=np.float32)[:, None, None]
            + np.linspace(0, 0.3, width, dtype=np.float32)[None, :, None])
    first = np.asarray(top, np.float32)
    pixels = first + (np.asarray(bottom, np.float32) - first) * ramp
    pixels += _grain((height, width), grain, rng)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _grain(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Grey Gaussian noise: one channel, shared by the three (a fraction of the cost)."""
    return (rng.standard_normal(shape, dtype=np.float32) * sigma)[..., None]


def _text_layer(lines: Sequence[str], typeface: ImageFont.FreeTypeFont | ImageFont.ImageFont,
                colour: tuple[int, int, int]) -> Image.Image:
    """The lines drawn on a transparent layer cut close around them."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    spacing = int(getattr(typeface, "size", 20) * 0.4)
    left, top, right, bottom = probe.multiline_textbbox((0, 0), "\n".join(lines), font=typeface,
                                                        spacing=spacing)
    pad = 4
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(layer).multiline_text((pad - left, pad - top), "\n".join(lines),
                                         font=typeface, fill=(*colour, 255), spacing=spacing)
    return layer


def text_photo(lines: Sequence[str], *, size: tuple[int, int] = (960, 720),
               font_name: str = "sans", font_size: int | None = None,
               font_path: Path | None = None, tilt: float = 0.0, turn: int = 0,
               noise: float = 0.0, quality: int | None = None, seed: int = 0,
               colour: tuple[int, int, int] = (20, 20, 30),
               where: tuple[float, float] = (0.5, 0.5)) -> TextPhoto:
    """``lines`` drawn onto a photo-like background.

    ``font_size`` defaults to 7% of the photo's height; ``tilt`` turns the text that many
    degrees anticlockwise, ``turn`` (90, 180 or 270) clockwise inside the picture;
    ``noise`` adds Gaussian noise of that standard deviation (0-255 scale) over it all;
    ``quality`` round-trips the photo through JPEG; ``where`` places the text's centre as
    fractions of the width and height."""
    size_px = font_size or max(8, int(size[1] * 0.07))
    typeface = ImageFont.truetype(str(font_path), size_px) if font_path else font(font_name,
                                                                                  size_px)
    layer = _text_layer(lines, typeface, colour)
    if tilt:
        layer = layer.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
    if turn % 360:
        layer = layer.transpose(_TURNS[turn % 360])
    image = background(size, seed=seed)
    x = int(size[0] * where[0] - layer.width / 2)
    y = int(size[1] * where[1] - layer.height / 2)
    image.paste(layer, (x, y), layer)
    alpha_box = layer.getchannel("A").getbbox() or (0, 0, layer.width, layer.height)
    box = (x + alpha_box[0], y + alpha_box[1], x + alpha_box[2], y + alpha_box[3])
    if noise:
        image = add_noise(image, noise, seed=seed)
    if quality is not None:
        image = jpeg_round_trip(image, quality)
    return TextPhoto(image, box)


def add_noise(image: Image.Image, sigma: float, *, seed: int = 0) -> Image.Image:
    """Gaussian noise of standard deviation ``sigma`` on every channel."""
    rng = np.random.default_rng(seed + 1)
    pixels = np.asarray(image, np.float32)
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * sigma
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """The image as a JPEG of this quality would decode it."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def save_oriented(image: Image.Image, path: Path, orientation: int, *,
                  quality: int = 92) -> Path:
    """Save ``image`` as a JPEG whose EXIF Orientation is ``orientation`` (1-8), the pixels
    stored turned the other way: a viewer that honours the tag shows ``image`` as given."""
    stored = image.transpose(_STORE_AS[orientation]) if orientation in _STORE_AS else image
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=quality, exif=exif.tobytes())
    return path


def plain_photo(kind: PlainKind, size: tuple[int, int] = (960, 720), *,
                seed: int = 0) -> Image.Image:
    """A picture with no text: a smooth gradient, noise, a few soft shapes, a sky with
    clouds, or a fine texture (grass-like strokes)."""
    rng = np.random.default_rng(seed)
    if kind == "gradient":
        return background(size, seed=seed, grain=2.0)
    if kind == "noise":
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        return Image.fromarray(pixels, "RGB")
    if kind == "shapes":
        return _shapes(size, rng)
    if kind == "sky":
        return _sky(size, rng)
    return _texture(size, rng)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in rng.integers(0, 256, 3))
    return red, green, blue


def _shapes(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    image = background(size, seed=int(rng.integers(1 << 30)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        r = int(rng.integers(size[1] // 20, size[1] // 4))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng))
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=_colour(rng))
    return image.filter(ImageFilter.GaussianBlur(2))


def _sky(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    image = background(size, seed=int(rng.integers(1 << 30)),
                       colours=((70, 130, 210), (190, 220, 250)), grain=3.0)
    clouds = Image.new("L", size, 0)
    draw = ImageDraw.Draw(clouds)
    for _ in range(int(rng.integers(5, 15))):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1] // 2))
        rx, ry = int(rng.integers(40, 200)), int(rng.integers(20, 70))
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=int(rng.integers(120, 230)))
    clouds = clouds.filter(ImageFilter.GaussianBlur(25))
    return Image.composite(Image.new("RGB", size, (250, 250, 252)), image, clouds)


def _texture(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    image = background(size, seed=int(rng.integers(1 << 30)),
                       colours=((60, 110, 40), (30, 80, 20)), grain=10.0)
    draw = ImageDraw.Draw(image)
    for _ in range(size[0] * size[1] // 400):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        dx, dy = int(rng.integers(-6, 7)), int(rng.integers(-25, -5))
        shade = int(rng.integers(40, 160))
        draw.line((x, y, x + dx, y + dy), fill=(shade // 2, shade, shade // 3), width=2)
    return image
