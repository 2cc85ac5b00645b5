"""CLIP-family models: loading (local folder or hub id) and batched image/text vectors.

torch and transformers are imported inside functions: importing this module is cheap, so
a front can show itself before the model loads (GUIDE: import torch lazily).

Vectors are L2-normalised float32. Images come in as uint8 pixels already resized and
cropped by :mod:`core.imaging` (decoding runs in a thread pool, the model in the caller's
thread); the only work left here is normalising them, which is exactly what the model's
own processor would do, so the vectors match the reference transformers path.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ModelUnavailableError
from core.imaging import ModelInput, to_model_pixels
from core.types import Vector

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
DownloadCallback = Callable[[int, int], None]
"""Called with ``(bytes_done, bytes_total)`` while a model downloads."""

# Only what loading needs: weights as safetensors (never pickles), configs, tokenizers.
_MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]
# Mixed precision is used only when it keeps vectors this close to fp32.
MIN_PRECISION_COSINE = 0.999
TEXT_CACHE_SIZE = 512
"""Query texts whose vectors :meth:`Embedder.text_vector` keeps (2 KB each)."""


@dataclass(frozen=True, slots=True)
class _Normalisation:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def resolve_model(name: str, *, on_download: DownloadCallback | None = None) -> Path:
    """The local folder of a model given as a folder path or a Hugging Face hub id.

    A hub id is taken from the local cache when it is there, else downloaded (only the
    files needed: configs, tokenizer, safetensors weights).
    """
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    if name.startswith((".", "/", "~", "\\")) or candidate.suffix or name.count("/") != 1:
        raise ModelUnavailableError(
            f"model folder not found: {name} (give a folder that holds a saved CLIP-family "
            "model, or a Hugging Face id such as openai/clip-vit-base-patch32)"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, allow_patterns=_MODEL_FILES, local_files_only=True))
    except Exception:  # not cached: fall through to a download
        pass
    hint = (
        f"model {name} is not on this computer and could not be downloaded"
        f" (offline?). Download it once on a connected machine, or pass --model "
        f"/path/to/folder with a saved copy of it"
    )
    if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"):
        raise ModelUnavailableError(hint.replace(" (offline?)", " (offline mode is on)"))
    try:
        return Path(
            snapshot_download(
                name, allow_patterns=_MODEL_FILES, tqdm_class=_progress_class(on_download)
            )
        )
    except Exception as error:
        raise ModelUnavailableError(f"{hint}: {error}") from error


def _progress_class(on_download: DownloadCallback | None) -> Any:
    """A tqdm stand-in that forwards byte counts to a callback (and draws nothing)."""
    from tqdm.auto import tqdm

    class _Reporter(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = 0

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            if on_download is not None and self.total:
                on_download(self._done, int(self.total))
            return None

    return _Reporter


def check_model_folder(folder: Path, name: str) -> None:
    """Refuse folders that would need pickled weights or code from the model's authors.

    transformers would refuse too (``use_safetensors=True``, ``trust_remote_code=False``);
    checking first gives the user a sentence instead of a stack of library errors.
    """
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth"})
        found = f" (it has {', '.join(pickles)})" if pickles else ""
        raise ModelUnavailableError(
            f"model {name} has no .safetensors weights{found}: Pictor loads only safetensors, "
            "which cannot run code. Convert the weights with transformers' save_pretrained "
            "on a trusted machine, or choose another model"
        )
    config = folder / "config.json"
    try:
        wants_code = "auto_map" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelUnavailableError(f"model {name} has no readable config.json") from None
    if wants_code:
        raise ModelUnavailableError(
            f"model {name} asks to run its own Python code (auto_map in config.json); "
            "Pictor never runs code that comes with a model"
        )


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


class Embedder:
    """A loaded CLIP-family model that turns pixels and texts into unit vectors."""

    def __init__(self, model: Any, processor: Any, *, name: str, device: str) -> None:
        import torch

        self.model = model
        self.processor = processor
        self.name = name
        self.device = device
        self.image_input, self._norm = _image_settings(processor)
        self.dim = int(model.config.projection_dim)
        self._text_max_length = int(model.config.text_config.max_position_embeddings)
        self._mean = torch.tensor(self._norm.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(self._norm.std).view(1, 3, 1, 1)
        self.dtype: torch.dtype = torch.float32
        self.autocast = False
        self._text_cache: OrderedDict[tuple[str, bool], Vector] = OrderedDict()
        self._text_cache_lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        name: str = DEFAULT_MODEL,
        *,
        device: DeviceChoice | str = "auto",
        precision: Literal["auto", "fp32"] = "auto",
        on_download: DownloadCallback | None = None,
    ) -> Embedder:
        """Load a model by folder or hub id; raises :class:`ModelUnavailableError`."""
        folder = resolve_model(name, on_download=on_download)
        check_model_folder(folder, name)
        chosen = pick_device(device)
        from transformers import AutoModel, AutoProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # fronts show their own
        try:
            model = AutoModel.from_pretrained(folder, use_safetensors=True,
                                              trust_remote_code=False)
            processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                folder, trust_remote_code=False
            )
        except (OSError, ValueError, KeyError) as error:
            raise ModelUnavailableError(f"cannot load model {name} from {folder}: {error}") \
                from error
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise ModelUnavailableError(
                f"{name} is a {type(model).__name__}, not a CLIP-family model with image and "
                "text towers"
            )
        model.eval().to(chosen)
        embedder = cls(model, processor, name=name, device=chosen)
        if precision == "auto":
            embedder._choose_precision()
        return embedder

    def _choose_precision(self) -> None:
        """fp16 on CUDA; bf16 autocast on CPUs that do bf16 natively, if accurate enough."""
        import torch

        if self.device == "cuda":
            self.model.half()
            self.dtype = torch.float16
            return
        if self.device != "cpu" or not cpu_has_fast_bf16():
            return
        pixels = _probe_pixels(self.image_input.size)
        texts = ["a photo of a dog", "a red circle on grass", "sunset over the sea"]
        reference = self.embed_pixels(pixels), self.embed_texts(texts)
        self.autocast = True
        fast = self.embed_pixels(pixels), self.embed_texts(texts)
        worst = min(float(np.min(np.sum(a * b, axis=1))) for a, b in zip(reference, fast,
                                                                           strict=True))
        self.autocast = worst >= MIN_PRECISION_COSINE
        log.info("bf16 autocast %s (worst cosine %.5f)", self.autocast, worst)

    @property
    def precision(self) -> str:
        if self.autocast:
            return "bf16"
        return "fp16" if str(self.dtype) == "torch.float16" else "fp32"

    # -- vectors -----------------------------------------------------------------------

    def embed_pixels(self, pixels: npt.NDArray[np.uint8]) -> Vector:
        """Vectors for a batch of ``(n, size, size, 3)`` uint8 images from core.imaging."""
        import torch

        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2)
        batch = (batch.float() / 255.0 - self._mean) / self._std
        batch = batch.to(self.device, dtype=self.dtype, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            features = _features(self.model.get_image_features(pixel_values=batch))
        return _normalise(features)

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        """Vectors for RGB PIL images (a dropped file, a query image)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_pixels(np.stack([to_model_pixels(im, self.image_input)
                                           for im in images]))

    def text_vector(self, text: str) -> Vector:
        """The vector of one query text, remembered: a repeated or refined search (the same
        words, the --not part, typing back) skips the text model."""
        key = (text, self.autocast)
        with self._text_cache_lock:
            cached = self._text_cache.get(key)
            if cached is not None:
                self._text_cache.move_to_end(key)
                return cached.copy()
        vector: Vector = self.embed_texts([text])[0]
        with self._text_cache_lock:
            self._text_cache[key] = vector.copy()
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return vector

    def embed_texts(self, texts: Sequence[str]) -> Vector:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = self.processor.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self._text_max_length,
            return_tensors="pt",
        )
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        with torch.inference_mode(), self._autocast():
            features = _features(self.model.get_text_features(**tokens))
        return _normalise(features)

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def _features(output: Any) -> torch.Tensor:
    """transformers 5 returns a ModelOutput whose pooler_output holds the projected vector;
    older releases returned the tensor itself."""
    tensor: torch.Tensor = output if hasattr(output, "float") else output.pooler_output
    return tensor


