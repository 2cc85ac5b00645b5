"""The fine-tuned versions saved in a library's data folder: naming, listing, rolling back
and removing them.

A version is a folder ``<data_dir>/models/<base>-<date>/`` holding the parts that trained
and its record (:data:`RECORD_NAME`: base model, albums, settings, metrics, date); it loads
on top of its base model (core.models.embedder). :func:`rollback` switches back to the
model a version was trained from; its vectors are kept per model, so nothing is
re-embedded. :func:`delete_version` removes a version that is no longer wanted, with what
the library derived from it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UsageError
from core.files import read_json_object
from core.models.embedder import VERSION_RECORD

if TYPE_CHECKING:
    from core.library import Library

MODELS_DIR = "models"
RECORD_NAME = VERSION_RECORD


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


def new_folder(models: Path, base_model: str, now: datetime) -> Path:
    """A free folder name in ``models`` for a version of ``base_model`` trained ``now``:
    ``<base>-<date>-<time>``, the original base's name for a version of a version."""
    return _free_name(models, f"{_base_label(base_model)}-{now:%Y%m%d-%H%M%S}")


def _base_label(model: str) -> str:
    name = Path(model).name or "model"
    record = read_record(Path(model))
    if record is not None:  # a version of a version: keep the original's name
        name = _base_label(str(record.get("base_model", name)))
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:60]


def _free_name(models: Path, stem: str) -> Path:
    candidate, n = models / stem, 2
    while candidate.exists():
        candidate, n = models / f"{stem}-{n}", n + 1
    return candidate


def read_record(folder: Path) -> dict[str, Any] | None:
    """The record of the version in ``folder``; None when it is not a (readable) version."""
    return read_json_object(folder / RECORD_NAME)


def versions(library: Library) -> list[ModelVersion]:
    """The fine-tuned versions in the data folder, oldest first."""
    found = []
    for folder in sorted((library.data_dir / MODELS_DIR).glob("*")):
        record = read_record(folder) if folder.is_dir() and not folder.name.startswith(".") \
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
    record = read_record(Path(library.model_name))
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
