"""Scores people can trust: a model's cosine similarities as 0-100, per model.

A raw cosine means nothing to a user, and its scale differs from model to model (CLIP
puts a good caption near 0.3, SigLIP elsewhere). So each model is calibrated against the
scores of things that mostly do *not* match:

- text queries: the built-in vocabulary's captions against a sample of the library's
  photos; almost every (caption, photo) pair is unrelated, so the pairs' median and
  robust spread (1.4826 x the median absolute deviation, which the few true matches
  hardly move) describe what "unrelated" looks like for this model;
- image queries: pairs of random photos of the library, the same way.

A cosine ``Z_CENTER`` robust spreads above the unrelated median scores 50; the score is
a logistic curve around it, so an unrelated photo scores near 0 and a photo that stands
out clearly scores near 100. ``DEFAULT_MIN_SCORE`` hides the tail below 50.

Some models cannot be calibrated this way: when the unrelated pairs spread as widely as the
good matches do (a model that never learnt that words it does not know match nothing), a
good match scores no higher than an absent thing, and a cut-off would hide everything. It
shows in the measurement itself: with a model that separates, most photos have a few of
the vocabulary's 1,600 descriptions standing out above the unrelated crowd (their tags);
when almost no photo of a large enough sample has even one caption reaching 50,
:attr:`Calibration.separates` is false, and searches show ranked results with their raw
similarity instead of hiding them.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.types import Vector

Z_CENTER = 3.0
"""How many robust spreads above the unrelated median a cosine must be to score 50."""
Z_WIDTH = 0.75
"""The logistic's width, in robust spreads: +1.5 spreads above the centre scores 88."""
SAMPLE_PHOTOS = 2000
"""Photos sampled to calibrate (the vocabulary times 2,000 photos: ~2M pairs)."""
_MIN_SPREAD = 1e-3
STANDOUT_SHARE = 0.02
"""Below this share of sampled photos with any caption scoring 50 or more, the text scale
cannot separate related from unrelated."""
JUDGED_PHOTOS = 50
"""Smaller samples are too few to judge by: their calibration is trusted."""
# Image queries: before a library holds two photos there are no pairs to measure, and in
# any library a cosine of 0.9 between two photos means the same scene or a near-copy.
_DEFAULT_IMAGE = (0.9, 0.03)


@dataclass(frozen=True, slots=True)
class Scale:
    """A logistic map from cosine to 0-100: ``center`` scores 50."""

    center: float
    width: float

    def score(self, cosine: npt.ArrayLike) -> npt.NDArray[np.float64]:
        values = (np.asarray(cosine, dtype=np.float64) - self.center) / self.width
        result: npt.NDArray[np.float64] = 100.0 / (1.0 + np.exp(-np.clip(values, -50, 50)))
        return result

    def score_one(self, cosine: float) -> float:
        return round(float(self.score(cosine)), 1)

    def cosine_for(self, score: float) -> float:
        """The cosine that scores ``score`` (0 < score < 100)."""
        score = min(max(score, 1e-6), 100 - 1e-6)
        return self.center + self.width * math.log(score / (100 - score))


@dataclass(frozen=True, slots=True)
class Calibration:
    """A model's scales for text and image queries, and what they were measured on."""

    text: Scale
    image: Scale
    photos: int
    """How many photos the library had for the model when measured."""
    corpus: str
    """The caption corpus's digest (core.search.captions): a new vocabulary recalibrates."""
    names: tuple[str, ...] = ()
    """Names a fine-tuned version learnt (its albums), scored with :attr:`names_scale`."""
    names_scale: Scale | None = None
    """Fitted on the version's held-out photos (:func:`fit_scale`): the vocabulary says
    nothing of words the base model never knew, so their scores come from what they
    learnt to find."""
    separates: bool = True
    """Whether the text scale separates related from unrelated (see the module's notes);
    when false, text searches show ranked results with no cut-off."""

    def names_learnt(self, words: str) -> bool:
        """Whether ``words`` name an album the version learnt (scored by its own scale)."""
        return self.names_scale is not None and bool(words) and any(
            _names(name, words) for name in self.names)

    def for_query(self, *, text: bool, image: bool, words: str = "") -> Scale:
        """The scale for a query of text, an image or both (both: halfway); a text that
        names a learnt album (``words``) takes the learnt names' scale."""
        text_scale = self.text
        if self.names_scale is not None and self.names_learnt(words):
            text_scale = self.names_scale
        if text and image:
            return Scale((text_scale.center + self.image.center) / 2,
                         (text_scale.width + self.image.width) / 2)
        return self.image if image else text_scale

    def is_stale(self, photos: int, corpus: str) -> bool:
        """Measure again after a new vocabulary, or once the library halved or doubled
        (small libraries: whenever they change)."""
        if corpus != self.corpus:
            return True
        if self.photos < 100:
            return photos != self.photos
        return not self.photos / 2 <= photos <= self.photos * 2

    def to_json(self) -> dict[str, Any]:
        """What the catalog stores; the learnt names come from the version's own record."""
        data = asdict(self)
        del data["names"], data["names_scale"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(text=Scale(**data["text"]), image=Scale(**data["image"]),
                   photos=int(data["photos"]), corpus=str(data["corpus"]),
                   separates=bool(data.get("separates", True)))


def calibrate(photos: Vector, captions: Vector, *, count: int, corpus: str) -> Calibration:
    """Measure a model on a sample of its library's ``photos`` and its caption vectors.

    ``count`` is the library's size for the model (the sample may be smaller).
    """
    if len(photos) == 0 or len(captions) == 0:
        raise ValueError("calibration needs at least one photo and one caption")
    pairs_text = captions @ photos.T
    text = _scale(pairs_text.ravel())
    image = Scale(*_DEFAULT_IMAGE)
    if len(photos) >= 2:
        pairs = _scale((photos @ photos.T)[np.triu_indices(len(photos), 1)])
        # A library of a few look-alike sets spreads its pairs so widely that the centre
        # passes 0.9 (or 1): a near-copy must still score high, so the centre stops there.
        if pairs.center < _DEFAULT_IMAGE[0]:
            image = pairs
    return Calibration(text=text, image=image, photos=count, corpus=corpus,
                       separates=_separates(text, pairs_text))


def standout_share(scale: Scale, pairs: npt.NDArray[np.floating[Any]]) -> float:
    """The share of photos (``pairs``' columns) with at least one caption (row) scoring 50
    or more on ``scale``."""
    return float(np.mean(pairs.max(axis=0) >= scale.center))


def _separates(scale: Scale, pairs: npt.NDArray[np.floating[Any]]) -> bool:
    return pairs.shape[1] < JUDGED_PHOTOS or standout_share(scale, pairs) >= STANDOUT_SHARE


def _names(name: str, words: str) -> bool:
    """Whether ``words`` name ``name`` as whole words ("Art" is not in "party")."""
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, name.split())) + r"(?!\w)"
    return bool(name.strip()) and re.search(pattern, words, re.IGNORECASE) is not None


