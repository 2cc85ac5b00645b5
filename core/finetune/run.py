"""Personal fine-tuning: teach the library's model the names of the user's albums.

The albums (folders of the library, or photos tagged with a name) are found by
:mod:`core.finetune.albums`; the numbers by :mod:`core.finetune.train`. :func:`finetune` is
a generator of :class:`FinetuneProgress` like an index run: closing it cancels, and
nothing is written until the very end (the new model goes to a temporary folder that is
renamed into ``<data_dir>/models/<name>-<date>/`` and only then does the library switch to
it). A version holds only the parts that trained and loads on top of its base model
(core.models.embedder); its photo vectors are its base's, copied (the image side does not
train). Listing, rolling back and deleting versions: :mod:`core.finetune.versions`.

Per album some photos are held out; the before/after table measures album names finding
those unseen photos (recall@1, recall@5 against every other photo), and retention: how
much of the base model's top-10 for general queries over the same photos is kept.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from core.errors import ImageError, UsageError
from core.files import private_dir
from core.finetune import train as ft
from core.finetune.albums import MIN_PHOTOS, Album, resolve_albums
from core.finetune.versions import MODELS_DIR, RECORD_NAME, new_folder
from core.models.embedder import VERSION_PARTS
from core.models.hardware import torch_threads
from core.photos.imaging import decode_path, to_model_pixels
from core.search.calibration import Scale, fit_scale

if TYPE_CHECKING:
    from core.library import Library
    from core.models.embedder import Embedder

TEMPLATES = ("{}", "a photo of {}", "a picture of {}", "{} in a photo", "a photo of {}, "
             "a personal photo", "an image of {}")
GENERAL_QUERIES = (
    "a dog", "a cat", "a person smiling", "a beach", "a sunset", "a city street at night",
    "a mountain", "a forest", "snow", "a car", "a boat on the water", "food on a plate",
    "a birthday cake", "a flower", "a baby", "a document", "a red circle", "a blue square",
    "a yellow star", "a green triangle", "something on grass", "the night sky",
    "a purple cross", "an orange shape on sand",
)
# Phrases whose vectors training keeps where the base model put them (never measured on).
ANCHOR_QUERIES = (
    "a photo", "a person", "people", "a house", "a tree", "water", "the sea", "a road",
    "a child playing", "a bird", "a horse", "a bicycle", "a kitchen", "a garden", "a party",
    "a green circle", "a red square", "a blue star", "a yellow triangle", "a purple circle",
    "an orange star", "a cross", "a circle at night", "a square in the sky", "something red",
    "something green", "a shape on sand", "a photo of a triangle",
)
MAX_OTHER_PHOTOS = 300
BATCH = 32

Phase = Literal["prepare", "features", "train", "save", "done"]


@dataclass(frozen=True, slots=True)
class FinetuneSettings:
    epochs: int = 60
    seed: int = 0
    held_out: float = 0.25
    """Share of each album's photos kept out of training to measure the gain."""
    learning_rate: float = 5e-3
    weight_decay_to_base: float = 0.01
    """Pull toward the base weights (L2-SP), against forgetting everything else."""
    keep_anchors: float = 10.0
    """Pull general phrases' vectors toward the base model's, against forgetting."""
    patience: int = 15
    """Epochs without a better held-out recall before stopping."""
    batch_size: int = 64
    train_vision: bool = False
    """Train the image side's head too (else only the text side and the temperature)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FinetuneResult:
    model: str
    base_model: str
    before: ft.Metrics
    after: ft.Metrics
    albums: list[dict[str, Any]]
    epochs_run: int
    best_epoch: int
    elapsed_s: float
    vectors_reused: int = 0  # photo vectors carried over from the base (image side frozen)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "base_model": self.base_model,
                "before": self.before.to_json(), "after": self.after.to_json(),
                "albums": self.albums, "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch, "elapsed_s": round(self.elapsed_s, 2),
                "vectors_reused": self.vectors_reused}


@dataclass(frozen=True, slots=True)
class FinetuneProgress:
    """One step of a fine-tuning run; the last one (phase ``done``) carries the result."""

    phase: Phase
    done: int = 0
    total: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    metrics: ft.Metrics | None = None
    message: str = ""
    result: FinetuneResult | None = field(default=None)


# -- the run -----------------------------------------------------------------------------


def finetune(library: Library, albums: Sequence[str],
             settings: FinetuneSettings = FinetuneSettings()
             ) -> Generator[FinetuneProgress, None, None]:
    """Fine-tune the library's current model on albums; a generator of progress.

    Everything is checked before training starts; closing the generator (or an error)
    leaves the library's model and data folder as they were.
    """
    import torch

    if settings.epochs < 1:
        raise UsageError("the number of epochs must be at least 1")
    started = time.monotonic()
    chosen = resolve_albums(library, albums)
    embedder = library.embedder
    ft.check_supported(embedder.model)
    yield FinetuneProgress("prepare", message=f"{len(chosen)} albums")
    rng = np.random.default_rng(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        data, split = yield from _features(library, embedder, chosen, settings, rng)
        base = ft.make_heads(embedder.model)
        heads = ft.make_heads(embedder.model)
        if not settings.train_vision:
            for p in [*heads.vision_norm.parameters(), *heads.vision_proj.parameters()]:
                p.requires_grad_(False)
        evaluate = ft.Evaluator(data, base)
        before = best_metrics = evaluate(heads)
        best_state, best_epoch, epoch = ft.snapshot(heads), 0, 0
        base_params = {n: p.detach().clone() for n, p in base.named_parameters()}
        optimizer = torch.optim.Adam([p for p in heads.parameters() if p.requires_grad],
                                     lr=settings.learning_rate)
        step = ft.StepSettings(settings.learning_rate, settings.weight_decay_to_base,
                               settings.keep_anchors, settings.batch_size)
        for epoch in range(1, settings.epochs + 1):
            # Small matrices: one thread is as fast, deterministic, and never spin-waits.
            with torch_threads(1):
                loss = ft.run_epoch(heads, base_params, optimizer, data, step, rng)
            metrics = evaluate(heads)
            if ft.better(metrics, best_metrics):
                best_metrics, best_state, best_epoch = metrics, ft.snapshot(heads), epoch
            yield FinetuneProgress("train", done=epoch, total=settings.epochs, epoch=epoch,
                                   epochs=settings.epochs, loss=loss, metrics=metrics)
            if epoch - best_epoch >= settings.patience:
                break
        heads.load_state_dict(best_state)
        names_scale = fit_scale(*ft.name_pairs(heads, data))
    yield FinetuneProgress("save", message="saving the new model")
    result = FinetuneResult(
        model="", base_model=library.model_name, before=before, after=evaluate(heads),
        albums=split, epochs_run=epoch, best_epoch=best_epoch,
        elapsed_s=time.monotonic() - started)
    folder = _save(library, embedder, heads, result, settings, names_scale)
    # Photos embed the same when the image side did not train: reuse the vectors.
    reused = 0 if settings.train_vision else library.share_vectors(str(folder))
    result = replace(result, model=str(folder), vectors_reused=reused)
    library.use_model(str(folder))
    yield FinetuneProgress("done", done=1, total=1, metrics=result.after, result=result)


def _features(library: Library, embedder: Embedder, albums: list[Album],
              settings: FinetuneSettings, rng: np.random.Generator
              ) -> Generator[FinetuneProgress, None, tuple[ft.TrainData, list[dict[str, Any]]]]:
    """Decode photos and run the frozen towers once; returns (TrainData, album report)."""
    import torch

    album_photos = {p for album in albums for p in album.photos}
    rows = library.catalog.photos_under(rid for rid, _ in library.catalog.roots())
    others = sorted(p for p, row in rows.items() if row.status == "ok"
                    and p not in album_photos)
    if len(others) > MAX_OTHER_PHOTOS:
        others = sorted(rng.choice(others, MAX_OTHER_PHOTOS, replace=False).tolist())
    total = len(album_photos) + len(others)
    done = 0
    parts: dict[str, list[Any]] = {"train": [], "train_y": [], "held": [], "held_y": []}
    split = []
    for label, album in enumerate(albums):
        pixels, bad = _decode_all(album.photos, embedder)
        done += len(album.photos)
        if len(pixels) < MIN_PHOTOS:
            raise UsageError(f"album {album.name!r} has only {len(pixels)} readable photos "
                             f"({len(bad)} could not be read, e.g. {bad[0] if bad else '-'});"
                             f" fine-tuning needs at least {MIN_PHOTOS} per album")
        order = rng.permutation(len(pixels))
        n_held = max(1, round(settings.held_out * len(pixels)))
        if n_held >= len(pixels) - 1:
            raise UsageError(f"album {album.name!r} leaves no held-out photos")
        features = _image_features(embedder, pixels[order])
        parts["held"].append(features[:n_held])
        parts["train"].append(features[n_held:])
        parts["held_y"] += [label] * n_held
        parts["train_y"] += [label] * (len(pixels) - n_held)
        split.append({"name": album.name, "source": album.source, "folder": album.folder,
                      "photos": len(pixels), "train": len(pixels) - n_held,
                      "held_out": n_held, "unreadable": len(bad), "shared": album.shared})
        yield FinetuneProgress("features", done=done, total=total,
                               message=f"album {album.name}")
    other_pixels, _ = _decode_all(others, embedder)
    other_features = _image_features(embedder, other_pixels[rng.permutation(len(other_pixels))])
    half = len(other_features) // 2
    yield FinetuneProgress("features", done=total, total=total, message="other photos")
    prompts = [t.format(a.name) for a in albums for t in TEMPLATES]
    data = ft.TrainData(
        train_images=torch.cat(parts["train"]),
        train_labels=torch.tensor(parts["train_y"]),
        prompts=ft.text_features(embedder, prompts),
        prompt_labels=torch.tensor([i for i in range(len(albums)) for _ in TEMPLATES]),
        names=ft.text_features(embedder, [a.name for a in albums]),
        held_out=torch.cat(parts["held"]),
        held_out_labels=torch.tensor(parts["held_y"]),
        negatives=other_features[:half],
        others=other_features[half:],
        general=ft.text_features(embedder, list(GENERAL_QUERIES)),
        anchors=ft.text_features(embedder, list(ANCHOR_QUERIES)),
        anchor_targets=torch.from_numpy(embedder.embed_texts(list(ANCHOR_QUERIES))),
    )
    return data, split


def _decode_all(paths: Sequence[str], embedder: Embedder
                ) -> tuple[npt.NDArray[np.uint8], list[str]]:
    spec = embedder.image_input
    good, bad = [], []
    for path in paths:
        try:
            image, _ = decode_path(path, min_side=spec.size)
            good.append(to_model_pixels(image, spec))
        except (OSError, ImageError):
            bad.append(path)
    if not good:
        return np.zeros((0, spec.size, spec.size, 3), np.uint8), bad
    return np.stack(good), bad


def _image_features(embedder: Embedder, pixels: npt.NDArray[np.uint8]) -> Any:
    import torch

    if len(pixels) == 0:
        hidden = int(embedder.model.vision_model.post_layernorm.normalized_shape[0])
        return torch.zeros((0, hidden))
    return torch.cat([ft.image_features(embedder, pixels[i:i + BATCH])
                      for i in range(0, len(pixels), BATCH)])


# -- saving ----------------------------------------------------------------------------


def _save(library: Library, embedder: Embedder, heads: Any, result: FinetuneResult,
          settings: FinetuneSettings, names_scale: Scale) -> Path:
    """Write the version into a temporary folder, then rename it into place. Only the parts
    that trained are saved (a few MB, not a whole model): loading puts them on the base
    model (core.models.embedder), which therefore stays needed, like the version's rollback."""
    from safetensors.torch import save_file

    models = library.data_dir / MODELS_DIR
    private_dir(models)
    now = datetime.now().astimezone()
    final = new_folder(models, library.model_name, now)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=models))
    try:
        save_file(ft.trained_parts(heads), str(tmp / VERSION_PARTS),
                  metadata={"format": "pt", "base_model": library.model_name})
        record = {"base_model": library.model_name, "date": now.isoformat(timespec="seconds"),
                  "albums": result.albums, "settings": settings.to_json(),
                  "metrics": {"before": result.before.to_json(),
                              "after": result.after.to_json()},
                  "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                  "elapsed_s": round(result.elapsed_s, 2), "device": embedder.device,
                  "precision": embedder.precision,
                  "names": [album["name"] for album in result.albums],
                  "names_scale": {"center": names_scale.center, "width": names_scale.width}}
        (tmp / RECORD_NAME).write_text(json.dumps(record, indent=2, ensure_ascii=False),
                                       encoding="utf-8")
        tmp.chmod(0o755)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
