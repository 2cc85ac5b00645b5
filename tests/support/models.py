"""Offline CLIP models for tests: a random tiny one and a tiny one trained on the toy world.

Both are real ``transformers.CLIPModel`` checkpoints with the real CLIP tokenizer, written with
``save_pretrained``, so the code under test loads them through ``AutoModel`` /
``AutoProcessor`` exactly as it loads a downloaded model. The random model is for plumbing
(shapes, batching, saving); the trained one is for behaviour a user notices: "a red circle"
finds red circles, and a re-saved copy of a photo is its closest neighbour.

Note for callers: in transformers 5 ``CLIPModel.get_image_features`` / ``get_text_features``
return a ``BaseModelOutputWithPooling``; the projected, not yet normalised, vectors are its
``pooler_output`` (transformers 4 returned that tensor directly).
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import toyworld
from .tokenizer import write_clip_tokenizer

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

BOS_ID, EOS_ID, PAD_ID = 49406, 49407, 1  # as in openai/clip-vit-base-patch32's config


def _processor(image_size: int) -> CLIPProcessor:
    """A CLIP processor with the real tokenizer and OpenAI's image normalisation."""
    from transformers import CLIPImageProcessor, CLIPProcessor, CLIPTokenizer
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    with tempfile.TemporaryDirectory() as tmp:
        write_clip_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(OPENAI_CLIP_MEAN),
        image_std=list(OPENAI_CLIP_STD),
    )
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def _model(
    *, seed: int, image_size: int, patch_size: int, hidden: int, projection_dim: int, layers: int
) -> CLIPModel:
    """A randomly initialised CLIP with the real vocabulary and context length."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    common = {
        "hidden_size": hidden,
        "intermediate_size": hidden * 4,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, hidden // 16),
        "projection_dim": projection_dim,
    }
    config = CLIPConfig(
        text_config={
            **common,
            "vocab_size": 49408,
            "max_position_embeddings": 77,
            "bos_token_id": BOS_ID,
            "eos_token_id": EOS_ID,
            "pad_token_id": PAD_ID,
        },
        vision_config={**common, "image_size": image_size, "patch_size": patch_size},
        projection_dim=projection_dim,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        return CLIPModel(config)


def _save(model: CLIPModel, processor: CLIPProcessor, dest: Path) -> Path:
    """Write model and processor the way a downloaded checkpoint is laid out.

    ``save_pretrained`` writes config.json, model.safetensors, processor_config.json,
    tokenizer.json and tokenizer_config.json; vocab.json and merges.txt are added because
    downloaded CLIP checkpoints carry them too.
    """
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    processor.save_pretrained(dest)
    write_clip_tokenizer(dest)
    return dest


def build_tiny_clip(
    dest: Path,
    *,
    seed: int = 0,
    image_size: int = 32,
    hidden: int = 64,
    projection_dim: int = 32,
    layers: int = 2,
) -> Path:
    """Save an untrained tiny CLIP (plus processor) into ``dest`` and return ``dest``.

    Its vectors are meaningless but have the right shapes and types, which is all the
    plumbing tests need; it builds in about a second.
    """
    model = _model(
        seed=seed,
        image_size=image_size,
        patch_size=max(1, image_size // 4),
        hidden=hidden,
        projection_dim=projection_dim,
        layers=layers,
    )
    return _save(model, _processor(image_size), dest)


# --- the trained toy model -------------------------------------------------------------------

# (template, uses background) pairs: prompt variety so short and long queries both work
PROMPTS: tuple[tuple[str, bool], ...] = (
    ("a photo of a {colour} {shape} {background}", True),
    ("a {colour} {shape} {background}", True),
    ("a {colour} {shape}", False),
    ("{colour} {shape}", False),
    ("a photo of a {colour} {shape}", False),
    ("a picture of a {colour} {shape}", False),
    ("a {shape} that is {colour}", False),
    ("{colour} {shape} {background}", True),
)
TOY_IMAGE_SIZE = 32
TOY_STEPS = 900
TOY_BATCH = 96
TOY_POOL = 3000
TOY_LR = 2e-3
TOY_ZOOM = 0.03  # training jitter: up to 3% zoom and a shift of ...
TOY_SHIFT = 0.03  # ... 3% of half the side; more slows the learning of shapes
TOY_COPIES = 32  # photos per batch that also get a near-duplicate view
TOY_COPY_WEIGHT = 0.5
TOY_COPY_SCALE = 10.0  # fixed inverse temperature of the near-duplicate term
TOY_DISTRACTORS = 48  # everyday captions per batch that describe none of the toy photos
VOCABULARY = Path(__file__).resolve().parents[2] / "resources" / "vocabulary.tsv"


@dataclass(frozen=True)
class _TextBank:
    """Every training prompt, tokenised once, with the scene attributes it names."""

    input_ids: torch.Tensor  # (n_prompts, length)
    attention_mask: torch.Tensor
    labels: np.ndarray  # (n_prompts, 3): colour, shape, background index; -1 = not named


def _attributes(scene: toyworld.Scene) -> tuple[int, int, int]:
    """Indices of a scene's colour, shape and background."""
    return (
        list(toyworld.COLOURS).index(scene.colour),
        toyworld.SHAPES.index(scene.shape),
        list(toyworld.BACKGROUNDS).index(scene.background),
    )


