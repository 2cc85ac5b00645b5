"""Personal fine-tuning: teach the library's model the names of the user's albums.

An album is a folder of the library, whose name is the words to learn ("Grandma Rosa"), or
the photos whose own words (keywords and captions written in Lightroom, digiKam, a
sidecar...) hold a name that no folder has. A photo in two chosen albums teaches neither.
:func:`finetune` is a generator of :class:`FinetuneProgress` like an index run: closing it
cancels, and nothing is written until the very end (the new model goes to a temporary
folder that is renamed into ``<data_dir>/models/<name>-<date>/`` and only then does the
library switch to it). :func:`rollback` switches back to the model a version was trained
from; its vectors are kept per model, so nothing is re-embedded. A version holds only the
parts that trained and loads on top of its base model (core.models.embedder); its photo vectors
are its base's, copied (the image side does not train). :func:`delete_version` removes a
version that is no longer wanted, with what the library derived from it.

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

from core.errors import ImageError, PathNotFoundError, UsageError
from core.files import private_dir, read_json_object
from core.finetune import train as ft
from core.models.embedder import VERSION_PARTS, VERSION_RECORD
from core.photos.imaging import decode_path, to_model_pixels

if TYPE_CHECKING:
    from core.library import Library
    from core.models.embedder import Embedder

MODELS_DIR = "models"
RECORD_NAME = VERSION_RECORD
MIN_PHOTOS = 4
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
class Album:
    name: str
    folder: str  # "" for an album of photos tagged with its name
    photos: tuple[str, ...]
    shared: int = 0  # photos left out: they are in another chosen album too

    @property
    def source(self) -> Literal["folder", "words"]:
        return "folder" if self.folder else "words"


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


# -- albums ------------------------------------------------------------------------------


def resolve_albums(library: Library, names: Sequence[str]) -> list[Album]:
    """Albums from folder paths, folder names, or words of the library's photos (checked,
    not decoded)."""
    if len(set(names)) < 2:
        raise UsageError("fine-tuning needs at least two albums (folders of the library, or "
                         "words your photos are tagged with), so it can tell them apart")
    rows = library.catalog.photos_under(rid for rid, _ in library.catalog.roots())
    roots = [Path(p) for _, p in library.catalog.roots()]
    albums = [_album(library, name, rows, roots) for name in dict.fromkeys(names)]
    seen: dict[str, str] = {}
    for album in albums:
        key = album.name.casefold()
        if key in seen:
            raise UsageError(f"two albums are named {album.name!r} ({seen[key]} and "
                             f"{album.folder or 'tagged photos'}); choose one")
        seen[key] = album.folder or "tagged photos"
    folders = [a for a in albums if a.folder]
    for a in folders:
        for b in folders:
            if a is not b and Path(a.folder).is_relative_to(b.folder):
                raise UsageError(f"album {a.folder} lies inside album {b.folder}; choose "
                                 "folders that do not overlap")
    counts: dict[str, int] = {}
    for album in albums:
        for photo in album.photos:
            counts[photo] = counts.get(photo, 0) + 1
    albums = [replace(a, photos=tuple(p for p in a.photos if counts[p] == 1),
                      shared=sum(counts[p] > 1 for p in a.photos)) for a in albums]
    for album in albums:
        if len(album.photos) < MIN_PHOTOS:
            shared = (f" ({album.shared} more are in another chosen album too, and such "
                      "photos teach neither)" if album.shared else "")
            raise UsageError(
                f"album {album.name!r} has {len(album.photos)} indexed photos{shared}; "
                f"fine-tuning needs at least {MIN_PHOTOS} per album (some are held out to "
                "measure the gain). Add photos, or run `pictor index` if they are not "
                "indexed yet")
    return albums


@dataclass(frozen=True, slots=True)
class AlbumChoice:
    name: str
    folder: str
    photos: int


def album_choices(library: Library) -> list[AlbumChoice]:
    """Folders of the library that can be albums (what a window offers to pick from): a
    library folder or one below it, holding at least :data:`MIN_PHOTOS` readable photos
    (directly or further down), and named by more than a date, a camera's folder scheme or
    a generic word ("Pictures")."""
    from core.words.user_words import album_name

    roots = {rid: Path(p) for rid, p in library.catalog.roots()}
    counts: dict[Path, int] = {}
    for path, row in library.catalog.photos_under(roots).items():
        if row.status != "ok":
            continue
        root = roots[row.root_id]
        for parent in Path(path).parents:  # up to its library folder, which counts too
            counts[parent] = counts.get(parent, 0) + 1
            if parent == root:
                break
    return sorted((AlbumChoice(folder.name, str(folder), n) for folder, n in counts.items()
                   if n >= MIN_PHOTOS and album_name(folder.name) is not None),
                  key=lambda c: (c.name.casefold(), c.folder))


def _album(library: Library, name: str, rows: dict[str, Any], roots: list[Path]) -> Album:
    folder = _album_folder(name, rows, roots)
    if folder is not None:
        photos = tuple(sorted(p for p, row in rows.items()
                              if row.status == "ok" and Path(p).is_relative_to(folder)))
        return Album(name=folder.name, folder=str(folder), photos=photos)
    tagged = tuple(library.catalog.photos_with_words(name))
    if not tagged:
        raise UsageError(f"no library folder is named {name!r}, and no photo has "
                         f"{name.strip()!r} among its own words (keywords, titles, captions)"
                         "; give a folder name or path of the library, or a tag you used")
    return Album(name=" ".join(name.split()), folder="", photos=tagged)


def _album_folder(name: str, rows: dict[str, Any], roots: list[Path]) -> Path | None:
    """The library folder ``name`` points to (a path, or a folder's name); None: no folder
    has that name (it may be a tag)."""
    given = Path(name).expanduser()
    if given.is_dir():
        folder = given.resolve()
        if not any(folder.is_relative_to(root) for root in roots):
            raise UsageError(f"{name} is not in the library; add it with `pictor index "
                             f"{name}` first")
        return folder
    if given.is_absolute() or "/" in name or "\\" in name:
        raise PathNotFoundError(name)
    wanted = name.strip().casefold()
    matches = sorted({str(parent) for path in rows for parent in Path(path).parents
                      if parent.name.casefold() == wanted
                      and any(parent.is_relative_to(root) for root in roots)})
    if len(matches) > 1:
        raise UsageError(f"several library folders are named {name!r}: "
                         f"{', '.join(matches)}; give the path of the one you mean")
    return Path(matches[0]) if matches else None


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
    threads = torch.get_num_threads()
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
            torch.set_num_threads(1)
            try:
                loss = ft.run_epoch(heads, base_params, optimizer, data, step, rng)
            finally:
                torch.set_num_threads(threads)
            metrics = evaluate(heads)
            if ft.better(metrics, best_metrics):
                best_metrics, best_state, best_epoch = metrics, ft.snapshot(heads), epoch
            yield FinetuneProgress("train", done=epoch, total=settings.epochs, epoch=epoch,
                                   epochs=settings.epochs, loss=loss, metrics=metrics)
            if epoch - best_epoch >= settings.patience:
                break
        heads.load_state_dict(best_state)
    yield FinetuneProgress("save", message="saving the new model")
    result = FinetuneResult(
        model="", base_model=library.model_name, before=before, after=evaluate(heads),
        albums=split, epochs_run=epoch, best_epoch=best_epoch,
        elapsed_s=time.monotonic() - started)
    folder = _save(library, embedder, heads, result, settings)
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


# -- saving, versions, rollback ----------------------------------------------------------


def _save(library: Library, embedder: Embedder, heads: Any, result: FinetuneResult,
          settings: FinetuneSettings) -> Path:
    """Write the version into a temporary folder, then rename it into place. Only the parts
    that trained are saved (a few MB, not a whole model): loading puts them on the base
    model (core.models.embedder), which therefore stays needed, like the version's rollback."""
    from safetensors.torch import save_file

    models = library.data_dir / MODELS_DIR
    private_dir(models)
    now = datetime.now().astimezone()
    final = _free_name(models, f"{_base_label(library.model_name)}-{now:%Y%m%d-%H%M%S}")
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
                  "precision": embedder.precision}
        (tmp / RECORD_NAME).write_text(json.dumps(record, indent=2, ensure_ascii=False),
                                       encoding="utf-8")
        tmp.chmod(0o755)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _base_label(model: str) -> str:
    name = Path(model).name or "model"
    record = _record(Path(model))
    if record is not None:  # a version of a version: keep the original's name
        name = _base_label(str(record.get("base_model", name)))
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:60]


