"""Reading the text written in a photo (signs, labels, screens, documents), offline.

:class:`TextReader` runs PP-OCRv6 (core.photos.text_models): a detection network finds
text lines, a direction classifier turns lines that are upside down, and a recognition
network reads each line. Lines turned 90 degrees inside the picture are read too: a line
whose box is much taller than wide is turned upright before it is read, and the classifier
fixes the ones that came out upside down.

Most photos hold no text, so the text pass asks :meth:`TextReader.text_regions` first: the
detection network alone on the photo shrunk to a short side of :data:`GATE_SHORT_SIDE`
pixels, about a quarter of a full reading's time. Measured on drawn photos (2 cores): the
gate found 40 of 40 photos whose lines were 2% of the photo's height (39 of 40 when handed
a 1/8 JPEG-style reduction, as indexing decodes for it), 38 of 40 at 1.5%, all 108 with
big print, and said yes to 1 of 250 photos without text.

:meth:`TextReader.read_photo` reads only where the gate found a plausible line, and there
only: the full detection runs on the regions around the gate's boxes
(:meth:`TextReader.text_regions`), widened for smaller print beside them, at the scale it
would see the whole photo at. A sign that fills a tenth of the photo costs roughly a tenth of
the detection; on the drawn lines of ``bench/text_reading.py`` this reads as many lines
exactly as a reading of the whole photo (20 and 18 of 20, against 19 and 19), in 120 ms
with the gate against 157 ms without it.

On a CPU the detection network runs in int8 when given a cache folder to keep it in
(core.photos.text_int8): about 3 times as fast; on the drawn sets of ``bench/text_reading.py``
the gate finds the same photos with lines 2% of the height (39 of 40 against 40 at 1.5%,
14 against 17 at 1%) and the reading reads as many lines exactly.

Images come as shown (EXIF orientation applied), RGB; boxes are returned in their pixels.
Large photos are shrunk first (:data:`WORK_SIDE`): past the shrinking, a 48 MP photo costs
what a 3 MP one does. Thread-safe once loaded; the models load on first use.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import PictorError, TextReadingError
from core.memory import trim_heap
from core.photos import text_models
from core.photos.text_models import OcrModels

GATE_SHORT_SIDE = 360
"""The gate runs the detection network on the photo shrunk to this short side: every line
at least 2% of the photo's height is still found there (measured, see the tests)."""
GATE_LONG_SIDE = 640
"""...and a long side no longer than this (a panorama is not gated at full width)."""
TEXT_PIXEL = 0.3
"""The probability above which a pixel of the detection map counts as text (rapidocr's)."""
GATE_MIN_SCORE = 0.4
"""The gate's least mean text probability inside a box."""
GATE_THICK = 0.1
"""A box thicker than this fraction of the gate picture's short side is big print...
(lines 2% of the height are 0.03-0.05 thick there)"""
GATE_THICK_SCORE = 0.75
"""...which the network marks surely: 0.78-0.94 on every drawn line 10-30% of the height,
while the blurred edges of flat shapes it took for big print scored 0.43-0.75."""
GATE_MAX_AREA = 0.4
"""A box covering more than this fraction of the picture is not a line of text: on smooth
skies and blurred shapes the network sometimes marks the whole frame, weakly."""
DETECT_SIDE = 960
"""The long side the full detection runs at. Measured on lines 1.5% of the photo's height:
960 found 17 in 18, 1280 only 11 (the network, trained near this scale, breaks small text
into dots at larger ones), and it costs half as much."""
READ_MIN_SCORE = 0.3
"""The full detection's least mean text probability in a box (rapidocr's default, 0.5,
lost 7 more of 24 lines 1% of the height); the recognizer's confidence weeds out the rest."""
WORK_SIDE = 2000
"""Photos are shrunk to this long side first; lines are cut from it for recognition."""
MIN_CONFIDENCE = 0.5
"""Lines read with less confidence than this (0-1) are dropped as noise."""
_VERTICAL = 1.5
"""rapidocr turns a cut-out line this many times taller than wide before reading it."""
MIN_SIDE = 8
"""Images with a side shorter than this hold nothing legible."""
REGION_MARGIN = 4.0
"""A full reading after the gate detects only around the gate's boxes, each widened on
every side by this many times its thickness (and :data:`REGION_MIN_MARGIN`): the rest of
a sign or a receipt, in print too small for the gate, lies that close to what it found."""
REGION_MIN_MARGIN = 0.04
"""...and at least this fraction of the photo's shorter side."""
REGION_MAX_SHARE = 0.5
"""Past this share of the photo, the regions are read as one whole photo (no gain left)..."""
REGION_MAX_COUNT = 8
"""...and past this many regions (each costs a run of the network: a street full of plates
and signs is cheaper read whole)."""
GATE_TOLERANCE = 0.9
"""A picture this much smaller than the gate's size is still gated as it is (a 3:2 12 MP
photo decoded at 1/8 for the image model): at 0.89 of the gate's size the gate still found
40 of 40 photos with lines 2% of the height (38 of 40 at 1.5%, against 39)."""

