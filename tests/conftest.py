"""Shared fixtures: offline CLIP models and generated toy photos.

Tests never touch the network: the Hugging Face libraries are told to stay offline before
anything imports them, and every model is built locally (see tests/support/models.py).
Training the toy model takes about a minute, so built models are cached in
``<repo>/.cache/test-models/<name>-<hash>``, where the hash covers the generator's source and
the library versions; editing tests/support rebuilds them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest
from filelock import FileLock

from tests.support import models, toyworld

# Nothing above imports huggingface_hub or transformers (tests.support imports them lazily),
# so these are in place before they read their settings.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
SUPPORT = Path(__file__).resolve().parent / "support"
MODEL_CACHE = REPO / ".cache" / "test-models"
# Caption corpora depend only on the model and the vocabulary: one copy for every test's
# library, instead of embedding 6,000 prompts per library (subprocesses inherit it).
os.environ["PICTOR_CACHE_DIR"] = str(REPO / ".cache" / "pictor-cache")
# The text pass (real OCR, about a second to load per process) is off unless a test turns it
# on (``text_pass_on``; subprocesses: PICTOR_READ_TEXT=1): the tests of text in photos
# exercise it, and the other few hundred index runs need not pay for it.
os.environ["PICTOR_READ_TEXT"] = "0"


@pytest.fixture
def text_pass_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index runs in this test read the text in photos, as by default outside the tests."""
    monkeypatch.setenv("PICTOR_READ_TEXT", "1")


def support_hash() -> str:
    """A short digest of everything that decides what the built models contain."""
    digest = hashlib.sha256()
    for path in sorted(SUPPORT.glob("*.py")):
        if not path.name.startswith("test_"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    # The toy model learns the built-in vocabulary's terms as captions of nothing.
    digest.update(models.VOCABULARY.read_bytes() + b"\0")
    for package in ("torch", "transformers", "tokenizers", "open_clip_torch", "pillow", "numpy"):
        digest.update(f"{package}=={importlib.metadata.version(package)}\0".encode())
    return digest.hexdigest()[:12]


def cached_model(name: str, build: Callable[[Path], object]) -> Path:
    """The cached folder ``<name>-<hash>``, built by ``build(folder)`` when missing.

    The build goes into a temporary folder that is renamed into place only when complete, so
    a killed run never leaves a half-written model; a file lock makes a second pytest process
    wait for the first instead of building the same model again.
    """
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    final = MODEL_CACHE / f"{name}-{support_hash()}"
    if final.is_dir():
        return final
    with FileLock(str(MODEL_CACHE / f"{name}.lock")):
        if final.is_dir():  # another process built it while we waited
            return final
        _remove_stale(name, keep=final)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=MODEL_CACHE))
        try:
            build(tmp)
            tmp.chmod(0o755)  # mkdtemp made it private
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _remove_stale(name: str, *, keep: Path) -> None:
    """Drop builds of ``name`` from older sources and leftovers of killed builds.

    Only called while holding the lock of ``name``, so no other process is writing there.
    Older builds are kept for an hour, in case a test run that started before the source
    changed still reads one.
    """
    for path in MODEL_CACHE.glob(f"{name}-*"):
        if path != keep and path.is_dir() and time.time() - path.stat().st_mtime > 3600:
            shutil.rmtree(path, ignore_errors=True)
    for path in MODEL_CACHE.glob(f".tmp-{name}-*"):  # we hold the lock: no build is live
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_clip_dir() -> Path:
    """An untrained tiny CLIP checkpoint folder (read-only: share it, don't write into it)."""
    return cached_model("tiny-clip", models.build_tiny_clip)


@pytest.fixture(scope="session")
def toy_clip_dir() -> Path:
    """A tiny CLIP trained on the toy world (read-only; about a minute to build once)."""
    return cached_model("toy-clip", models.train_toy_clip)


@pytest.fixture(scope="session")
def plain_toy_clip_dir() -> Path:
    """The toy CLIP trained without everyday captions as wrong answers: a model whose score
    calibration cannot tell related from unrelated (about a minute to build once)."""
    return cached_model("toy-clip-plain",
                        lambda dest: models.train_toy_clip(dest, distractors=False))


PhotoFactory = Callable[..., list[Path]]


@pytest.fixture
def toy_photos(tmp_path: Path) -> PhotoFactory:
    """A factory writing toy photos into a fresh folder under ``tmp_path``.

    ``toy_photos(scenes=None, *, n=20, seed=0, folder="photos", fmt="JPEG", size=...)``:
    ``scenes`` defaults to ``n`` random scenes; returns the paths in scene order.
    """

    def make(
        scenes: Iterable[toyworld.Scene] | None = None,
        *,
        n: int = 20,
        seed: int = 0,
        folder: str = "photos",
        fmt: str = "JPEG",
        size: Sequence[int] = toyworld.DEFAULT_SIZE,
    ) -> list[Path]:
        chosen = toyworld.random_scenes(n, seed=seed) if scenes is None else list(scenes)
        width, height = size
        return toyworld.write_photos(
            tmp_path / folder, chosen, seed=seed, fmt=fmt, size=(width, height)
        )

    return make


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images the model embedded, call by call."""
    from core.models.embedder import Embedder

    calls: list[int] = []
    original = Embedder.embed_pixels

    def counting(self: Embedder, pixels):  # type: ignore[no-untyped-def]
        calls.append(len(pixels))
        return original(self, pixels)

    monkeypatch.setattr(Embedder, "embed_pixels", counting)
    return calls