def fit_scale(related: npt.ArrayLike, unrelated: npt.ArrayLike) -> Scale:
    """A scale from labelled cosines (a learnt name against its album's held-out photos,
    and against every other photo): class-balanced logistic regression on the cosine, so
    50 is where a related and an unrelated pair are equally likely. Never steeper than the
    unrelated pairs' own spread allows: a few perfectly separated pairs must not make the
    scores all-or-nothing."""
    yes = np.asarray(related, dtype=np.float64).ravel()
    no = np.asarray(unrelated, dtype=np.float64).ravel()
    if len(yes) == 0 or len(no) == 0:
        raise ValueError("fitting a scale needs related and unrelated pairs")
    x = np.concatenate([yes, no])
    y = np.concatenate([np.ones(len(yes)), np.zeros(len(no))])
    weight = np.where(y == 1, 0.5 / len(yes), 0.5 / len(no))
    min_width = Z_WIDTH * _robust(no)[1] / 2
    # Newton's method on (slope, centre) in the cosine's units, a small ridge on the slope;
    # a step that overshoots (a worse fit, or a slope <= 0) is halved until it does not.
    slope, centre = 1.0 / max(float(np.std(x)), _MIN_SPREAD), float(np.mean(x))
    loss = _log_loss(x, y, weight, slope, centre)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(slope * (x - centre), -50, 50)))
        g = weight * (p - y)
        d = weight * p * (1 - p) + 1e-12
        u = x - centre
        grad = np.array([np.sum(g * u) + 1e-6 * slope, -slope * np.sum(g)])
        hess = np.array([[np.sum(d * u * u) + 1e-6, -np.sum(d * u) * slope],
                         [-np.sum(d * u) * slope, slope * slope * np.sum(d)]])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        for _ in range(30):
            new_slope, new_centre = slope - step[0], centre - step[1]
            new_loss = _log_loss(x, y, weight, new_slope, new_centre) if new_slope > 0 \
                else np.inf
            if new_loss <= loss:
                break
            step = step / 2
        else:
            break  # no step helps: this is the fit
        slope, centre, loss = new_slope, new_centre, new_loss
        if np.abs(step).max() < 1e-9:
            break
    return Scale(center=float(centre), width=max(1.0 / slope, min_width))


def _log_loss(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
              weight: npt.NDArray[np.float64], slope: float, centre: float) -> float:
    z = np.clip(slope * (x - centre), -50, 50)
    return float(np.sum(weight * (np.logaddexp(0, z) - y * z)) + 0.5e-6 * slope * slope)


def _robust(values: npt.NDArray[np.floating[Any]]) -> tuple[float, float]:
    """The median and robust spread (1.4826 x the median absolute deviation) of
    ``values``: what a few true matches among them hardly move."""
    median = float(np.median(values))
    return median, max(1.4826 * float(np.median(np.abs(values - median))), _MIN_SPREAD)


def _scale(unrelated: npt.NDArray[np.floating[Any]]) -> Scale:
    median, spread = _robust(unrelated)
    return Scale(center=median + Z_CENTER * spread, width=Z_WIDTH * spread)
