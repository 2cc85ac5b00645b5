"""Model families, and what differs between them: read from a checkpoint's config, tokenizer
and image processor, so that the embedder drives each one as it was trained.

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
  decode pool as one fixed-shape array of patches (core.photos.imaging.naflex_pixels), so
  batches stack as for the other families. It runs on PyTorch (the int8 tower is
  fixed-size).

Everything here reads plain attributes: nothing imports torch or transformers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from core.errors import ModelUnavailableError
from core.photos.imaging import ModelInput

log = logging.getLogger(__name__)

CHINESE_CLIP_CONTEXT = 52
"""Tokens Chinese-CLIP was trained on (its BERT tower has 512 positions)."""
MULTILINGUAL_VOCAB = 200_000
"""A text vocabulary this large is multilingual (SigLIP's i18n checkpoints: 250k)."""
ENGLISH: frozenset[str] = frozenset({"en"})
CHINESE: frozenset[str] = frozenset({"zh", "en"})
MULTILINGUAL: frozenset[str] = frozenset(
    {"en", "zh", "ja", "ko", "de", "fr", "es", "it", "pt", "nl", "ru", "pl", "tr", "ar", "hi",
     "id", "th", "vi"})


@dataclass(frozen=True, slots=True)
class Normalisation:
    """The per-channel mean and standard deviation pixels (0..1) are normalised with."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class TextSettings:
    """How a family's texts are tokenised."""

    max_length: int
    pad_to_max: bool  # SigLIP: always the trained length, never the batch's longest
    lowercase: bool  # SigLIP 2 was trained on lower-cased captions


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


def dimension(config: Any, name: str) -> int:
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


def text_settings(family: str, config: Any, tokenizer: Any) -> TextSettings:
    """The longest text in tokens, and how texts are padded and cased."""
    positions = int(config.text_config.max_position_embeddings)
    if family in ("siglip", "siglip2"):  # pooled at the last position: pad to what it saw
        return TextSettings(positions, pad_to_max=True, lowercase=family == "siglip2")
    limit = positions
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 100_000:  # unset means 1e30
        limit = min(limit, declared)
    if family == "chinese_clip":
        limit = min(limit, CHINESE_CLIP_CONTEXT)
    return TextSettings(limit, pad_to_max=False, lowercase=False)


# -- images ------------------------------------------------------------------------------


def image_settings(processor: Any) -> tuple[ModelInput, Normalisation]:
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


def _normalisation(image_processor: Any) -> Normalisation:
    if getattr(image_processor, "do_normalize", True) is False:
        return Normalisation((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    mean = tuple(float(v) for v in getattr(image_processor, "image_mean", (0.5, 0.5, 0.5)))
    std = tuple(float(v) for v in getattr(image_processor, "image_std", (0.5, 0.5, 0.5)))
    return Normalisation(mean, std)  # type: ignore[arg-type]


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