def _free_name(models: Path, stem: str) -> Path:
    candidate, n = models / stem, 2
    while candidate.exists():
        candidate, n = models / f"{stem}-{n}", n + 1
    return candidate


def _record(folder: Path) -> dict[str, Any] | None:
    return read_json_object(folder / RECORD_NAME)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    folder: str
    base_model: str
    date: str
    albums: list[str]
    metrics: dict[str, Any]
    current: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def versions(library: Library) -> list[ModelVersion]:
    """The fine-tuned versions in the data folder, oldest first."""
    found = []
    for folder in sorted((library.data_dir / MODELS_DIR).glob("*")):
        record = _record(folder) if folder.is_dir() and not folder.name.startswith(".") \
            else None
        if record is None:
            continue
        found.append(ModelVersion(
            folder=str(folder.resolve()), base_model=str(record.get("base_model", "")),
            date=str(record.get("date", "")),
            albums=[str(a.get("name")) for a in record.get("albums", [])],
            metrics=dict(record.get("metrics", {})),
            current=str(folder.resolve()) == library.model_name))
    return sorted(found, key=lambda v: v.date)


def rollback(library: Library) -> str:
    """Switch back to the model the current version was trained from; returns its name."""
    record = _record(Path(library.model_name))
    if record is None or not record.get("base_model"):
        raise UsageError(f"the library's model is not a fine-tuned version "
                         f"({library.model_name}); nothing to roll back")
    base = str(record["base_model"])
    library.use_model(base)
    return base


