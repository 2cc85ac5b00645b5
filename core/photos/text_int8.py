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
(:data:`MIN_SPEEDUP`; a CPU without int8 dot products). Building takes about 9 s on two
cores, once: the model (2.7 MB) or the refusal is kept in the cache folder, keyed by the
network's file, the runtime's version and the CPU's int8 instructions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from filelock import FileLock
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.files import fsync_dir, fsync_file, read_json_object

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the build changes, so older cached builds are not reused."""
MODEL_FILE = "det.int8.onnx"
META_FILE = "meta.json"
MIN_AGREEMENT = 0.95
"""The least share of pixels on which the int8 and float maps agree about text, on each
probe picture (measured: 0.969 at worst; a broken build falls far below). What counts,
the lines found and read, is measured by ``bench/text_reading.py``."""
MIN_TEXT_OVERLAP = 0.85
"""...and the least overlap (intersection over union) of their text pixels on each probe
picture with text (measured: 0.92-0.98)."""
MIN_SPEEDUP = 1.5
"""The int8 network must beat the float one by this much, or the float one is used."""
TEXT_PIXEL = 0.3
"""What counts as a text pixel in a map (rapidocr's threshold)."""
CALIBRATION_PICTURES = 12
PROBE_PICTURES = 6
_SIZES = ((480, 360), (960, 720))
"""Calibrated and checked at the gate's size and the full reading's."""
_INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "avx512bw", "avx2")

Pixels = npt.NDArray[np.float32]
Prepare = Callable[[npt.NDArray[np.uint8], int], Pixels]


def cache_key(detector: Path) -> str:
    """The network's file, the runtime's version and the CPU's int8 instructions, hashed: a
    new rapidocr, ONNX Runtime or processor makes a new build (and a new verdict)."""
    import onnxruntime

    digest = hashlib.sha256(_file_digest(detector).encode())
    digest.update(f"{onnxruntime.__version__}/{FORMAT}/{cpu_int8_flags()}".encode())
    return digest.hexdigest()[:16]


def cpu_int8_flags() -> str:
    """The CPU's instructions that make int8 fast (Linux's /proc/cpuinfo; elsewhere the
    processor's name)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info
                          if line.startswith("flags")), [])
    except OSError:
        return platform.processor() or platform.machine()
    return ",".join(flag for flag in _INT8_FLAGS if flag in flags)


def load_or_build(detector: Path, cache: Path, prepare: Prepare) -> Path | None:
    """The int8 network's file, built into ``cache`` first if need be; None when it was
    refused (then the float network does the work). ``prepare(pixels, side)`` turns BGR
    pixels into the network's normalised input at a long side of ``side``. Two processes
    asking at once build it once (a lock), and a build is checked whole before use."""
    key = cache_key(detector)
    folder = cache / f"det-{key}"
    meta = _read_meta(folder)
    if meta is None:
        cache.mkdir(parents=True, exist_ok=True)
        with FileLock(os.fspath(cache / f"det-{key}.lock")):
            meta = _read_meta(folder)  # built by another process while this one waited
            if meta is None:
                _sweep(cache)
                meta = _build(detector, folder, prepare)
    return folder / MODEL_FILE if meta.get("accepted") else None


def forget(model: Path) -> None:
    """Remove a cached build that would not load (the next use builds it again)."""
    shutil.rmtree(model.parent, ignore_errors=True)


def _read_meta(folder: Path) -> dict[str, Any] | None:
    """The cached verdict, if whole: of this format, and an accepted model's file intact."""
    meta = read_json_object(folder / META_FILE)
    if meta is None or meta.get("format") != FORMAT:
        return None
    if meta.get("accepted"):
        model = folder / MODEL_FILE
        if not model.is_file() or _file_digest(model) != meta.get("sha256"):
            return None
    return meta


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sweep(cache: Path) -> None:
    """Remove builds left half-done by a process that was killed (an hour old or more)."""
    for left in cache.glob(".build-*"):
        with contextlib.suppress(OSError):
            if time.time() - left.stat().st_mtime > 3600:
                shutil.rmtree(left, ignore_errors=True)


