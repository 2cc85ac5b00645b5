"""SigLIP 2 NaFlex against fixed-resolution SigLIP 2: the image tower alone, random weights
(speed does not depend on their values), ViT-B/16, bf16 autocast on the CPU, batch 32.

A 4:3 photo takes 252 of NaFlex's 256 patches (14 x 18); the fixed model sees 196 (224 px).
Both are measured in the same run, one after the other:

    .venv/bin/python bench/naflex_speed.py [--seconds 20]

Prints one JSON object: photos per second for each, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

BATCH = 32
WIDTH = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
         "num_attention_heads": 12, "patch_size": 16}


def rate(run: Callable[[], object], seconds: float) -> float:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        run()  # warm-up
        start, photos = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            run()
            photos += BATCH
        return photos / (time.perf_counter() - start)


def main() -> None:
    from transformers import (
        Siglip2VisionConfig,
        Siglip2VisionModel,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    naflex = Siglip2VisionModel(Siglip2VisionConfig(num_patches=256, **WIDTH)).eval()
    fixed = SiglipVisionModel(SiglipVisionConfig(image_size=224, **WIDTH)).eval()
    patches = torch.randn(BATCH, 256, 3 * 16 * 16)
    used = torch.zeros(BATCH, 256, dtype=torch.int32)
    used[:, :252] = 1
    grid = torch.tensor([[14, 18]] * BATCH)
    pixels = torch.randn(BATCH, 3, 224, 224)
    naflex_rate = rate(lambda: naflex(pixel_values=patches, pixel_attention_mask=used,
                                      spatial_shapes=grid), args.seconds)
    fixed_rate = rate(lambda: fixed(pixel_values=pixels), args.seconds)
    print(json.dumps({"threads": torch.get_num_threads(), "batch": BATCH,
                      "naflex_4x3_photos_per_s": round(naflex_rate, 1),
                      "fixed_224_photos_per_s": round(fixed_rate, 1),
                      "ratio": round(naflex_rate / fixed_rate, 2)}, indent=1))


if __name__ == "__main__":
    main()
