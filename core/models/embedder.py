"""The Embedder: a loaded image-text model that turns pixels and texts into vectors.

Loading takes a model by folder or hub id (:mod:`core.models.sources`), checks its files
(:mod:`core.models.model_files`), puts it on a device at a precision
(:mod:`core.models.hardware`) and reads how its family is driven
(:mod:`core.models.families`); images may then run through the int8 tower
(:mod:`core.models.fast_images`).

torch and transformers are imported inside functions: importing this module is cheap, so
a front can show itself before the model loads.

Vectors are L2-normalised float32. Images come in as uint8 pixels already resized and
cropped by :mod:`core.photos.imaging` (decoding runs in a thread pool, the model in the
caller's thread); the only work left here is normalising them, which is exactly what the
model's own processor would do, so the vectors match the reference transformers path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.config import model_files_digest
from core.defaults import DEFAULT_MODEL
from core.errors import ModelUnavailableError
from core.models import fast_images, hardware, model_files
from core.models.families import (
    dimension,
    image_settings,
    model_family,
    model_languages,
    text_settings,
)
from core.models.hardware import MIN_PRECISION_COSINE, DeviceChoice
from core.models.outputs import features, unit_vectors
from core.models.sources import (
    VERSION_PARTS,
    VERSION_RECORD,
    DownloadCallback,
    resolve_model,
    version_record,
)
from core.photos.imaging import naflex_unpack, to_model_pixels
from core.types import Vector

if TYPE_CHECKING:
    import torch

__all__ = [  # the part's front door: callers import these from here
    "DEFAULT_MODEL",
    "VERSION_PARTS",
    "VERSION_RECORD",
    "DeviceChoice",
    "DownloadCallback",
    "Embedder",
]

TEXT_CACHE_SIZE = 512
"""Query texts whose vectors :meth:`Embedder.text_vector` keeps (2 KB each)."""
_TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Embedder:
    """A loaded image-text model that turns pixels and texts into unit vectors.

    ``family`` names how it is driven (see :mod:`core.models.families`); ``languages`` holds
    the ISO 639-1 codes of the languages its text tower was trained on, as far as is known.
    """

    def __init__(self, model: Any, processor: Any, *, name: str, device: str) -> None:
        import torch

        self.model = model
        self.processor = processor
        self.name = name
        self.device = device
        config = model.config
        self.family = model_family(config, processor.tokenizer)
        self.languages = model_languages(self.family, int(config.text_config.vocab_size))
        self.image_input, normalisation = image_settings(processor)
        self.dim = dimension(config, name)
        self._text = text_settings(self.family, config, processor.tokenizer)
        self._mean = torch.tensor(normalisation.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(normalisation.std).view(1, 3, 1, 1)
        self.dtype: torch.dtype = torch.float32
        self.autocast = False
        self._text_cache: OrderedDict[tuple[str, bool], Vector] = OrderedDict()
        self._text_cache_lock = threading.Lock()
        self.weights_key = ""  # what the model's vectors depend on (set by :meth:`load`)
        self.image_source: tuple[str, Path] | None = None
        """The model name and folder whose image tower this is (set by :meth:`load`): what
        the fast tower is cached under, shared by versions whose image side did not train."""
        self._fast_images: fast_images.ImageTower | None = None

    # -- loading -----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        name: str = DEFAULT_MODEL,
        *,
        device: DeviceChoice | str = "auto",
        precision: Literal["auto", "fp32"] = "auto",
        on_download: DownloadCallback | None = None,
        precision_cache: Path | None = None,
    ) -> Embedder:
        """Load a model by folder or hub id; raises :class:`ModelUnavailableError`.
        ``precision_cache`` remembers the bf16 check per model (it costs ~1 s a start)."""
        folder = resolve_model(name, on_download=on_download)
        record = version_record(folder, name)
        if record is not None:
            return cls._load_version(name, folder, record, device=device, precision=precision,
                                     on_download=on_download, precision_cache=precision_cache)
        model_files.check_folder(folder, name)
        chosen = hardware.pick_device(device)
        from transformers import AutoConfig, AutoModel, AutoProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # fronts show their own
        try:
            config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        except Exception as error:  # a value of the wrong type or range, an unknown model
            raise ModelUnavailableError(
                f"model {name} cannot be loaded: its config.json ({folder / 'config.json'}) "
                f"is not a model configuration this Pictor can use: {_brief(error)}"
            ) from error
        try:
            model, loaded = AutoModel.from_pretrained(  # mismatched sizes: refused below
                folder, config=config, use_safetensors=True, trust_remote_code=False,
                output_loading_info=True, ignore_mismatched_sizes=True)
            processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                folder, trust_remote_code=False
            )
        except Exception as error:  # whatever transformers meets, the user reads one sentence
            raise ModelUnavailableError(_load_failure(name, folder, error)) from error
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")
                and getattr(processor, "tokenizer", None) is not None):
            raise ModelUnavailableError(
                f"{name} is a {type(model).__name__}, not an image-text model (CLIP, SigLIP, "
                "Chinese-CLIP) with image and text towers"
            )
        model_files.check_loaded(name, loaded, len(model.state_dict()))
        model.eval().to(chosen)
        embedder = cls(model, processor, name=name, device=chosen)
        embedder.image_source = (name, folder)
        embedder.weights_key = _weights_key(folder)
        if precision == "auto":
            embedder._choose_precision(precision_cache)
        return embedder

    @classmethod
    def _load_version(cls, name: str, folder: Path, record: dict[str, Any], *,
                      device: DeviceChoice | str, precision: Literal["auto", "fp32"],
                      on_download: DownloadCallback | None,
                      precision_cache: Path | None) -> Embedder:
        """A fine-tuned version saved as its trained parts: its base model with them."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        base = str(record["base_model"])
        try:
            inner = cls.load(base, device=device, precision="fp32", on_download=on_download)
        except ModelUnavailableError as error:
            raise ModelUnavailableError(
                f"the fine-tuned version {name} needs the model it was trained from, which "
                f"cannot be loaded: {error}") from error
        why = model_files.safetensors_problem(folder / VERSION_PARTS)
        if why is not None:
            raise ModelUnavailableError(
                f"the fine-tuned version {name} cannot be read: {folder / VERSION_PARTS} is not "
                f"a valid safetensors file: {why}")
        try:
            parts = load_file(folder / VERSION_PARTS)
            unexpected = inner.model.load_state_dict(parts, strict=False).unexpected_keys
        except (OSError, RuntimeError, SafetensorError) as error:
            raise ModelUnavailableError(
                f"the fine-tuned version {name} cannot be read ({error})") from error
        if unexpected:
            raise ModelUnavailableError(
                f"the fine-tuned version {name} does not fit {base}: "
                f"unknown {', '.join(unexpected[:3])}")
        embedder = cls(inner.model, inner.processor, name=name, device=inner.device)
        embedder.image_source = (name, folder) if record.get("settings", {}).get(
            "train_vision") else inner.image_source  # the base's tower: same weights
        embedder.weights_key = _weights_key(folder, inner.weights_key)
        if precision == "auto":
            embedder._choose_precision(precision_cache)
        return embedder

    # -- precision, the int8 image tower ---------------------------------------------

    def _choose_precision(self, cache: Path | None = None) -> None:
        """fp16 on CUDA; bf16 autocast on CPUs that do bf16 natively, if accurate enough
        (checked once per model and weights, and remembered in ``cache``)."""
        import torch

        if self.device == "cuda":
            self.model.half()
            self.dtype = torch.float16
            return
        if self.device != "cpu" or not hardware.cpu_has_fast_bf16():
            return
        self.autocast = hardware.bf16_verdict(name=self.name, weights_key=self.weights_key,
                                              cache=cache, worst_cosine=self._bf16_cosine)

    def _bf16_cosine(self) -> float:
        """The worst cosine between fp32 and bf16-autocast vectors of the probe inputs."""
        pixels = self._probe_pixels()
        texts = list(hardware.PROBE_TEXTS)
        reference = self.embed_pixels(pixels), self.embed_texts(texts)
        self.autocast = True
        try:
            fast = self.embed_pixels(pixels), self.embed_texts(texts)
        finally:
            self.autocast = False
        return min(float(np.min(np.sum(a * b, axis=1)))
                   for a, b in zip(reference, fast, strict=True))

    def has_fast_images(self, cache: Path) -> bool | None:
        """Whether :meth:`use_fast_images` has nothing to build (True: a tower, or a refusal
        of one, is in ``cache``), would build one (False), or cannot run one here (None:
        not a CPU, ONNX Runtime missing, or a NaFlex model)."""
        if self._fast_images is not None:
            return True
        if self.image_source is None or not self._can_run_fast_images():
            return None
        name, folder = self.image_source
        return fast_images.is_built(name=name, folder=folder, cache=cache)

    def _can_run_fast_images(self) -> bool:
        # The int8 tower is exported for a fixed image size: NaFlex stays on PyTorch.
        return (self.device == "cpu" and fast_images.available()
                and not self.image_input.naflex)

    def use_fast_images(self, cache: Path, *, build: bool) -> bool:
        """From now on, run images through the int8 ONNX Runtime tower kept in ``cache``
        (:mod:`core.models.fast_images`), building it first if ``build``. True when it is on."""
        if self._fast_images is not None:
            return True
        if self.image_source is None or not self._can_run_fast_images():
            return False
        import torch

        def reference(pixels: fast_images.Features) -> fast_images.Features:
            with torch.inference_mode():
                output = self.model.get_image_features(pixel_values=torch.from_numpy(pixels))
            return features(output).float().numpy()

        def current(pixels: fast_images.Features) -> fast_images.Features:
            with torch.inference_mode(), self._autocast():
                output = self.model.get_image_features(pixel_values=torch.from_numpy(pixels))
            return features(output).float().numpy()

        name, folder = self.image_source
        self._fast_images = fast_images.load_or_build(
            self.model, name=name, folder=folder, cache=cache,
            image_size=self.image_input.size, reference=reference, current=current,
            probe=np.ascontiguousarray(
                self._normalised(hardware.probe_pixels(self.image_input.size)).numpy()),
            min_cosine=MIN_PRECISION_COSINE, threads=torch.get_num_threads(), build=build)
        return self._fast_images is not None

    @property
    def precision(self) -> str:
        if self._fast_images is not None:
            return "int8"
        if self.autocast:
            return "bf16"
        return "fp16" if str(self.dtype) == "torch.float16" else "fp32"

    # -- vectors -----------------------------------------------------------------------

    def embed_pixels(self, pixels: npt.NDArray[np.uint8]) -> Vector:
        """Vectors for a batch of ``(n, size, size, 3)`` uint8 images from core.photos.imaging
        (NaFlex: of core.photos.imaging.naflex_pixels arrays)."""
        import torch

        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.image_input.naflex:
            return self._embed_naflex(pixels)
        batch = self._normalised(pixels)
        if self._fast_images is not None:
            pixels_in = np.ascontiguousarray(batch.numpy())  # ONNX Runtime wants C order
            return unit_vectors(torch.from_numpy(self._fast_images(pixels_in)))
        batch = batch.to(self.device, dtype=self.dtype, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            output = self.model.get_image_features(pixel_values=batch)
        return unit_vectors(features(output))

    def _embed_naflex(self, pixels: npt.NDArray[np.uint8]) -> Vector:
        """SigLIP 2 NaFlex: patches, which of them are the photo, and its patch grid."""
        import torch

        patches, shapes = naflex_unpack(pixels)
        count = len(patches)
        values = torch.from_numpy(np.ascontiguousarray(patches)).float().view(count, -1, 3)
        values = (values / 255.0 - self._mean.view(1, 1, 3)) / self._std.view(1, 1, 3)
        values = values.view(count, patches.shape[1], -1)
        used = torch.arange(patches.shape[1])[None, :] < torch.from_numpy(
            shapes[:, 0] * shapes[:, 1])[:, None]
        values[~used] = 0.0  # as transformers pads: zeros after normalising
        with torch.inference_mode(), self._autocast():
            output = self.model.get_image_features(
                pixel_values=values.to(self.device, dtype=self.dtype),
                pixel_attention_mask=used.to(self.device, dtype=torch.int32),
                spatial_shapes=torch.from_numpy(shapes).to(self.device))
        return unit_vectors(features(output))

    def _probe_pixels(self) -> npt.NDArray[np.uint8]:
        """The precision checks' inputs, as this model takes them."""
        probes = hardware.probe_pixels(self.image_input.size)
        if not self.image_input.naflex:
            return probes
        return np.stack([to_model_pixels(Image.fromarray(p), self.image_input) for p in probes])

    def _normalised(self, pixels: npt.NDArray[np.uint8]) -> torch.Tensor:
        """uint8 ``(n, size, size, 3)`` to the model's float32 ``(n, 3, size, size)``."""
        import torch

        batch = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2)
        return (batch.float() / 255.0 - self._mean) / self._std

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
        with torch.inference_mode(), self._autocast():
            output = self.model.get_text_features(**self.tokens(texts))
        return unit_vectors(features(output))

    def tokens(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The text tower's inputs for ``texts``, tokenised the way the family was trained."""
        settings = self._text
        batch = [t.lower() for t in texts] if settings.lowercase else list(texts)
        encoded = self.processor.tokenizer(
            batch, padding="max_length" if settings.pad_to_max else True, truncation=True,
            max_length=settings.max_length, return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in encoded.items() if k in _TEXT_INPUTS}

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def _load_failure(name: str, folder: Path, error: Exception) -> str:
    text = str(error).lower()
    if "sentencepiece" in text or "protobuf" in text:  # google/siglip-*
        # Both are Pictor's dependencies: only a damaged or hand-made environment lacks them.
        return (f"model {name} has a SentencePiece tokenizer, which needs the sentencepiece "
                "and protobuf packages: they come with Pictor, so reinstall it (or pip install "
                "sentencepiece protobuf)")
    return f"cannot load model {name} from {folder}: {_brief(error)}"


def _brief(error: Exception, limit: int = 300) -> str:
    """A library's error on one line, without the lists some append ("Errors: ...")."""
    text = " ".join(str(error).split()).split(" Errors: ")[0] or type(error).__name__
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _weights_key(folder: Path, *more: str) -> str:
    """What a model's vectors depend on: its files, torch's version (and ``more``)."""
    import torch

    return model_files_digest(folder, f"{torch.__version__}|{'|'.join(more)}")