Pixels = npt.NDArray[np.uint8]
Boxes = npt.NDArray[np.float32]
Point = tuple[float, float]
Region = tuple[float, float, float, float]
"""Left, top, right, bottom, as fractions (0-1) of the picture's width and height."""


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text: what it says, where it is, and how sure the reader is."""

    text: str
    box: tuple[Point, ...]
    """Four corners (top-left, top-right, bottom-right, bottom-left as the box lies in the
    picture), in the pixels of the image given."""
    confidence: float
    """0-1: the recognizer's mean probability over the line's characters."""


class TextReader:
    """Reads text in photos; loads its models on first use (140 MB with the libraries
    they need)."""

    def __init__(self, *, device: str = "cpu", threads: int | None = None,
                 int8_cache: Path | None = None) -> None:
        self._device = device
        self._threads = threads
        self._int8_cache = int8_cache
        self._lock = threading.Lock()
        self._models: OcrModels | None = None

    @property
    def models(self) -> OcrModels:
        """The loaded models (loaded now if need be); raises ModelUnavailableError."""
        if self._models is None:
            with self._lock:
                if self._models is None:
                    self._models = text_models.load(
                        device=self._device, threads=self._threads,
                        gate_thresholds=(TEXT_PIXEL, GATE_MIN_SCORE),
                        read_thresholds=(TEXT_PIXEL, READ_MIN_SCORE),
                        int8_cache=self._int8_cache)
        return self._models

    def load(self) -> None:
        """Load the models now (the first use would), raising ModelUnavailableError."""
        self.models  # noqa: B018 - the property loads them

    def likely_text(self, image: Image.Image) -> bool:
        """Whether the photo seems to hold a line of text: the detection network alone, on
        the photo shrunk to :data:`GATE_SHORT_SIDE`, finds a box sure enough for its size."""
        return bool(self.text_regions(image))

    def text_regions(self, image: Image.Image) -> list[Region]:
        """The gate (:meth:`likely_text`), saying where: the parts of the photo a full
        reading should look at, as fractions of its sides; empty when it holds no text.
        The same photo decoded at another size has its text in the same regions."""
        with _reading_errors():
            return self._gate(image)

    def read(self, image: Image.Image, *,
             regions: list[Region] | None = None) -> list[TextLine]:
        """Every line of text in the photo, in reading order (top to bottom, then left to
        right, as the text runs: a sign turned upside down is read from its first line);
        an empty list when there is none. With ``regions`` (:meth:`text_regions`), text is
        looked for there only (a sign that fills a tenth of the photo costs roughly a tenth
        of the detection), unless they cover most of the photo or are many."""
        try:
            with _reading_errors():
                return self._read(image, regions)
        finally:
            trim_heap()  # a 2000-pixel photo's buffers: glibc would keep ~90 MB of them

    def read_photo(self, image: Image.Image, *, whole: bool = False) -> list[TextLine]:
        """:meth:`read` where :meth:`text_regions` finds text (else []); with ``whole``,
        all of a photo it finds text in (slower: for a photo read once, on request)."""
        regions = self.text_regions(image)
        if not regions:
            return []
        return self.read(image, regions=None if whole else regions)

    def _gate(self, image: Image.Image) -> list[Region]:
        rgb = _usable(image)
        if rgb is None:
            return []
        small = _resized(rgb, _gate_scale(rgb.size))
        boxes, scores = _detect(self.models, _bgr(small), max(small.size), self.models.gate)
        if not any(_plausible_line(box, score, small.size)
                   for box, score in zip(boxes, scores, strict=True)):
            return []
        return _regions(boxes, small.size)  # every box: small print near big print

    def _read(self, image: Image.Image, regions: list[Region] | None) -> list[TextLine]:
        rgb = _usable(image)
        if rgb is None:
            return []
        work = _resized(rgb, WORK_SIDE / max(rgb.size))
        pixels = _bgr(work)
        boxes = _detect_in(self.models, pixels, regions)
        if len(boxes) == 0:
            return []
        texts, confidences, turns = _recognize(self.models, pixels, boxes)
        order = _reading_order(_upright(boxes, _main_turn(boxes, turns)))
        scale = (rgb.width / work.width, rgb.height / work.height)
        return [TextLine(texts[i].strip(), _corners(boxes[i], scale), confidences[i])
                for i in order if _worth_keeping(texts[i], confidences[i])]


@contextlib.contextmanager
def _reading_errors() -> Iterator[None]:
    """Turns a failure inside the runtime into a TextReadingError (one photo's problem)."""
    try:
        yield
    except PictorError:
        raise
    except Exception as error:  # ONNX Runtime, OpenCV, rapidocr or Pillow on odd pixels
        detail = (str(error).strip().splitlines() or [""])[-1][:200]
        raise TextReadingError(
            f"the text in this photo could not be read ({type(error).__name__}"
            f"{': ' + detail if detail else ''})") from error


def _usable(image: Image.Image) -> Image.Image | None:
    """The image as RGB, or None when it is too small to hold legible text."""
    if min(image.size) < MIN_SIDE:
        return None
    return image if image.mode == "RGB" else image.convert("RGB")


def gate_picture(image: Image.Image) -> Image.Image | None:
    """``image`` shrunk to the size the gate looks at (:meth:`TextReader.text_regions`
    gives the same answer for both), or None when it is smaller than that (within
    :data:`GATE_TOLERANCE`, it is taken as it is)."""
    scale = _gate_scale(image.size)
    if scale * GATE_TOLERANCE > 1 or min(image.size) < MIN_SIDE:
        return None
    return _resized(image if image.mode == "RGB" else image.convert("RGB"), scale)


def _gate_scale(size: tuple[int, int]) -> float:
    return min(GATE_SHORT_SIDE / min(size), GATE_LONG_SIDE / max(size))


def _resized(image: Image.Image, scale: float) -> Image.Image:
    """The image shrunk by ``scale`` (never enlarged; a box filter first: cheap on 48 MP)."""
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _bgr(image: Image.Image) -> Pixels:
    """Pixels in the order the PaddleOCR models were trained on (OpenCV's BGR)."""
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[:, :, ::-1])