def _text_bank(processor: CLIPProcessor) -> _TextBank:
    """Tokenise all (scene, template) prompts; row ``scene * len(PROMPTS) + template``."""
    texts, labels = [], []
    for scene in toyworld.all_scenes():
        colour, shape, background = _attributes(scene)
        for template, with_bg in PROMPTS:
            texts.append(
                template.format(
                    colour=scene.colour,
                    shape=scene.shape,
                    background=toyworld.BACKGROUNDS[scene.background],
                )
            )
            labels.append((colour, shape, background if with_bg else -1))
    tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")
    return _TextBank(tokens["input_ids"], tokens["attention_mask"], np.array(labels))


def _pixels(processor: CLIPProcessor, images: Sequence[Image.Image]) -> torch.Tensor:
    """Preprocess images exactly as inference does."""
    return processor(images=list(images), return_tensors="pt")["pixel_values"]


def distractor_terms() -> list[str]:
    """The built-in vocabulary's English terms (resources/vocabulary.tsv, first column)."""
    lines = VOCABULARY.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def _distractor_bank(processor: CLIPProcessor) -> tuple[torch.Tensor, torch.Tensor]:
    """Everyday captions ("a photo of birthday cake"), tokenised once.

    A real CLIP has seen cakes and dogs and knows a red circle is neither; the toy model
    learns it from these captions, used only as wrong answers for every toy photo. Without
    them, words it never saw land anywhere, often close to some shape, and no relevance
    cut-off could be tested honestly.
    """
    texts = [f"a photo of {term}" for term in distractor_terms()]
    tokens = processor.tokenizer(texts, padding=True, truncation=True, max_length=32,
                                 return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]


@dataclass(frozen=True)
class _TrainingSet:
    """Preprocessed toy photos with their attributes, and the prompt banks."""

    pixels: torch.Tensor  # (n, 3, size, size)
    labels: torch.Tensor  # (n, 3) attribute indices
    scene_ids: np.ndarray  # (n,) index into toyworld.all_scenes()
    texts: _TextBank
    distractors: tuple[torch.Tensor, torch.Tensor] | None  # input_ids, attention_mask


def _training_set(processor: CLIPProcessor, *, seed: int, n: int,
                  distractors: bool = True) -> _TrainingSet:
    import torch

    scenes = toyworld.random_scenes(n, seed=seed)
    scene_index = {s: i for i, s in enumerate(toyworld.all_scenes())}
    return _TrainingSet(
        pixels=_pixels(processor, toyworld.render_many(scenes, seed=seed)),
        labels=torch.tensor([_attributes(s) for s in scenes]),
        scene_ids=np.array([scene_index[s] for s in scenes]),
        texts=_text_bank(processor),
        distractors=_distractor_bank(processor) if distractors else None,
    )


