"""Where Pictor keeps its data, and every name inside that folder (the one place that
names them; the parts import these):

    <data folder>/                  $PICTOR_DATA_DIR, else the platform's per-user data folder
      library.db                    the catalog (SQLite): the truth
      backups/                      copies of the catalog, made after complete index runs
      vectors/<model>.usearch       a model's search index (a cache of the catalog's vectors)
      inflight/                     markers of photos being decoded (a crash names its culprit)
      models/                       fine-tuned versions of models
      cache/                        $PICTOR_CACHE_DIR: derived files any library may share
        captions/                   the vocabulary embedded by each model
        fast-images/                each model's int8 image tower
        precision/                  each model's bf16 check verdict
        text-detector/              the int8 text detector (or its refusal)
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

DATA_DIR_ENV = "PICTOR_DATA_DIR"
CACHE_DIR_ENV = "PICTOR_CACHE_DIR"
DATABASE_NAME = "library.db"
BACKUPS_DIR = "backups"
VECTORS_DIR = "vectors"
INFLIGHT_DIR = "inflight"
MODELS_DIR = "models"
CAPTIONS_DIR = "captions"
FAST_IMAGES_DIR = "fast-images"
PRECISION_DIR = "precision"
TEXT_DETECTOR_DIR = "text-detector"


def default_data_dir() -> Path:
    """``$PICTOR_DATA_DIR`` if set, else the platform's per-user data folder for pictor
    (``~/.local/share/pictor`` on Linux, ``~/Library/Application Support/pictor`` on
    macOS, ``%LOCALAPPDATA%\\pictor`` on Windows)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("pictor", appauthor=False))


def cache_dir(data_dir: Path) -> Path:
    """Where derived files that any library may share live (the caption corpora of each
    model): ``$PICTOR_CACHE_DIR`` if set, else ``<data folder>/cache``."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override).expanduser() if override else data_dir / "cache"


def model_slug(model: str) -> str:
    """A file-name-safe, collision-free name for a model id or folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", model.strip("/\\"))[-60:].strip("-.")
    digest = hashlib.sha1(model.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{readable or 'model'}-{digest}"


def model_files_digest(folder: Path, salt: str) -> str:
    """A digest of a model folder's weights and config (by name, size and time) and of
    ``salt`` (the tools' versions): what is derived from a model is redone when it changes."""
    digest = hashlib.sha256(salt.encode())
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("config.json")):
        stat = path.stat()
        digest.update(f"|{path.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def vector_index_path(data_dir: Path, model: str) -> Path:
    return data_dir / VECTORS_DIR / f"{model_slug(model)}.usearch"
