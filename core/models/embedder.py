"""Image-text models: loading (local folder or hub id) and batched image/text vectors.

torch and transformers are imported inside functions: importing this module is cheap, so
a front can show itself before the model loads.

Vectors are L2-normalised float32. Images come in as uint8 pixels already resized and
cropped by :mod:`core.photos.imaging` (decoding runs in a thread pool, the model in the caller's
thread); the only work left here is normalising them, which is exactly what the model's
own processor would do, so the vectors match the reference transformers path.

Families, and what differs between them (:attr:`Embedder.family`):

- ``clip`` (OpenAI and LAION checkpoints alike): shortest edge then centre crop; texts
  padded to the longest in the batch with an attention mask, at most 77 tokens.
- ``siglip`` and ``siglip2`` (fixed-resolution SigLIP 2: model_type "siglip" with a Gemma
  tokenizer): a square resize without crop; every text padded to the length the model was
  trained with (64), as its pooled vector is read at the last position, with only the
  inputs its tokenizer names (google/siglip-*: no attention mask, as in training); SigLIP 2
  texts are lower-cased as in its training (SigLIP's own SentencePiece tokenizer lower-cases
  and drops punctuation itself). No projection: vectors are the towers' width.
- ``chinese_clip``: a square resize; BERT WordPiece texts (each CJK character a token) of
  at most 52 tokens, Chinese-CLIP's context length.
- SigLIP 2 NaFlex (model_type "siglip2", family ``siglip2``): texts as SigLIP 2; each photo
  keeps its shape, resized to at most ``max_num_patches`` patches, and travels through the
  decode pool as one fixed-shape array of patches (core.photos.imaging.naflex_pixels), so batches
  stack as for the other families. It runs on PyTorch (the int8 tower is fixed-size).
"""

from __future__ import annotations

import json
import logging
import math
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

from core.config import model_files_digest, model_slug
from core.errors import ModelUnavailableError
from core.files import read_json_object, write_atomic
from core.models import fast_images, model_files
from core.photos.imaging import ModelInput, naflex_unpack, to_model_pixels
from core.types import Vector

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
DownloadCallback = Callable[[int, int], None]
"""Called with ``(bytes_done, bytes_total)`` while a model downloads."""

# A fine-tuned version (core/finetune/run.py): its record, and the parts that trained.
VERSION_RECORD = "pictor-finetune.json"
VERSION_PARTS = "pictor-trained-parts.safetensors"
# Only what loading needs: weights as safetensors (never pickles), configs, tokenizers.
_MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]
# Mixed precision is used only when it keeps vectors this close to fp32.
MIN_PRECISION_COSINE = 0.999
TEXT_CACHE_SIZE = 512
"""Query texts whose vectors :meth:`Embedder.text_vector` keeps (2 KB each)."""
CHINESE_CLIP_CONTEXT = 52
"""Tokens Chinese-CLIP was trained on (its BERT tower has 512 positions)."""
MULTILINGUAL_VOCAB = 200_000
"""A text vocabulary this large is multilingual (SigLIP's i18n checkpoints: 250k)."""
ENGLISH: frozenset[str] = frozenset({"en"})
CHINESE: frozenset[str] = frozenset({"zh", "en"})
MULTILINGUAL: frozenset[str] = frozenset(
    {"en", "zh", "ja", "ko", "de", "fr", "es", "it", "pt", "nl", "ru", "pl", "tr", "ar", "hi",
     "id", "th", "vi"})
_TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True, slots=True)
class _Normalisation:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class _TextSettings:
    """How a family's texts are tokenised."""

    max_length: int
    pad_to_max: bool  # SigLIP: always the trained length, never the batch's longest
    lowercase: bool  # SigLIP 2 was trained on lower-cased captions


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


