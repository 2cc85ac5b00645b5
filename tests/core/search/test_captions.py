"""The caption corpus's ranking and tags on synthetic vectors (no model needed)."""

from __future__ import annotations

import numpy as np

from core.search.calibration import Scale
from core.search.captions import TAG_MIN_SCORE, CaptionCorpus
from core.search.vocabulary import Term


def _corpus(n: int = 50, dim: int = 64) -> CaptionCorpus:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    terms = [Term(f"term {i}", "object", f"词{i}") for i in range(n)]
    return CaptionCorpus(terms, vectors, "digest")


def test_tags_are_the_terms_that_pass_the_cut_off_best_first() -> None:
    corpus = _corpus()
    scale = Scale(center=0.5, width=0.05)
    photo = corpus.vectors[3] * 0.9 + corpus.vectors[7] * 0.6
    photo /= np.linalg.norm(photo)
    unrelated = np.random.default_rng(1).normal(size=64).astype(np.float32)
    unrelated /= np.linalg.norm(unrelated)
    tags = corpus.tags(np.stack([photo, unrelated]), scale)
    assert [t for t, _ in tags[0]][:2] == ["term 3", "term 7"]
    assert all(score >= TAG_MIN_SCORE for _, score in tags[0])
    assert tags[1] == []  # nothing describes it well: no tag rather than a wrong one
    assert corpus.words(tags[0][:1]) == "term 3 词3"


def test_captions_are_ranked_and_shown_in_the_asked_language() -> None:
    corpus = _corpus()
    scale = Scale(center=0.5, width=0.05)
    captions = corpus.captions(corpus.vectors[5], scale, n=4, language="zh")
    assert captions[0].text == "词5" and captions[0].source == "vocabulary"
    assert [c.score for c in captions] == sorted((c.score for c in captions), reverse=True)
    assert corpus.tags(np.zeros((0, 64), np.float32), scale) == []