def _detect(models: OcrModels, pixels: Pixels, side: int,
            postprocess: Any) -> tuple[Boxes, list[float]]:
    """Text boxes ``(n, 4, 2)`` in the pixels given and their scores, the network run on
    the picture resized to a long side of at most ``side`` (multiples of 32)."""
    tensor = text_models.detector_input(models.parts, pixels, side)
    if tensor is None:
        return np.zeros((0, 4, 2), np.float32), []
    probabilities = models.detect(tensor)
    boxes, scores = postprocess(probabilities, pixels.shape[:2])
    return np.asarray(boxes, np.float32).reshape(-1, 4, 2), [float(s) for s in scores]


def _detect_in(models: OcrModels, pixels: Pixels, regions: list[Region] | None) -> Boxes:
    """The full detection's boxes in ``pixels``: over the whole picture, or within each
    region at the scale the whole picture would be detected at (the network sees text at
    the same size either way)."""
    height, width = pixels.shape[:2]
    if regions is not None:
        regions = _merged([_clamped(region) for region in regions], gap=0.0)
    if (regions is None or len(regions) > REGION_MAX_COUNT
            or _share(regions) > REGION_MAX_SHARE):
        return _detect(models, pixels, DETECT_SIDE, models.postprocess)[0]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    found = []
    for left, top, right, bottom in regions:
        x0, x1 = _span(left * width, right * width, width, scale)
        y0, y1 = _span(top * height, bottom * height, height, scale)
        part = np.ascontiguousarray(pixels[y0:y1, x0:x1])
        side = max(32, round(max(part.shape[:2]) * scale))
        boxes, _ = _detect(models, part, side, models.postprocess)
        found.append(boxes + np.asarray([x0, y0], np.float32))
    return np.concatenate(found) if found else np.zeros((0, 4, 2), np.float32)