def version_record(folder: Path, name: str) -> dict[str, Any] | None:
    """The record of a fine-tuned version saved as its trained parts (None for a whole
    model): ``base_model`` is what it was trained from. See core/finetune/run.py."""
    if not (folder / VERSION_PARTS).is_file():
        return None
    record = read_json_object(folder / VERSION_RECORD)
    if record is None or "base_model" not in record:
        raise ModelUnavailableError(
            f"the fine-tuned version {name} has no readable {VERSION_RECORD}")
    return record


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
    """A loaded image-text model that turns pixels and texts into unit vectors.

    ``family`` names how it is driven (see the module's docstring); ``languages`` holds the
    ISO 639-1 codes of the languages its text tower was trained on, as far as is known.
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
        self.image_input, self._norm = _image_settings(processor)
        self.dim = _dimension(config, name)
        self._text = _text_settings(self.family, config, processor.tokenizer)
        self._mean = torch.tensor(self._norm.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(self._norm.std).view(1, 3, 1, 1)
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
        chosen = pick_device(device)
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

    def _choose_precision(self, cache: Path | None = None) -> None:
        """fp16 on CUDA; bf16 autocast on CPUs that do bf16 natively, if accurate enough
        (checked once per model and weights, and remembered in ``cache``)."""
        import torch

        if self.device == "cuda":
            self.model.half()
            self.dtype = torch.float16
            return
        if self.device != "cpu" or not cpu_has_fast_bf16():
            return
        record = cache / f"{model_slug(self.name)}.json" if cache else None
        remembered = read_json_object(record) if record else None
        if remembered and remembered.get("weights") == self.weights_key:
            self.autocast = bool(remembered.get("bf16_autocast"))
            return
        pixels = self._probe_pixels()
        texts = ["a photo of a dog", "a red circle on grass", "sunset over the sea", "海边日落"]
        reference = self.embed_pixels(pixels), self.embed_texts(texts)
        self.autocast = True
        fast = self.embed_pixels(pixels), self.embed_texts(texts)
        worst = min(float(np.min(np.sum(a * b, axis=1))) for a, b in zip(reference, fast,
                                                                           strict=True))
        self.autocast = worst >= MIN_PRECISION_COSINE
        log.info("bf16 autocast %s (worst cosine %.5f)", self.autocast, worst)
        if record is not None:
            _remember(record, {"weights": self.weights_key, "bf16_autocast": self.autocast,
                                 "worst_cosine": round(worst, 6)})

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
            return _features(output).float().numpy()

        def current(pixels: fast_images.Features) -> fast_images.Features:
            with torch.inference_mode(), self._autocast():
                output = self.model.get_image_features(pixel_values=torch.from_numpy(pixels))
            return _features(output).float().numpy()

        name, folder = self.image_source
        self._fast_images = fast_images.load_or_build(
            self.model, name=name, folder=folder, cache=cache,
            image_size=self.image_input.size, reference=reference, current=current,
            probe=np.ascontiguousarray(
                self._normalised(_probe_pixels(self.image_input.size)).numpy()),
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
            return _normalise(torch.from_numpy(self._fast_images(pixels_in)))
        batch = batch.to(self.device, dtype=self.dtype, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            features = _features(self.model.get_image_features(pixel_values=batch))
        return _normalise(features)

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
            features = _features(self.model.get_image_features(
                pixel_values=values.to(self.device, dtype=self.dtype),
                pixel_attention_mask=used.to(self.device, dtype=torch.int32),
                spatial_shapes=torch.from_numpy(shapes).to(self.device)))
        return _normalise(features)

    def _probe_pixels(self) -> npt.NDArray[np.uint8]:
        """The precision checks' inputs, as this model takes them."""
        probes = _probe_pixels(self.image_input.size)
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
            features = _features(self.model.get_text_features(**self.tokens(texts)))
        return _normalise(features)

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


def _features(output: Any) -> torch.Tensor:
    """transformers 5 returns a ModelOutput whose pooler_output is the final vector (CLIP,
    Chinese-CLIP: projected; SigLIP: the text head at the last position, the image
    attention-pooling head); older releases returned the tensor itself."""
    tensor: torch.Tensor = output if hasattr(output, "float") else output.pooler_output
    return tensor


def _normalise(features: torch.Tensor) -> Vector:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Vector = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


# -- families --------------------------------------------------------------------------


def model_family(config: Any, tokenizer: Any) -> str:
    """``clip``, ``siglip``, ``siglip2``, ``chinese_clip``, or another model_type (driven
    like CLIP). Fixed-resolution SigLIP 2 checkpoints say model_type "siglip"; their Gemma
    tokenizer tells them apart."""
    kind = str(config.model_type)
    tokenizer_class = type(tokenizer).__name__.lower()
    if kind == "siglip2" or (kind == "siglip" and ("gemma" in tokenizer_class
                                                   or "siglip2" in tokenizer_class)):
        return "siglip2"  # NaFlex checkpoints say "siglip2"; their images are told apart
    return kind


def model_languages(family: str, vocab_size: int) -> frozenset[str]:
    """Languages the text tower reads: Chinese-CLIP Chinese (and some English); SigLIP 2
    and any model with a vocabulary of 200k+ tokens many; the rest English."""
    if family == "chinese_clip":
        return CHINESE
    if family == "siglip2" or vocab_size >= MULTILINGUAL_VOCAB:
        return MULTILINGUAL
    return ENGLISH


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


def _dimension(config: Any, name: str) -> int:
    """The vector size: CLIP and Chinese-CLIP project both towers to ``projection_dim``;
    SigLIP has no projection, its towers' heads end at their own widths (equal)."""
    projection = getattr(config, "projection_dim", None)
    if projection:
        return int(projection)
    text = config.text_config
    text_dim = int(getattr(text, "projection_size", None) or text.hidden_size)
    image_dim = int(config.vision_config.hidden_size)
    if text_dim != image_dim:
        raise ModelUnavailableError(
            f"{name}: its text vectors ({text_dim}) and image vectors ({image_dim}) differ in "
            "size, so they cannot be compared"
        )
    return text_dim


