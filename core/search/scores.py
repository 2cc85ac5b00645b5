"""A library's calibrated scores and tags for its current model: the caption corpus (the
built-in vocabulary embedded by the model), the score calibration (measured from the
library's own photos, stored, measured again when the library halves or doubles), and the
tag pass that gives every photo its best terms."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.config import CAPTIONS_DIR, cache_dir
from core.errors import PictorError
from core.models.context import ModelContext
from core.models.sources import version_record
from core.search.calibration import SAMPLE_PHOTOS, Calibration, Scale, calibrate
from core.search.captions import CaptionCorpus
from core.types import Progress, Vector

CALIBRATION_SETTING = "calibration:{model_id}"
"""The catalog setting that stores a model's calibration (as JSON)."""


class Scores:
    """Calibration, caption corpus and tags of one library's current model; hand it a new
    model by making a new one."""

    def __init__(self, library: ModelContext) -> None:
        self._library = library
        self._corpus: CaptionCorpus | None = None
        self._calibration: Calibration | None = None
        self._calibration_seq = -1  # the model's change counter it was checked at
        self._learnt: tuple[tuple[str, ...], Scale | None] | None = None

    def caption_corpus(self) -> CaptionCorpus:
        """The built-in vocabulary embedded by the current model (built once, cached)."""
        if self._corpus is None:
            self._corpus = CaptionCorpus.for_model(
                self._library.embedder, cache_dir(self._library.data_dir) / CAPTIONS_DIR)
        return self._corpus

    def calibration(self, *, fallback: Vector | None = None) -> Calibration:
        """The current model's score calibration (core.search.calibration): the stored one
        while the library has not halved or doubled, else measured again in memory (the
        tag pass of an index run stores it). Kept until the model's vectors change, so a
        search costs no query for it. ``fallback`` (a photo's vector) stands in for the
        photos of an empty library."""
        catalog = self._library.catalog
        model_id, dim = self._library.model_key()
        seq = catalog.max_seq(model_id)
        if self._calibration is not None and self._calibration_seq == seq:
            return self._calibration
        count = catalog.counts(model_id)[1]
        current = self._calibration or self._stored(model_id)
        if current is None or current.is_stale(count, current.corpus):
            current = self._measure(model_id, dim, count, fallback)
        current = self._with_learnt_names(current)
        self._calibration, self._calibration_seq = current, seq
        return current

    def _with_learnt_names(self, calibration: Calibration) -> Calibration:
        """A fine-tuned version's album names and their scale (its record, read once)."""
        if self._learnt is None:
            self._learnt = self._read_learnt_names()
        names, scale = self._learnt
        if scale is None or calibration.names_scale is not None:
            return calibration
        return dataclasses.replace(calibration, names=names, names_scale=scale)

    def _read_learnt_names(self) -> tuple[tuple[str, ...], Scale | None]:
        folder = Path(self._library.model_name)
        try:
            record = version_record(folder, folder.name) if folder.is_dir() else None
            if record is None or "names_scale" not in record:
                return (), None
            return (tuple(str(name) for name in record.get("names", [])),
                    Scale(float(record["names_scale"]["center"]),
                          float(record["names_scale"]["width"])))
        except (PictorError, KeyError, TypeError, ValueError):
            return (), None  # an older or odd record: the vocabulary's scale serves

    def tag(self) -> Iterator[Progress]:
        """Tag the photos that have no tags for the current model yet (all of them after
        a new vocabulary or a recalibration); a generator of progress, part of every
        index run (which reports its own totals with it)."""
        catalog = self._library.catalog
        model_id, dim = self._library.model_key()
        count = catalog.counts(model_id)[1]
        calibration = self._stored(model_id)
        untagged = catalog.count_untagged(model_id)
        if self._corpus is None:
            if count == 0 or (untagged == 0 and calibration is not None
                              and not calibration.is_stale(count, calibration.corpus)):
                return  # nothing to tag or measure: the model need not even load
            yield Progress(phase="tag", done=0, total=untagged)  # it embeds its vocabulary
        corpus = self.caption_corpus()
        if calibration is None or calibration.is_stale(count, corpus.digest):
            calibration = self._measure(model_id, dim, count)
            catalog.set_setting(CALIBRATION_SETTING.format(model_id=model_id),
                                json.dumps(calibration.to_json()))
            catalog.clear_tags(model_id)
        self._calibration = self._with_learnt_names(calibration)
        self._calibration_seq = catalog.max_seq(model_id)
        total = catalog.count_untagged(model_id)
        done = 0
        started = time.monotonic()
        for ids, vectors in catalog.iter_untagged(model_id, dim):
            tags = corpus.tags(vectors, calibration.text)
            catalog.write_tags(model_id, [(int(i), t, corpus.words(t))
                                          for i, t in zip(ids, tags, strict=True)])
            done += len(ids)
            yield Progress(phase="tag", done=done, total=max(total, done),
                           elapsed_s=time.monotonic() - started)

    def _measure(self, model_id: int, dim: int, count: int,
                 fallback: Vector | None = None) -> Calibration:
        sample = self._library.catalog.sample_vectors(model_id, dim, SAMPLE_PHOTOS)
        if len(sample) == 0:
            if fallback is None:  # nothing to search either: any stand-in will do
                fallback = np.eye(1, dim, dtype=np.float32)
            sample = fallback.reshape(-1, dim)
        corpus = self.caption_corpus()
        return calibrate(sample, corpus.vectors, count=count, corpus=corpus.digest)

    def _stored(self, model_id: int) -> Calibration | None:
        stored = self._library.catalog.get_setting(
            CALIBRATION_SETTING.format(model_id=model_id))
        try:
            return Calibration.from_json(json.loads(stored)) if stored else None
        except (ValueError, KeyError, TypeError):
            return None