def _normalise(features: torch.Tensor) -> Vector:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Vector = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def _image_settings(processor: Any) -> tuple[ModelInput, _Normalisation]:
    """Read the size, crop and normalisation the model's own image processor applies."""
    image_processor = getattr(processor, "image_processor", processor)
    size = _as_dict(getattr(image_processor, "size", None))
    crop_size = _as_dict(getattr(image_processor, "crop_size", None))
    crop = bool(getattr(image_processor, "do_center_crop", False)) and bool(crop_size)
    if crop:
        side = int(crop_size.get("height") or crop_size.get("shortest_edge") or 224)
    else:
        side = int(size.get("height") or size.get("shortest_edge") or 224)
    mean = tuple(float(v) for v in getattr(image_processor, "image_mean", (0.5, 0.5, 0.5)))
    std = tuple(float(v) for v in getattr(image_processor, "image_std", (0.5, 0.5, 0.5)))
    return ModelInput(size=side, crop=crop), _Normalisation(mean, std)  # type: ignore[arg-type]


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, int):
        return {"height": value, "width": value}
    if isinstance(value, dict):
        return value
    return {k: getattr(value, k) for k in ("height", "width", "shortest_edge")
            if getattr(value, k, None) is not None}


def _probe_pixels(size: int) -> npt.NDArray[np.uint8]:
    """A few deterministic, image-like inputs (gradients and blobs) for precision checks."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    images = []
    for i in range(4):
        base = np.stack([np.add.outer(ramp, ramp) / 2, np.outer(ramp, np.ones(size)),
                         np.full((size, size), 40.0 * i)], axis=-1)
        noise = rng.normal(0, 25, base.shape)
        images.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return np.stack(images)