def _text_settings(family: str, config: Any, tokenizer: Any) -> _TextSettings:
    positions = int(config.text_config.max_position_embeddings)
    if family in ("siglip", "siglip2"):  # pooled at the last position: pad to what it saw
        return _TextSettings(positions, pad_to_max=True, lowercase=family == "siglip2")
    limit = positions
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 100_000:  # unset means 1e30
        limit = min(limit, declared)
    if family == "chinese_clip":
        limit = min(limit, CHINESE_CLIP_CONTEXT)
    return _TextSettings(limit, pad_to_max=False, lowercase=False)


# -- images ------------------------------------------------------------------------------


def _image_settings(processor: Any) -> tuple[ModelInput, _Normalisation]:
    """Read the size, crop, filter and normalisation the model's image processor applies.

    ``size`` as height x width (SigLIP, Chinese-CLIP) is a resize to that square whatever
    the photo's shape, and a centre crop of the same size changes nothing; ``size`` as a
    shortest edge (CLIP) keeps the aspect ratio and the crop takes the middle square.
    """
    image_processor = getattr(processor, "image_processor", processor)
    max_patches = getattr(image_processor, "max_num_patches", None)
    if max_patches:  # SigLIP 2 NaFlex: the photo's own shape, in patches
        patch = int(getattr(image_processor, "patch_size", 16))
        spec = ModelInput(size=patch * math.isqrt(int(max_patches)), crop=False,
                          resample=_resampling(getattr(image_processor, "resample", None)),
                          patch=patch, max_patches=int(max_patches))
        return spec, _normalisation(image_processor)
    size = _as_dict(getattr(image_processor, "size", None),
                    square=bool(getattr(image_processor, "default_to_square", True)))
    crop_size = _as_dict(getattr(image_processor, "crop_size", None))
    cropped = bool(getattr(image_processor, "do_center_crop", False)) and bool(crop_size)
    crop_side = _side(crop_size) if cropped else None
    resample = _resampling(getattr(image_processor, "resample", None))
    if size.get("height") and size.get("width"):
        side = _side(size)
        if crop_side not in (None, side):
            raise ModelUnavailableError(
                f"the model's images are resized to {side}x{side} then cropped to "
                f"{crop_side}: Pictor does not support that preprocessing")
        spec = ModelInput(size=side, crop=False, resample=resample)
    elif crop_side is not None:
        if size.get("shortest_edge") not in (None, crop_side):
            log.warning("model resizes to %s then crops %s; Pictor resizes to the crop",
                        size.get("shortest_edge"), crop_side)
        spec = ModelInput(size=crop_side, crop=True, resample=resample)
    else:
        spec = ModelInput(size=int(size.get("shortest_edge") or 224), crop=False,
                          resample=resample)
    return spec, _normalisation(image_processor)


def _normalisation(image_processor: Any) -> _Normalisation:
    if getattr(image_processor, "do_normalize", True) is False:
        return _Normalisation((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    mean = tuple(float(v) for v in getattr(image_processor, "image_mean", (0.5, 0.5, 0.5)))
    std = tuple(float(v) for v in getattr(image_processor, "image_std", (0.5, 0.5, 0.5)))
    return _Normalisation(mean, std)  # type: ignore[arg-type]


def _side(size: dict[str, Any]) -> int:
    """The side of a square size; a non-square one cannot be met."""
    height = size.get("height") or size.get("shortest_edge") or 224
    width = size.get("width") or height
    if height != width:
        raise ModelUnavailableError(f"the model wants {width}x{height} images; Pictor "
                                    "supports square model inputs only")
    return int(height)


def _resampling(value: Any) -> Image.Resampling:
    """Pillow's filter for a processor's ``resample`` (an int, or an enum with a name)."""
    try:
        return Image.Resampling(int(value))
    except (TypeError, ValueError):
        pass
    try:
        return Image.Resampling[str(getattr(value, "name", value)).upper()]
    except KeyError:
        return Image.Resampling.BICUBIC


def _as_dict(value: Any, *, square: bool = True) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, int):  # transformers 5 turns these into SizeDicts; older objects
        return {"height": value, "width": value} if square else {"shortest_edge": value}
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


def _weights_key(folder: Path, *more: str) -> str:
    """What a model's vectors depend on: its files, torch's version (and ``more``)."""
    import torch

    return model_files_digest(folder, f"{torch.__version__}|{'|'.join(more)}")


def _remember(path: Path, value: dict[str, Any]) -> None:
    """Best effort (a cache): a read-only or full disk only costs the check next time."""
    try:
        write_atomic(path, json.dumps(value).encode())
    except OSError as error:
        log.debug("not remembered: %s (%s)", path, error)
