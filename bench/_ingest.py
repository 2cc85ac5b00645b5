"""The ingest benchmark: the real indexer against the naive pipeline and the model alone."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CACHE, build_model, make_photos

# photos, width, height, photos for the naive baseline, layers (None: ViT-B/32's 12), batches
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"photos": 8, "width": 1600, "height": 1200, "naive": 4, "layers": 2,
              "batches": [4, 8], "model_reps": 2, "runs": 1},
    "full": {"photos": 64, "width": 4000, "height": 3000, "naive": 16, "layers": None,
             "batches": [1, 8, 16, 32, 64], "model_reps": 3, "runs": 2},
}


def naive(model_dir: Path, photos: list[Path]) -> float:
    """Photos/s the plain way: Pillow full decode, transformers processor, fp32, one by one."""
    import torch
    from PIL import Image
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)

    def one(path: Path) -> None:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        inputs = processor(images=rgb, return_tensors="pt")
        with torch.inference_mode():
            model.get_image_features(pixel_values=inputs["pixel_values"])

    one(photos[0])  # warm-up
    start = time.perf_counter()
    for path in photos:
        one(path)
    return len(photos) / (time.perf_counter() - start)


def model_only(embedder: Any, batches: list[int], reps: int) -> dict[str, Any]:
    """Photos/s of the model alone on ready uint8 tensors, per batch size, at the embedder's
    own precision (what the indexer runs), plus fp32 at the best batch for reference."""
    import numpy as np

    rng = np.random.default_rng(0)
    side = embedder.image_input.size
    rates: dict[int, float] = {}
    for batch in batches:
        pixels = rng.integers(0, 256, (batch, side, side, 3), dtype=np.uint8)
        embedder.embed_pixels(pixels)  # warm-up
        start = time.perf_counter()
        for _ in range(reps):
            embedder.embed_pixels(pixels)
        rates[batch] = batch * reps / (time.perf_counter() - start)
    best = max(rates, key=lambda b: rates[b])
    result: dict[str, Any] = {"precision": embedder.precision, "best_batch": best,
                              "best_photos_per_s": round(rates[best], 2),
                              "photos_per_s_by_batch": {b: round(r, 2) for b, r in rates.items()}}
    if embedder.autocast and embedder.precision == "bf16":
        embedder.autocast = False
        try:
            pixels = rng.integers(0, 256, (best, side, side, 3), dtype=np.uint8)
            start = time.perf_counter()
            for _ in range(reps):
                embedder.embed_pixels(pixels)
            result["fp32_photos_per_s"] = round(best * reps / (time.perf_counter() - start), 2)
        finally:
            embedder.autocast = True
    return result


def ready_fast_images(embedder: Any) -> float:
    """Seconds to build (or load, when cached) the int8 ONNX image tower that index runs of
    many photos use (a one-time cost per model); 0 where it cannot run."""
    from core.config import FAST_IMAGES_DIR, cache_dir

    started = time.perf_counter()
    embedder.use_fast_images(cache_dir(CACHE) / FAST_IMAGES_DIR, build=True)
    return time.perf_counter() - started


def indexer(model_dir: Path, photos: Path, *, runs: int, batch_size: int,
            workers: int | None, fast_images: bool) -> dict[str, Any]:
    """Photos/s of ``Library.index`` on a fresh library (model loaded beforehand; the
    caption corpus and the int8 image tower built beforehand: one-time costs per model,
    shown separately). ``fast_images`` False keeps images on PyTorch (a lever's baseline)."""
    from core.library import Library

    rates = []
    count = 0
    precision = ""
    corpus_s = tower_s = 0.0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="pictor-bench-") as tmp, \
                Library(Path(tmp), model=str(model_dir), device="cpu") as lib:
            if fast_images:
                tower_s = ready_fast_images(lib.embedder)
            precision = lib.embedder.precision
            lib.vector_index(writable=True)
            started = time.perf_counter()
            lib.scores.caption_corpus()
            corpus_s = time.perf_counter() - started
            start = time.perf_counter()
            for progress in lib.index([photos], batch_size=batch_size, workers=workers):
                count = progress.indexed
            rates.append(count / (time.perf_counter() - start))
    return {"photos_per_s": round(max(rates), 2), "runs_photos_per_s": [round(r, 2) for r in rates],
            "photos": count, "precision": precision, "batch_size": batch_size,
            "workers": workers, "caption_corpus_s": round(corpus_s, 2),
            "image_tower_ready_s": round(tower_s, 2)}


def run(size: str, *, batch_size: int = 32, workers: int | None = None) -> dict[str, Any]:
    from core.models.embedder import Embedder
    from core.sync.runs import FAST_IMAGES_ENV

    spec = SIZES[size]
    name = f"vitb32-L{spec['layers'] or 12}"
    model_dir = build_model(CACHE / "models" / name, layers=spec["layers"])
    folder = CACHE / "photos" / f"{spec['width']}x{spec['height']}-{spec['photos']}"
    photos = make_photos(folder, spec["photos"], spec["width"], spec["height"])

    os.environ[FAST_IMAGES_ENV] = "0"  # the library's own switch stays off: the bench decides
    real = indexer(model_dir, folder, runs=spec["runs"], batch_size=batch_size,
                   workers=workers, fast_images=True)
    torch_only = indexer(model_dir, folder, runs=spec["runs"], batch_size=batch_size,
                         workers=workers, fast_images=False)
    naive_rate = naive(model_dir, photos[: spec["naive"]])
    embedder = Embedder.load(str(model_dir), device="cpu")
    torch_alone = model_only(embedder, spec["batches"], spec["model_reps"])
    ready_fast_images(embedder)
    alone = model_only(embedder, spec["batches"], spec["model_reps"])
    return {
        "benchmark": "ingest",
        "photos": {"count": len(photos), "width": spec["width"], "height": spec["height"],
                   "jpeg_quality": 90,
                   "mean_bytes": int(sum(p.stat().st_size for p in photos) / len(photos))},
        "model": {"name": name, "config": "transformers CLIPConfig() (ViT-B/32 shape), random",
                  "layers": spec["layers"] or 12},
        "indexer": real,
        "indexer_pytorch_images": torch_only,
        "naive": {"photos_per_s": round(naive_rate, 2), "photos": spec["naive"],
                  "pipeline": "Image.open().convert('RGB'), CLIPProcessor, fp32, batch 1"},
        "model_only": alone,
        "model_only_pytorch": torch_alone,
        "ratios": {
            "indexer_vs_naive": round(real["photos_per_s"] / naive_rate, 2),
            "indexer_vs_model_only": round(real["photos_per_s"] / alone["best_photos_per_s"], 3),
            "int8_tower_vs_pytorch_indexer": round(real["photos_per_s"]
                                                   / torch_only["photos_per_s"], 2),
        },
        "targets": {"indexer_vs_naive": 10.0, "indexer_vs_model_only": 0.5},
    }