def _span(start: float, end: float, limit: int, scale: float) -> tuple[int, int]:
    """``start``-``end`` widened about its middle so that, scaled, it spans a multiple of
    32 pixels (the network's step: the region is then not stretched to fit it), within
    0-``limit``."""
    wanted = max(32, math.ceil((end - start) * scale / 32) * 32) / scale
    middle = (start + end) / 2
    low = max(0, min(round(middle - wanted / 2), limit - round(wanted)))
    return low, min(limit, low + max(1, round(wanted)))


def _regions(boxes: Boxes, size: tuple[int, int]) -> list[Region]:
    """The gate's boxes as regions: each one's bounds widened (:data:`REGION_MARGIN`),
    clipped to the picture, and merged with any other closer than the least margin (print
    the gate did not find, between two lines it found, is then not cut at a region's
    edge). A box over most of the picture (:data:`GATE_MAX_AREA`: a sky the network marked
    faintly) is left out."""
    width, height = size
    least = REGION_MIN_MARGIN * min(size)
    rects = []
    for box in boxes:
        box_width, box_height = _sides(box)
        if box_width * box_height > GATE_MAX_AREA * width * height:
            continue
        margin = max(least, REGION_MARGIN * min(box_width, box_height))
        rects.append((max(0.0, float(box[:, 0].min()) - margin) / width,
                      max(0.0, float(box[:, 1].min()) - margin) / height,
                      min(float(width), float(box[:, 0].max()) + margin) / width,
                      min(float(height), float(box[:, 1].max()) + margin) / height))
    return _merged(rects, gap=least / min(size))


def _merged(regions: list[Region], *, gap: float) -> list[Region]:
    """``regions`` with every two that overlap or lie within ``gap`` of each other (a
    fraction of the sides) replaced by their bounds, until none do."""
    rects = list(regions)
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(rects)), 2):
            a, b = rects[i], rects[j]
            if (a[0] < b[2] + gap and b[0] < a[2] + gap
                    and a[1] < b[3] + gap and b[1] < a[3] + gap):
                rects[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                            max(a[3], b[3]))
                del rects[j]
                merged = True
                break
    return rects


def _clamped(region: Region) -> Region:
    left, top, right, bottom = (min(1.0, max(0.0, float(value))) for value in region)
    return left, top, max(left, right), max(top, bottom)


