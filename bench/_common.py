"""Shared pieces of bench/run.py: the machine, timing, the offline model, generated photos.

Everything is built locally and cached under ``<repo>/.cache/bench`` (photos and models are
deterministic, so a cached copy is the same as a fresh one).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
if str(REPO) not in sys.path:  # `python bench/run.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
        cpu = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                    if ln.startswith("model name")), cpu)
        flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_bf16" in flags,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "system": f"{platform.system()} {platform.release()}",
    }


def timed(fn: Callable[[], object], *, repeat: int) -> list[float]:
    """Seconds for each of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 3)


def build_model(dest: Path, *, layers: int | None) -> Path:
    """A random ViT-B/32-shaped CLIP (transformers' default ``CLIPConfig``) plus a processor
    at 224 with the real tokenizer, saved like a download; ``layers`` trims both towers
    (smoke runs), keeping every width."""
    if (dest / "model.safetensors").is_file():
        return dest
    import torch
    from transformers import CLIPConfig, CLIPModel

    from tests.support.models import _processor
    from tests.support.tokenizer import write_clip_tokenizer

    config = CLIPConfig()
    if layers is not None:
        config.text_config.num_hidden_layers = layers
        config.vision_config.num_hidden_layers = layers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CLIPModel(config).eval()
    tmp = dest.with_name(dest.name + ".tmp")
    model.save_pretrained(tmp)
    _processor(config.vision_config.image_size).save_pretrained(tmp)
    write_clip_tokenizer(tmp)
    tmp.rename(dest)
    return dest


def photo_like(seed: int, width: int, height: int) -> Any:
    """A photo-like RGB image: smooth large shapes, edges, and fine grain (JPEG sizes of
    a camera photo, ~4-6 MB at 12 MP and quality 90, not those of flat colour)."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    detail = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    mid = Image.fromarray(detail).resize((width, height), Image.Resampling.BILINEAR)
    mid = mid.filter(ImageFilter.GaussianBlur(2))
    grain = rng.normal(0, 6, (height, width, 1)).astype(np.int16)
    mixed = (np.asarray(base, np.int16) * 3 + np.asarray(mid, np.int16)) // 4 + grain
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))


def make_photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """``count`` generated JPEGs (quality 90) in ``folder``, made once and cached."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:04d}.jpg"
        if not path.is_file():
            tmp = path.with_suffix(".tmp")
            photo_like(i, width, height).save(tmp, "JPEG", quality=90)
            tmp.rename(path)
        paths.append(path)
    return paths


def print_report(report: dict[str, Any], *, as_json: bool) -> None:
    """A benchmark's report on stdout: JSON, or one ``key: value`` line each."""
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key}: {value}")