def _contrastive_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    scale: torch.Tensor,
    match: torch.Tensor,
    negatives: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE where every text consistent with an image counts as its positive.

    Plain InfoNCE would punish "a red circle" for matching two red circles in one batch; the
    targets spread over all matching pairs instead. ``negatives`` are extra texts that match
    no image: they join each image's choices, never as the answer.
    """
    import torch
    import torch.nn.functional as F

    texts = text_embeds if negatives is None else torch.cat([text_embeds, negatives])
    logits = scale * F.normalize(image_embeds, dim=-1) @ F.normalize(texts, dim=-1).T
    wanted = F.pad(match, (0, len(texts) - len(text_embeds)))
    targets_i = wanted / wanted.sum(dim=1, keepdim=True)
    targets_t = match.T / match.T.sum(dim=1, keepdim=True)
    loss_i = -(targets_i * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    text_logits = logits[:, : len(text_embeds)].T
    loss_t = -(targets_t * F.log_softmax(text_logits, dim=1)).sum(dim=1).mean()
    return (loss_i + loss_t) / 2


def _jitter(pixels: torch.Tensor, rng: np.random.Generator, mirror: np.ndarray) -> torch.Tensor:
    """Mirror the chosen photos and shift/zoom each a little, as a re-framed copy would be.

    Without it the vectors follow the exact pixel grid, and a slightly cropped duplicate can
    land nearer another photo than its original.
    """
    import torch
    import torch.nn.functional as F

    n = len(pixels)
    theta = np.zeros((n, 2, 3), np.float32)
    zoom = rng.uniform(1 - TOY_ZOOM, 1 + TOY_ZOOM, n)
    theta[:, 0, 0] = zoom * np.where(mirror, -1, 1)
    theta[:, 1, 1] = zoom
    theta[:, :, 2] = rng.uniform(-TOY_SHIFT, TOY_SHIFT, (n, 2))
    grid = F.affine_grid(torch.from_numpy(theta), list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, padding_mode="border", align_corners=False)


def _brighten(pixels: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Scale the brightness of normalised pixels by up to 10%, like near_duplicate does."""
    import torch
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    mean = torch.tensor(OPENAI_CLIP_MEAN)[:, None, None]
    std = torch.tensor(OPENAI_CLIP_STD)[:, None, None]
    gain = torch.from_numpy(rng.uniform(0.9, 1.1, len(pixels)).astype(np.float32))
    raw = (pixels * std + mean) * gain[:, None, None, None]
    return (raw.clamp(0, 1) - mean) / std


def _batch_loss(model: CLIPModel, data: _TrainingSet, rng: np.random.Generator) -> torch.Tensor:
    """Loss on a random batch: photos against one random prompt each, plus copies of photos.

    The text term teaches what a photo shows. The copy term (a re-framed, re-lit second view
    of some photos must pick out its own original) keeps enough of each photo's identity that
    a near-duplicate is nearer than another photo of the same scene.
    """
    import torch

    idx = rng.integers(0, len(data.scene_ids), size=TOY_BATCH)
    rows = data.scene_ids[idx] * len(PROMPTS) + rng.integers(0, len(PROMPTS), size=TOY_BATCH)
    mirror = rng.random(TOY_BATCH) < 0.5
    k = TOY_COPIES
    views = _jitter(data.pixels[idx], rng, mirror)
    copies = _brighten(_jitter(data.pixels[idx[:k]], rng, mirror[:k]), rng)
    embeds = model.get_image_features(pixel_values=torch.cat([views, copies])).pooler_output
    image_embeds, copy_embeds = embeds[:TOY_BATCH], embeds[TOY_BATCH:]
    text_embeds = model.get_text_features(
        input_ids=data.texts.input_ids[rows], attention_mask=data.texts.attention_mask[rows]
    ).pooler_output
    negatives = None
    if data.distractors is not None:
        bank_ids, bank_mask = data.distractors
        picked = torch.from_numpy(rng.integers(0, len(bank_ids), size=TOY_DISTRACTORS))
        negatives = model.get_text_features(
            input_ids=bank_ids[picked], attention_mask=bank_mask[picked]).pooler_output
    labels_i, labels_t = data.labels[idx], torch.from_numpy(data.texts.labels[rows])
    # a prompt matches a photo when every attribute it names (>= 0) is the photo's
    match = ((labels_t[None] == labels_i[:, None]) | (labels_t[None] < 0)).all(-1)
    text_loss = _contrastive_loss(image_embeds, text_embeds, model.logit_scale.exp(),
                                  match.float(), negatives)
    same = torch.from_numpy(idx[:k, None] == idx[None, :k]).float()
    scale = torch.tensor(TOY_COPY_SCALE)
    copy_loss = _contrastive_loss(image_embeds[:k], copy_embeds, scale, same)
    return text_loss + TOY_COPY_WEIGHT * copy_loss


