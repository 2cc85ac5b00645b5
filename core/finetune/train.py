"""The numeric part of personal fine-tuning: frozen features, trainable heads, metrics.

Only the last, small part of a CLIP model trains: the final layer norm and projection of
each tower, and the temperature. Everything below them is frozen, so each photo and each
prompt goes through the big towers once (in the embedder's precision: fp16 on CUDA, bf16
autocast on CPUs that are fast at it) and epochs are small matrix products on the CPU.
The heads are fp32 copies; the loaded model itself is never modified.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from core.errors import UsageError

if TYPE_CHECKING:
    import torch

    from core.models.embedder import Embedder

MAX_LOGIT_SCALE = math.log(100.0)
MIN_STEPS = 20
"""Optimizer steps per epoch at least (a few small albums make less than one batch)."""


def check_supported(model: Any) -> None:
    """Fine-tuning knows the CLIP layout (layer norms and projections by name)."""
    needed = ("vision_model.post_layernorm", "visual_projection",
              "text_model.final_layer_norm", "text_projection", "logit_scale")
    for name in needed:
        target = model
        for part in name.split("."):
            target = getattr(target, part, None)
        if target is None:
            raise UsageError(f"fine-tuning supports CLIP models only; {type(model).__name__} "
                             f"has no {name}")


def image_features(embedder: Embedder, pixels: npt.NDArray[np.uint8]) -> torch.Tensor:
    """Frozen features of a pixel batch: the input of the vision tower's last layer norm."""
    captured: list[torch.Tensor] = []
    module = embedder.model.vision_model.post_layernorm
    hook = module.register_forward_hook(
        lambda _m, inputs, _out: captured.append(inputs[0].detach().float().cpu()))
    try:
        embedder.embed_pixels(pixels)
    finally:
        hook.remove()
    return captured[0]


def text_features(embedder: Embedder, texts: Sequence[str]) -> torch.Tensor:
    """Frozen features of texts: the pooled token's input to the text tower's last norm."""
    import torch

    seen: dict[str, torch.Tensor] = {}
    model = embedder.model
    hooks = [
        model.text_model.final_layer_norm.register_forward_hook(
            lambda _m, inputs, out: seen.update(pre=inputs[0].detach().float().cpu(),
                                                post=out.detach().float().cpu())),
        model.text_projection.register_forward_hook(
            lambda _m, inputs, _out: seen.update(pooled=inputs[0].detach().float().cpu())),
    ]
    try:
        embedder.embed_texts(list(texts))
    finally:
        for hook in hooks:
            hook.remove()
    # The pooled token (end of text) is the row of the normed sequence equal to the pooled
    # vector; found by distance, so the model's own pooling rule need not be repeated.
    distance = (seen["post"] - seen["pooled"][:, None, :]).norm(dim=-1)
    rows = distance.argmin(dim=1)
    return seen["pre"][torch.arange(len(rows)), rows]


def _heads_class() -> type[Any]:
    import torch
    import torch.nn.functional as F

    class Heads(torch.nn.Module):
        """fp32 copies of the trainable modules, mapping frozen features to unit vectors."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.vision_norm = copy.deepcopy(model.vision_model.post_layernorm).float().cpu()
            self.vision_proj = copy.deepcopy(model.visual_projection).float().cpu()
            self.text_norm = copy.deepcopy(model.text_model.final_layer_norm).float().cpu()
            self.text_proj = copy.deepcopy(model.text_projection).float().cpu()
            self.logit_scale = torch.nn.Parameter(
                model.logit_scale.detach().float().cpu().clone().reshape(()))
            for parameter in self.parameters():
                parameter.requires_grad_(True)

        def images(self, features: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.vision_proj(self.vision_norm(features)), dim=-1)

        def texts(self, features: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.text_proj(self.text_norm(features)), dim=-1)

    return Heads


def make_heads(model: Any) -> Any:
    return _heads_class()(model)


def trained_parts(heads: Any) -> dict[str, torch.Tensor]:
    """The heads under the model's own parameter names (what a version saves)."""
    parts = {
        "vision_model.post_layernorm": heads.vision_norm,
        "visual_projection": heads.vision_proj,
        "text_model.final_layer_norm": heads.text_norm,
        "text_projection": heads.text_proj,
    }
    state = {f"{prefix}.{key}": value.detach().float().contiguous()
             for prefix, module in parts.items() for key, value in module.state_dict().items()}
    state["logit_scale"] = heads.logit_scale.detach().float().reshape(())
    return state


@dataclass(frozen=True, slots=True)
class TrainData:
    """Frozen features, ready for epochs."""

    train_images: torch.Tensor  # (n, h) training photos of the albums
    train_labels: torch.Tensor  # (n,) album index
    prompts: torch.Tensor  # (albums * templates, h) prompt features
    prompt_labels: torch.Tensor  # (albums * templates,) album index
    names: torch.Tensor  # (albums, h) the album names as typed in a search
    held_out: torch.Tensor  # (m, h) held-out album photos
    held_out_labels: torch.Tensor  # (m,)
    negatives: torch.Tensor  # (d, h) library photos outside the albums, for training
    others: torch.Tensor  # (e, h) other library photos outside the albums, for measuring
    general: torch.Tensor  # (q, h) general queries for the retention check
    anchors: torch.Tensor  # (r, h) other general phrases, kept in place while training
    anchor_targets: torch.Tensor  # (r, dim) their base-model vectors


