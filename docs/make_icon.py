"""Draw Pictor's icon (resources/pictor.png): a photo of hills under a sun, and a lens.

    .venv/bin/python docs/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
OUT = Path(__file__).resolve().parents[1] / "resources" / "pictor.png"


def main() -> None:
    scale = 4  # drawn large, then reduced: smooth edges without an anti-aliasing API
    big = SIZE * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [v * scale for v in (x0, y0, x1, y1)]

    draw.rounded_rectangle(box(16, 28, 212, 196), radius=22 * scale, fill="#f4f1ea")
    draw.rounded_rectangle(box(30, 42, 198, 182), radius=10 * scale, fill="#7fb7e6")
    draw.ellipse(box(140, 56, 176, 92), fill="#ffd23f")
    draw.polygon([(x * scale, y * scale) for x, y in
                  ((30, 182), (30, 140), (80, 96), (126, 150), (150, 128), (198, 170),
                   (198, 182))], fill="#3f8f4f")
    draw.ellipse(box(118, 118, 222, 222), outline="#2f3b52", width=16 * scale,
                 fill=(255, 255, 255, 90))
    draw.line(box(206, 206, 244, 244), fill="#2f3b52", width=22 * scale)
    image.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(OUT, optimize=True)


if __name__ == "__main__":
    main()