def find_version(found: Sequence[ModelVersion], name: str) -> ModelVersion:
    """A version among ``found`` (:func:`versions`) by its folder, or its folder's name."""
    path = Path(name).expanduser()
    for version in found:
        if name == Path(version.folder).name or (
                path.exists() and str(path.resolve()) == version.folder):
            return version
    names = ", ".join(Path(v.folder).name for v in found) or "none"
    raise UsageError(f"no fine-tuned version named {name} in this library "
                     f"(versions: {names})")


def delete_version(library: Library, name: str) -> tuple[ModelVersion, int]:
    """Delete a fine-tuned version that is not in use: its folder in the data folder, its
    vectors, tags and caches. Returns it and the bytes freed. A version that another one
    was trained from is kept, since rolling that one back needs it."""
    found = versions(library)
    version = find_version(found, name)
    folder = Path(version.folder)
    if version.current:
        raise UsageError(f"{folder.name} is the model in use: roll back or use another "
                         "model first")
    children = [Path(v.folder).name for v in found if v.base_model == version.folder]
    if children:
        raise UsageError(f"{folder.name} is kept: {', '.join(children)} was trained from it "
                         "(delete that first)")
    freed = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    # Hidden first (versions() skips dot-folders), so a crash mid-way leaves no half version.
    doomed = folder.with_name(f".deleting-{folder.name}")
    folder.rename(doomed)
    library.forget_model(version.folder)
    for left in folder.parent.glob(".deleting-*"):  # this one, and any a crash left
        shutil.rmtree(left, ignore_errors=True)
    return version, freed