def _build(detector: Path, dest: Path, prepare: Prepare) -> dict[str, Any]:
    """Quantize, check and time; write the model (if accepted) and the verdict to ``dest``
    (whole, or not at all: built in a temporary folder beside it, synced, then renamed)."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
    try:
        model = work / MODEL_FILE
        exact = _session(detector)
        _quantize(detector, model, prepare, exact.get_inputs()[0].name)
        probes = [(prepare(_bgr(picture), max(picture.size)), has_text)
                  for picture, has_text in _pictures(PROBE_PICTURES, seed=2)]
        meta = _verdict(exact, model, probes)
        meta["build_s"] = round(time.monotonic() - started, 1)
        if meta["accepted"]:
            meta["sha256"] = _file_digest(model)
            fsync_file(model)
        else:
            model.unlink()
        (work / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        fsync_file(work / META_FILE)
        shutil.rmtree(dest, ignore_errors=True)  # a damaged older build (the lock is held)
        os.replace(work, dest)
        fsync_dir(dest.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("int8 text detector %s: %s", "built" if meta["accepted"] else "refused", meta)
    return meta


def _quantize(detector: Path, dest: Path, prepare: Prepare, input_name: str) -> None:
    """ONNX Runtime's static quantizer over the network, its activation ranges taken from
    drawn pictures at both sizes. Its peak is about 2.1 GB, once (measured; calibrating on
    the gate's size alone took 0.7 GB but its maps agreed on only 91% of pixels, and the
    quantizer's option to merge ranges as it goes discards them in ONNX Runtime 1.32)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pictures = _pictures(CALIBRATION_PICTURES, seed=1)

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, Pixels] | None:
            picture = next(pictures, None)
            if picture is None:
                return None
            return {input_name: prepare(_bgr(picture[0]), max(picture[0].size))}

    prepared = dest.with_name("prepared.onnx")
    # The network's shapes depend on the picture's: symbolic inference cannot finish.
    quant_pre_process(os.fspath(detector), os.fspath(prepared), skip_symbolic_shape=True)
    quantize_static(os.fspath(prepared), os.fspath(dest), _Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    prepared.unlink()


def _verdict(exact: Any, quantized: Path,
             probes: list[tuple[Pixels, bool]]) -> dict[str, Any]:
    """How far the int8 maps agree with the float network's (``exact``, a session) and
    how much faster they come."""
    fast = _session(quantized)
    input_name = exact.get_inputs()[0].name
    agreement, overlap = 1.0, 1.0
    for pixels, has_text in probes:
        want = exact.run(None, {input_name: pixels})[0] > TEXT_PIXEL
        got = fast.run(None, {input_name: pixels})[0] > TEXT_PIXEL
        agreement = min(agreement, float((want == got).mean()))
        if has_text:  # text is a few percent of the picture: agreement alone would miss it
            overlap = min(overlap, float((want & got).sum() / max(1, (want | got).sum())))
    gate_size = probes[0][0]  # drawn at the gate's size first
    speedup = _time(exact, input_name, gate_size) / _time(fast, input_name, gate_size)
    accepted = (agreement >= MIN_AGREEMENT and overlap >= MIN_TEXT_OVERLAP
                and speedup >= MIN_SPEEDUP)
    return {"format": FORMAT, "accepted": accepted, "agreement": round(agreement, 4),
            "text_overlap": round(overlap, 4), "speedup": round(speedup, 2)}


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


def _pictures(count: int, *, seed: int) -> Iterator[tuple[Image.Image, bool]]:
    """Drawn photo-like pictures and whether they hold text (two in three do), alternating
    the gate's size and the full reading's."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = _background(_SIZES[i % 2], rng)
        has_text = bool(i % 3)
        if has_text:
            _write_lines(image, rng)
        yield image, has_text


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