def _share(regions: list[Region]) -> float:
    """The share of the picture the (non-overlapping) regions cover."""
    return sum((right - left) * (bottom - top) for left, top, right, bottom in regions)


def _plausible_line(box: Boxes, score: float, size: tuple[int, int]) -> bool:
    """Whether a box the gate found looks like a line of text rather than a shape."""
    width, height = _sides(box)
    if width * height > GATE_MAX_AREA * size[0] * size[1]:
        return False
    thick = min(width, height) > GATE_THICK * min(size)
    return score >= (GATE_THICK_SCORE if thick else GATE_MIN_SCORE)


def _sides(box: Boxes) -> tuple[float, float]:
    """A box's width and height as rapidocr cuts it out (the longer of each pair of edges)."""
    width = max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]))
    height = max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
    return float(width), float(height)


def _recognize(models: OcrModels, pixels: Pixels,
               boxes: Boxes) -> tuple[list[str], list[float], list[int]]:
    """The text of each box, its confidence, and how far the text is turned clockwise
    (0, 90, 180, 270). A box cut out at least 1.5 times taller than wide is turned upright
    by rapidocr (text turned 90 degrees clockwise comes out readable), and one that the
    classifier finds upside down is turned over."""
    cut = models.parts.images.get_rotate_crop_image
    crops = [cut(pixels, box.copy()) for box in boxes]
    classified = models.classify(crops)
    threshold = models.classify.cls_thresh
    result = models.recognize(models.parts.rec_types.TextRecInput(img=classified.img_list))
    turns = []
    for box, (label, score) in zip(boxes, classified.cls_res, strict=True):
        width, height = (int(side) for side in _sides(box))  # as rapidocr rounds them
        upright = 90 if height >= _VERTICAL * width else 0
        turns.append(upright + (180 if "180" in label and score > threshold else 0))
    return ([str(text) for text in result.txts], [float(score) for score in result.scores],
            turns)


def _main_turn(boxes: Boxes, turns: list[int]) -> int:
    """The turn of most of the text, by the length of its lines."""
    lengths: dict[int, float] = {}
    for box, turn in zip(boxes, turns, strict=True):
        lengths[turn] = lengths.get(turn, 0.0) + max(_sides(box))
    return max(lengths, key=lambda turn: lengths[turn])


def _upright(boxes: Boxes, turn: int) -> Boxes:
    """The boxes' corners as they would lie with the picture turned so that text turned
    ``turn`` degrees clockwise reads normally (only their order matters)."""
    x, y = boxes[:, :, 0], boxes[:, :, 1]
    turned = {0: (x, y), 90: (y, -x), 180: (-x, -y), 270: (-y, x)}[turn]
    return np.stack(turned, axis=-1)


def _reading_order(boxes: Boxes) -> list[int]:
    """Indexes of ``boxes`` top to bottom, and left to right within a line: a box belongs
    to the line of the box above it when its middle lies within that box's height."""
    tops, bottoms = boxes[:, :, 1].min(axis=1), boxes[:, :, 1].max(axis=1)
    lines: list[list[int]] = []
    for index in np.argsort(tops, kind="stable").tolist():
        middle = (tops[index] + bottoms[index]) / 2
        if lines and middle <= bottoms[lines[-1][0]]:
            lines[-1].append(index)
        else:
            lines.append([index])
    lefts = boxes[:, :, 0].min(axis=1)
    return [index for line in lines for index in sorted(line, key=lambda i: lefts[i])]


def _worth_keeping(text: str, confidence: float) -> bool:
    """A line read with some confidence and holding a letter or digit of any script (a
    dark bar read as "■", a row of dots, are not text anyone searches for)."""
    return confidence >= MIN_CONFIDENCE and any(char.isalnum() for char in text)


def _corners(box: Boxes, scale: tuple[float, float]) -> tuple[Point, ...]:
    return tuple((round(float(x) * scale[0], 1), round(float(y) * scale[1], 1))
                 for x, y in box)
