"""Which device runs a model, and at which precision.

The device: CUDA, then Apple's MPS, then the CPU, unless one is asked for. The precision:
fp16 on CUDA; on the CPU, bf16 autocast where the CPU does bf16 natively and the model's
vectors stay within :data:`MIN_PRECISION_COSINE` of fp32 on probe inputs (measured once per
model and weights, then remembered); fp32 otherwise. The int8 image tower
(:mod:`core.models.fast_images`) is held to the same bar on the same probe images.

torch is imported inside :func:`pick_device` only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from core.config import model_slug
from core.errors import ModelUnavailableError
from core.files import read_json_object, write_atomic

log = logging.getLogger(__name__)

DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
MIN_PRECISION_COSINE = 0.999
"""Mixed precision (and the int8 tower) is used only when it keeps vectors this close to
fp32."""
PROBE_TEXTS = ("a photo of a dog", "a red circle on grass", "sunset over the sea", "海边日落")
"""The precision check's texts (one of them Chinese, for the multilingual towers)."""


def pick_device(choice: DeviceChoice | str = "auto") -> str:
    """``auto`` means CUDA, then Apple's MPS, then the CPU."""
    import torch

    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("device cuda was asked for but no CUDA GPU is available")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise ModelUnavailableError("device mps was asked for but MPS is not available")
    if choice not in ("cpu", "cuda", "mps"):
        raise ModelUnavailableError(f"unknown device {choice!r} (use auto, cpu, cuda or mps)")
    return choice


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 arithmetic (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_verdict(*, name: str, weights_key: str, cache: Path | None,
                 worst_cosine: Callable[[], float]) -> bool:
    """Whether bf16 autocast keeps the model's vectors close enough to fp32.

    ``worst_cosine`` measures it (about a second a start), so the verdict is kept in
    ``cache`` per model, and measured anew only when ``weights_key`` (what the model's
    vectors depend on) changes.
    """
    record = cache / f"{model_slug(name)}.json" if cache else None
    remembered = read_json_object(record) if record else None
    if remembered and remembered.get("weights") == weights_key:
        return bool(remembered.get("bf16_autocast"))
    worst = worst_cosine()
    verdict = worst >= MIN_PRECISION_COSINE
    log.info("bf16 autocast %s (worst cosine %.5f)", verdict, worst)
    if record is not None:
        _remember(record, {"weights": weights_key, "bf16_autocast": verdict,
                           "worst_cosine": round(worst, 6)})
    return verdict


def probe_pixels(size: int) -> npt.NDArray[np.uint8]:
    """A few deterministic, image-like inputs (gradients and blobs) for precision checks:
    ``(4, size, size, 3)`` uint8."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    images = []
    for i in range(4):
        base = np.stack([np.add.outer(ramp, ramp) / 2, np.outer(ramp, np.ones(size)),
                         np.full((size, size), 40.0 * i)], axis=-1)
        noise = rng.normal(0, 25, base.shape)
        images.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return np.stack(images)


def _remember(path: Path, value: dict[str, Any]) -> None:
    """Best effort (a cache): a read-only or full disk only costs the check next time."""
    try:
        write_atomic(path, json.dumps(value).encode())
    except OSError as error:
        log.debug("not remembered: %s (%s)", path, error)


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` meanwhile (if torch is loaded at all)."""
    torch: Any = sys.modules.get("torch")
    if count is None or torch is None:
        yield
        return
    before = torch.get_num_threads()
    if before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
