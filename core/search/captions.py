"""Image to text: the captions and tags that describe a photo.

A model's *caption corpus* is the built-in vocabulary (core.search.vocabulary) embedded once:
each term's prompts ("a photo of a dog.", "一张狗的照片", ...) are embedded and averaged
(prompt ensembling, which makes zero-shot CLIP more accurate than one prompt), giving one
unit vector per term. Chinese prompts join the average only for models that read Chinese.
The vectors are cached per model in ``captions/`` of core.config.cache_dir; building
them runs the text model over a few thousand prompts once (seconds on a GPU, up to a
minute on a CPU).

Ranking a photo's captions is then one matrix product; scores come from the model's
calibration (core.search.calibration), so "80" means the same for a caption of a photo as for a
photo found by that caption. Tags are the best vocabulary terms that pass
``TAG_MIN_SCORE``; they are stored per photo and model, and their English and Chinese
words go into the full-text table so typed words find tagged photos.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.config import model_slug
from core.defaults import DEFAULT_MIN_SCORE
from core.files import private_dir
from core.search import vocabulary
from core.search.calibration import Scale
from core.types import Vector

if TYPE_CHECKING:
    from core.models.embedder import Embedder

CORPUS_VERSION = "1"
"""Bump when the way the corpus is built changes: cached corpora are rebuilt."""
TAGS_PER_PHOTO = 5
TAG_MIN_SCORE = DEFAULT_MIN_SCORE
"""A tag is a term that would pass the search cut-off: a good match by the same measure."""
_BATCH = 256

Source = Literal["user", "vocabulary"]


@dataclass(frozen=True, slots=True)
class Caption:
    """One text that describes a photo, with its 0-100 score.

    ``source`` is ``user`` (the photo's own title, description, keyword, sidecar or album
    name: ``kind`` says which) or ``vocabulary`` (a built-in term: ``kind`` is its
    category).
    """

    text: str
    score: float
    source: Source
    kind: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CaptionCorpus:
    """The built-in vocabulary as unit vectors of one model."""

    def __init__(self, terms: Sequence[vocabulary.Term], vectors: Vector, digest: str) -> None:
        if len(terms) != len(vectors):
            raise ValueError("one vector per term is needed")
        self.terms = tuple(terms)
        self.vectors = vectors
        self.digest = digest
        self._by_text = {t.text: t for t in self.terms}

    @classmethod
    def for_model(cls, embedder: Embedder, cache_dir: Path,
                  terms: Sequence[vocabulary.Term] | None = None) -> CaptionCorpus:
        """The model's corpus from the cache, built (and cached) when missing or stale."""
        terms = tuple(terms) if terms is not None else vocabulary.load_vocabulary()
        languages = _languages(embedder)
        digest = _digest(embedder, terms, languages)
        path = cache_dir / f"{model_slug(embedder.name)}.npz"
        cached = _read_cache(path, digest, len(terms), embedder.dim)
        if cached is not None:
            return cls(terms, cached, digest)
        corpus = cls(terms, _embed_terms(embedder, terms, languages), digest)
        _write_cache(path, corpus)
        return corpus

    def scores(self, photo: Vector, scale: Scale) -> np.ndarray:
        """Every term's 0-100 score for one photo vector."""
        return scale.score(self.vectors @ photo)

    def captions(self, photo: Vector, scale: Scale, *, n: int,
                 language: str = "en") -> list[Caption]:
        """The ``n`` best terms for a photo, best first."""
        scores = self.scores(photo, scale)
        best = np.argsort(-scores, kind="stable")[:n]
        return [Caption(vocabulary.display(self.terms[i], language), round(float(scores[i]), 1),
                        "vocabulary", self.terms[i].category) for i in best]

    def tags(self, photos: Vector, scale: Scale) -> list[list[tuple[str, float]]]:
        """Each photo's tags: up to ``TAGS_PER_PHOTO`` terms scoring ``TAG_MIN_SCORE`` or
        more, best first, as ``(English term, score)``."""
        if len(photos) == 0:
            return []
        scores = scale.score(photos @ self.vectors.T)
        count = min(TAGS_PER_PHOTO, scores.shape[1])
        top = np.argpartition(-scores, count - 1, axis=1)[:, :count]
        out = []
        for row, candidates in zip(scores, top, strict=True):
            ranked = sorted(candidates, key=lambda i: -row[i])
            out.append([(self.terms[i].text, round(float(row[i]), 1)) for i in ranked
                        if row[i] >= TAG_MIN_SCORE])
        return out

    def words(self, tags: Sequence[tuple[str, float]]) -> str:
        """The full-text words of some tags: each term in English and in Chinese."""
        parts = []
        for text, _ in tags:
            term = self._by_text.get(text)
            parts.append(text if term is None else f"{term.text} {term.zh}")
        return " ".join(parts)


def _languages(embedder: Embedder) -> tuple[str, ...]:
    """The prompt languages a model reads: English, and Chinese for Chinese-capable ones."""
    known = getattr(embedder, "languages", frozenset({"en"}))
    return tuple(lang for lang in ("en", "zh") if lang in known) or ("en",)


def _digest(embedder: Embedder, terms: Sequence[vocabulary.Term],
            languages: Sequence[str]) -> str:
    """What the corpus depends on: the terms, the prompts, the model and its weights."""
    digest = hashlib.sha256(f"{CORPUS_VERSION}\0{embedder.name}\0{languages}\0".encode(
        "utf-8", "surrogateescape"))
    for language in languages:
        digest.update(repr(vocabulary.TEMPLATES[language]).encode())
    for term in terms:
        digest.update(f"{term.text}\t{term.category}\t{term.zh}\n".encode())
    folder = Path(embedder.name)
    if folder.is_dir():  # a local model re-saved in place (a fine-tuned copy) changes
        for weights in sorted(folder.glob("*.safetensors")):
            stat = weights.stat()
            digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _embed_terms(embedder: Embedder, terms: Sequence[vocabulary.Term],
                 languages: Sequence[str]) -> Vector:
    """One unit vector per term: the mean of its prompts' vectors in every language."""
    prompts: list[str] = []
    owner: list[int] = []
    for index, term in enumerate(terms):
        for language in languages:
            for prompt in vocabulary.prompts(term, language):
                prompts.append(prompt)
                owner.append(index)
    sums = np.zeros((len(terms), embedder.dim), dtype=np.float64)
    for start in range(0, len(prompts), _BATCH):
        vectors = embedder.embed_texts(prompts[start : start + _BATCH])
        np.add.at(sums, np.asarray(owner[start : start + _BATCH]), vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    result: Vector = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def _read_cache(path: Path, digest: str, count: int, dim: int) -> Vector | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["digest"]) != digest:
                return None
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, KeyError, ValueError):
        return None
    return vectors if vectors.shape == (count, dim) else None


def _write_cache(path: Path, corpus: CaptionCorpus) -> None:
    """Atomically: a reader never sees half a file. Failing to cache is not an error."""
    tmp = None
    try:
        private_dir(path.parent)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".corpus-", suffix=".npz")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, digest=np.array(corpus.digest), vectors=corpus.vectors)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