def _fit(
    model: CLIPModel,
    data: _TrainingSet,
    *,
    seed: int,
    steps: int,
    deadline: float | None,
    log: Callable[[str], None] | None,
) -> None:
    """AdamW with warm-up and cosine decay; the temperature is learnt, capped at 100."""
    import torch

    # The 49408-row token table would dominate every optimizer step although the prompts use
    # a few dozen tokens; its random rows are distinct enough for the layers above.
    model.text_model.embeddings.token_embedding.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=TOY_LR, weight_decay=0.02)
    warmup = max(1, steps // 20)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    rng = np.random.default_rng(seed)
    model.train()
    for step in range(steps):
        loss = _batch_loss(model, data, rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if log and (step % 100 == 0 or step == steps - 1):
            log(f"step {step} loss {loss.item():.3f}")
        if deadline is not None and time.monotonic() > deadline:
            if log:
                log(f"stopped by the time limit after {step + 1} steps")
            break
    model.eval()


def train_toy_clip(
    dest: Path,
    *,
    seed: int = 0,
    steps: int = TOY_STEPS,
    seconds: float | None = None,
    distractors: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train a tiny CLIP on toy-world photos and captions, save it into ``dest``.

    Without ``distractors`` (everyday captions as wrong answers) it never learns that words
    it has not seen match nothing: unrelated texts spread so widely that the score
    calibration cannot separate them from good matches (a model to test that case with).

    Deterministic for a given seed: a fixed number of ``steps`` on one thread. ``seconds`` is
    an optional wall-clock cap for very slow machines; hitting it stops early and makes the
    result machine-dependent. ``log``, if given, receives progress lines.
    """
    import torch

    started = time.monotonic()
    processor = _processor(TOY_IMAGE_SIZE)
    model = _model(
        seed=seed, image_size=TOY_IMAGE_SIZE, patch_size=8, hidden=64, projection_dim=32, layers=2
    )
    threads = torch.get_num_threads()
    # One thread: results that do not depend on the core count, and no spin-waiting when the
    # cores are shared with other work (two threads ran up to 10x slower on a busy 2-core box).
    torch.set_num_threads(1)
    try:
        data = _training_set(processor, seed=seed, n=TOY_POOL, distractors=distractors)
        if log:
            log(f"{TOY_POOL} photos ready after {time.monotonic() - started:.1f}s")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            deadline = None if seconds is None else started + seconds
            _fit(model, data, seed=seed, steps=steps, deadline=deadline, log=log)
    finally:
        torch.set_num_threads(threads)
    if log:
        log(f"trained in {time.monotonic() - started:.1f}s")
    return _save(model, processor, dest)


# --- measuring a model through the ordinary inference path ----------------------------------


class ReferenceEncoder:
    """Vectors the plain transformers way: AutoProcessor, ``get_*_features``, L2 norm.

    This is how the quality bar is measured, and a reference the application's own embedder
    can be compared with.
    """

    def __init__(self, model_dir: Path) -> None:
        from transformers import AutoModel, AutoProcessor

        self.model = AutoModel.from_pretrained(model_dir).eval()
        self.processor = AutoProcessor.from_pretrained(model_dir)

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One unit-length row per image."""
        import torch

        with torch.inference_mode():
            inputs = self.processor(images=list(images), return_tensors="pt")
            out = self.model.get_image_features(pixel_values=inputs["pixel_values"])
        return _normalise(out.pooler_output.numpy())

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text."""
        import torch

        with torch.inference_mode():
            inputs = self.processor(text=list(texts), return_tensors="pt", padding=True)
            out = self.model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            )
        return _normalise(out.pooler_output.numpy())


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def evaluate_toy_clip(model_dir: Path, *, seed: int = 1_000_003) -> dict[str, float]:
    """Search quality on freshly rendered toy photos (a seed training never used).

    The gallery holds one photo of every scene. ``text_recall_at_1``: share of
    "a {colour} {shape}" queries whose best photo has that colour and shape.
    ``duplicate_recall_at_1``: share of near-duplicates whose nearest gallery photo is the
    one they were made from.
    """
    encoder = ReferenceEncoder(model_dir)
    scenes = toyworld.all_scenes()
    photos = toyworld.render_many(scenes, seed=seed)
    copies = [toyworld.near_duplicate(p, seed=seed + i) for i, p in enumerate(photos)]
    gallery = encoder.images(photos)
    pairs = list(itertools.product(toyworld.COLOURS, toyworld.SHAPES))
    queries = encoder.texts([f"a {colour} {shape}" for colour, shape in pairs])
    best = (queries @ gallery.T).argmax(axis=1)
    text_hits = [
        (scenes[b].colour, scenes[b].shape) == pair for b, pair in zip(best, pairs, strict=True)
    ]
    nearest = (encoder.images(copies) @ gallery.T).argmax(axis=1)
    return {
        "text_recall_at_1": float(np.mean(text_hits)),
        "duplicate_recall_at_1": float(np.mean(nearest == np.arange(len(scenes)))),
    }
