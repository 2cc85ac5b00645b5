"""The text detector in int8: the same detection network with its convolutions quantized, for
CPUs with int8 dot products (AVX-512 VNNI, AMX), where it runs about 3 times as fast.

Why: finding text is what the text pass costs (about 85 ms a photo for the gate's look at
480x360 pixels, 400 ms for a full reading's at 960x720, against about 50 ms to decode and
embed a 12 MP photo for search). The recognizer and the direction classifier run once per
line found and stay in float.

The build quantizes the ONNX file shipped in the rapidocr wheel with ONNX Runtime's static
quantizer (weights and activations in 8 bits, QDQ form). Activation ranges come from
pictures drawn here, so nothing is read from the user's photos and nothing is downloaded:
photo-like backgrounds with lines of text of several sizes and shades, and some without.
The result is checked on other drawn pictures against the float network, and refused when
its text maps differ (:data:`MIN_AGREEMENT`) or it is not clearly faster
(:data:`MIN_SPEEDUP`; a CPU without int8 dot products). Building takes about 20 s on two
cores, once: the model (or the refusal) is kept in the cache folder, keyed by the network's
file and the runtime's version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.files import read_json_object

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the build changes, so older cached builds are not reused."""
MODEL_FILE = "det.int8.onnx"
META_FILE = "meta.json"
MIN_AGREEMENT = 0.95
"""The least share of pixels on which the int8 and float maps agree about text, on each
probe picture (measured: 0.969 at worst; a broken build falls far below). What counts,
the lines found and read, is measured by ``bench/text_reading.py``."""
MIN_SPEEDUP = 1.5
"""The int8 network must beat the float one by this much, or the float one is used."""
TEXT_PIXEL = 0.3
"""What counts as a text pixel in a map (rapidocr's threshold)."""
CALIBRATION_PICTURES = 12
PROBE_PICTURES = 6
_SIZES = ((480, 360), (960, 720))
"""Calibrated and checked at the gate's size and the full reading's."""

Pixels = npt.NDArray[np.float32]


def cache_key(detector: Path) -> str:
    """The network's file and the runtime's version, hashed: a new rapidocr or ONNX Runtime
    makes a new build."""
    import onnxruntime

    digest = hashlib.sha256()
    with open(detector, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"{onnxruntime.__version__}/{FORMAT}".encode())
    return digest.hexdigest()[:16]


def load_or_build(detector: Path, cache: Path, prepare: Any) -> Path | None:
    """The int8 network's file, built into ``cache`` first if need be; None when it was
    refused (then the float network does the work). ``prepare(pixels, side)`` turns BGR
    pixels into the network's normalised input at a long side of ``side``."""
    folder = cache / f"det-{cache_key(detector)}"
    meta = _read_meta(folder)
    if meta is None:
        meta = _build(detector, folder, prepare)
    if not meta.get("accepted"):
        return None
    return folder / MODEL_FILE


def _read_meta(folder: Path) -> dict[str, Any] | None:
    meta = read_json_object(folder / META_FILE)
    if meta is None or meta.get("format") != FORMAT:
        return None
    if meta.get("accepted") and not (folder / MODEL_FILE).is_file():
        return None
    return meta


def _build(detector: Path, dest: Path, prepare: Any) -> dict[str, Any]:
    """Quantize, check and time; write the model (if accepted) and the verdict to ``dest``
    (whole, or not at all: built in a temporary folder beside it, then renamed)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    started = time.monotonic()
    calibration = [prepare(_bgr(p), max(p.size)) for p in _pictures(CALIBRATION_PICTURES, 1)]
    probes = [prepare(_bgr(p), max(p.size)) for p in _pictures(PROBE_PICTURES, 2)]
    input_name = _session(detector).get_inputs()[0].name

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._left = iter(calibration)

        def get_next(self) -> dict[str, Pixels] | None:
            pixels = next(self._left, None)
            return None if pixels is None else {input_name: pixels}

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
    try:
        prepared = work / "det.prepared.onnx"
        # The network's shapes depend on the picture's: symbolic inference cannot finish.
        quant_pre_process(os.fspath(detector), os.fspath(prepared), skip_symbolic_shape=True)
        quantize_static(os.fspath(prepared), os.fspath(work / MODEL_FILE), _Reader(),
                        quant_format=QuantFormat.QDQ, per_channel=False,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        prepared.unlink()
        meta = _verdict(detector, work / MODEL_FILE, probes, input_name)
        meta["build_s"] = round(time.monotonic() - started, 1)
        if not meta["accepted"]:
            (work / MODEL_FILE).unlink()
        (work / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("int8 text detector %s: %s", "built" if meta["accepted"] else "refused", meta)
    return meta


def _verdict(detector: Path, quantized: Path, probes: list[Pixels],
             input_name: str) -> dict[str, Any]:
    """How far the int8 maps agree with the float ones and how much faster they come."""
    exact, fast = _session(detector), _session(quantized)
    agreement = 1.0
    for pixels in probes:
        want = exact.run(None, {input_name: pixels})[0] > TEXT_PIXEL
        got = fast.run(None, {input_name: pixels})[0] > TEXT_PIXEL
        agreement = min(agreement, float((want == got).mean()))
    gate_size = probes[0]  # drawn at the gate's size first
    speedup = _time(exact, input_name, gate_size) / _time(fast, input_name, gate_size)
    return {"format": FORMAT, "accepted": agreement >= MIN_AGREEMENT and speedup >= MIN_SPEEDUP,
            "agreement": round(agreement, 4), "speedup": round(speedup, 2)}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


def _time(session: Any, input_name: str, pixels: Pixels) -> float:
    session.run(None, {input_name: pixels})
    times = []
    for _ in range(3):
        start = time.perf_counter()
        session.run(None, {input_name: pixels})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bgr(image: Image.Image) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[:, :, ::-1])


def _pictures(count: int, seed: int) -> Iterator[Image.Image]:
    """Drawn photo-like pictures, two in three with text, alternating the two sizes."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        size = _SIZES[i % 2]
        image = _background(size, rng)
        if i % 3:
            _write_lines(image, rng)
        yield image


def _background(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Smooth colour, soft shapes and grain: what a photo's text detector sees most."""
    width, height = size
    coarse = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(height // 16, height // 4))
        draw.ellipse((x - r, y - r, x + r, y + r),
                     fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3.0))))
    grain = rng.normal(0, 5, (height, width, 1))
    pixels = np.asarray(image, np.float32) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _write_lines(image: Image.Image, rng: np.random.Generator) -> None:
    """A few lines of letters and digits, dark on light or light on dark, at a size between
    2% and 12% of the picture's height."""
    draw = ImageDraw.Draw(image)
    alphabet = "ABCDEFGHKMNPRSTUVWXYZabcdefghkmnprstuvwxyz0123456789-"
    for _ in range(int(rng.integers(1, 4))):
        size = max(8, int(image.height * rng.uniform(0.02, 0.12)))
        typeface = ImageFont.load_default(size)
        words = ["".join(rng.choice(list(alphabet), int(rng.integers(3, 9))))
                 for _ in range(int(rng.integers(1, 4)))]
        text = " ".join(words)
        x = int(rng.integers(0, max(1, image.width // 2)))
        y = int(rng.integers(0, max(1, image.height - size * 2)))
        light = bool(rng.random() < 0.5)
        left, top, right, bottom = draw.textbbox((x, y), text, font=typeface)
        pad = size // 3
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad),
                       fill=(30, 30, 36) if light else (236, 232, 222))
        draw.text((x, y), text, font=typeface, fill=(245, 245, 240) if light else (20, 20, 26))