@dataclass(frozen=True, slots=True)
class Metrics:
    recall_at_1: float
    recall_at_5: float
    retention: float
    mrr: float = 0.0
    """Mean reciprocal rank of held-out photos: breaks ties for early stopping."""

    def to_json(self) -> dict[str, float]:
        return {"recall_at_1": round(self.recall_at_1, 4),
                "recall_at_5": round(self.recall_at_5, 4),
                "retention": round(self.retention, 4)}


RETENTION_K = 10


def _top(scores: torch.Tensor, k: int) -> list[set[int]]:
    return [set(row) for row in scores.topk(min(k, scores.shape[1]), dim=1).indices.tolist()]


class Evaluator:
    """Held-out recall of album names, and how much of the base model's rankings of
    general queries over the same photos is kept (top-10 overlap, 1.0 = all)."""

    def __init__(self, data: TrainData, base: Any) -> None:
        import torch

        self.data = data
        self.gallery = torch.cat([data.held_out, data.others])
        self.everything = torch.cat([data.train_images, data.held_out, data.negatives,
                                     data.others])
        with torch.no_grad():
            self.base_top = _top(base.texts(data.general) @ base.images(self.everything).T,
                                 RETENTION_K)

    def __call__(self, heads: Any) -> Metrics:
        import torch

        data = self.data
        with torch.no_grad():
            scores = heads.texts(data.names) @ heads.images(self.gallery).T  # (albums, g)
            m = len(data.held_out)
            labels = data.held_out_labels
            hits1 = hits5 = 0
            reciprocal = 0.0
            for i in range(m):
                album = int(labels[i])
                row = scores[album]
                # rank of this held-out photo among everything that is not its album's
                negatives = torch.ones(len(row), dtype=torch.bool)
                negatives[:m] = labels != album
                rank = int((row[negatives] > row[i]).sum())
                hits1 += rank < 1
                hits5 += rank < 5
                reciprocal += 1 / (rank + 1)
            tuned = _top(heads.texts(data.general) @ heads.images(self.everything).T,
                         RETENTION_K)
        kept = [len(a & b) / max(1, len(a)) for a, b in zip(self.base_top, tuned, strict=True)]
        return Metrics(recall_at_1=hits1 / max(1, m), recall_at_5=hits5 / max(1, m),
                       retention=float(np.mean(kept)) if kept else 1.0,
                       mrr=reciprocal / max(1, m))


def name_pairs(heads: Any, data: TrainData) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of each album's name with its own held-out photos (related) and with every
    other held-out or outside photo (unrelated), as the trained model scores them: what
    a learnt name's scores are calibrated on."""
    import torch

    with torch.no_grad():
        gallery = torch.cat([data.held_out, data.others])
        scores = (heads.texts(data.names) @ heads.images(gallery).T).numpy()
    labels = np.full(len(gallery), -1)
    labels[: len(data.held_out)] = data.held_out_labels.numpy()
    own = labels[None, :] == np.arange(len(scores))[:, None]
    return scores[own], scores[~own]


@dataclass(frozen=True, slots=True)
class StepSettings:
    learning_rate: float
    weight_decay_to_base: float
    keep_anchors: float
    batch_size: int


def run_epoch(heads: Any, base_params: dict[str, torch.Tensor], optimizer: Any,
              data: TrainData, settings: StepSettings, rng: np.random.Generator) -> float:
    """One pass over the training photos (at least MIN_STEPS batches); the mean loss.

    Each batch pairs album photos with a random prompt of their album; photos from outside
    the albums join as negatives for the prompts, so an album name learns to rank its own
    photos above everything else in the library, not only above the other albums.
    """
    import torch
    import torch.nn.functional as F

    n = len(data.train_images)
    size = min(settings.batch_size, n)
    per_album = [np.flatnonzero(data.prompt_labels.numpy() == a)
                 for a in range(int(data.prompt_labels.max()) + 1)]
    losses = []
    heads.train()
    for _ in range(max(MIN_STEPS, math.ceil(n / size))):
        idx = torch.from_numpy(rng.choice(n, size, replace=False))
        labels = data.train_labels[idx]
        rows = torch.tensor([int(rng.choice(per_album[int(a)])) for a in labels])
        picked = rng.permutation(len(data.negatives))[:settings.batch_size]
        images = heads.images(torch.cat([data.train_images[idx],
                                         data.negatives[torch.from_numpy(picked)]]))
        texts = heads.texts(data.prompts[rows])
        match = (labels[:, None] == data.prompt_labels[rows][None, :]).float()
        logits = heads.logit_scale.exp() * texts @ images.T  # (batch, batch + negatives)
        k = len(idx)
        loss_i = -((match / match.sum(1, keepdim=True))
                   * F.log_softmax(logits[:, :k].T, 1)).sum(1).mean()
        match_t = F.pad(match.T, (0, len(picked)))
        loss_t = -((match_t / match_t.sum(1, keepdim=True)) * F.log_softmax(logits, 1)).sum(1)
        loss = (loss_i + loss_t.mean()) / 2
        drift = sum(((p - base_params[name]) ** 2).sum()
                    for name, p in heads.named_parameters() if p.requires_grad)
        moved = ((heads.texts(data.anchors) - data.anchor_targets) ** 2).sum(1).mean()
        total = loss + settings.weight_decay_to_base * drift + settings.keep_anchors * moved
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        with torch.no_grad():
            heads.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        losses.append(float(loss.detach()))
    heads.eval()
    return float(np.mean(losses))


def snapshot(heads: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in heads.state_dict().items()}


def better(a: Metrics, b: Metrics) -> bool:
    """Early stopping's order: recall@1, then recall@5, then mean reciprocal rank."""
    return (a.recall_at_1, a.recall_at_5, a.mrr) > (b.recall_at_1, b.recall_at_5, b.mrr)

