"""One index run of a library, start to finish: the indexer's passes, the int8 image
tower when the run is long enough to pay for it, the tag pass, saving the search index
now and then and at the end (also when the run is closed or fails), and the backup after
a complete run."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.config import FAST_IMAGES_DIR, INFLIGHT_DIR, cache_dir
from core.memory import available_bytes
from core.models.context import ModelContext
from core.photos.inflight import InflightMarkers
from core.search.scores import Scores
from core.store import backup
from core.store.index_keeper import IndexKeeper
from core.sync.indexer import Indexer
from core.sync.text_pass import TextPass
from core.types import Progress
from core.units import human_size

log = logging.getLogger(__name__)

TEXT_BUDGET_S = 30.0
"""A run of a few files (the watcher's) reads text for at most about this long: photos
still to read (a library's first reading) wait for a full run rather than hold up the next
changes."""
INDEX_SAVE_INTERVAL_S = 60.0
"""During a run the search index is saved at most this often (and always at its end)."""
FAST_IMAGES_MIN_PHOTOS = 500
"""An index run with this many photos to embed builds the model's int8 ONNX image tower
(once per model, ~10-20 s for ViT-B/32 on two cores; it then runs ~1.5x as fast as bf16)."""
FAST_IMAGES_ENV = "PICTOR_FAST_IMAGES"
"""Set to 0 to keep every image on PyTorch."""
TOWER_BUILD_FACTOR = 1
"""Memory that preparing the int8 image tower takes beyond the loaded model, per byte of
the image tower's float32 weights (the bare graph's export, then the int8 weights and the
saved file; ViT-B/32: +0.35 GB for 350 MB, see bench/run.py memory)."""


class IndexRuns:
    """Runs the indexer for one library and its current model."""

    def __init__(self, library: ModelContext, keeper: IndexKeeper, scores: Scores,
                 text: TextPass | None = None) -> None:
        self._library = library
        self._keeper = keeper
        self._scores = scores
        self._text = text

    def save_index(self) -> None:
        """Save the search index, if it is open, under its lock."""
        if self._keeper.index is not None:
            self._keeper.save(*self._library.model_key())

    def run(self, roots: list[tuple[int, Path]], *, batch_size: int, workers: int | None,
            files: list[Path] | None = None) -> Iterator[Progress]:
        """Index ``roots`` (or only ``files`` within them); a generator of progress whose
        last item is the run's report (phase ``done``)."""
        library = self._library
        if not library.model_loaded and library.catalog.known_model(library.model_name) is None:
            yield Progress(phase="load", done=0, total=0)  # a first run: its size comes from it
        index = library.vector_index(writable=True)
        model_id, dim = library.model_key()
        last_save = time.monotonic()

        def save_now_and_then() -> None:
            nonlocal last_save
            if time.monotonic() - last_save > INDEX_SAVE_INTERVAL_S:
                self.save_index()
                last_save = time.monotonic()

        indexer = Indexer(library.catalog, index, lambda: library.embedder, model_id, dim,
                          batch_size=batch_size, workers=workers,
                          on_batch=save_now_and_then,
                          markers=InflightMarkers(library.data_dir / INFLIGHT_DIR),
                          before_embedding=self._ready_fast_images,
                          model_loaded=lambda: library.model_loaded,
                          gate_pictures=None if self._text is None
                          else self._text.gate_pictures_wanted())
        passes = indexer.run(roots) if files is None else indexer.run_files(roots, files)
        try:
            report = Progress(phase="done", done=0, total=0)
            for progress in self._with_tags(passes):
                if progress.phase == "done":
                    report = progress
                    continue
                yield progress
            # After a complete run, so the copy holds a whole, consistent library.
            backup.backup_if_due(library.catalog.path)
            self._keeper.reshape(*library.model_key())
            self.save_index()  # search is whole before the text pass starts
            yield from self._text_steps(report,
                                        budget_s=None if files is None else TEXT_BUDGET_S)
        except BaseException:  # closed, interrupted or failed: keep what was done
            try:
                self.save_index()
            except Exception as error:  # e.g. the disk that failed the run: that error tells
                log.warning("the search index could not be saved: %s", error)
            raise

    def _text_steps(self, report: Progress, *, budget_s: float | None) -> Iterator[Progress]:
        """The text pass's progress under the run's totals, then the run's report (with
        the text pass's time) as the last thing yielded."""
        read = 0.0
        for step in self._text.run(budget_s=budget_s) if self._text is not None else ():
            read = step.elapsed_s
            yield dataclasses.replace(report, phase="text", done=step.done, total=step.total,
                                      current=None, elapsed_s=report.elapsed_s + read)
        yield dataclasses.replace(report, elapsed_s=report.elapsed_s + read)

    def _with_tags(self, passes: Iterator[Progress]) -> Iterator[Progress]:
        """The indexer's progress, then the tag pass's under the run's totals, then the
        run's report (with the tag pass's time) as the last thing yielded."""
        report = Progress(phase="done", done=0, total=0)
        for progress in passes:
            if progress.phase == "done":
                report = progress
                continue
            yield progress
        tagged = 0.0
        for step in self._scores.tag():
            tagged = step.elapsed_s
            yield dataclasses.replace(report, phase="tag", done=step.done,
                                      total=step.total, current=None,
                                      elapsed_s=report.elapsed_s + tagged)
        yield dataclasses.replace(report, elapsed_s=report.elapsed_s + tagged)

    def _ready_fast_images(self, count: int) -> Iterator[Progress]:
        """Put images through the int8 ONNX tower (core.models.fast_images) when one is
        cached for this model, or build it first when ``count`` photos make that worth
        its cost and the machine has the memory to build it."""
        embedder = self._library.embedder
        if os.environ.get(FAST_IMAGES_ENV, "1") == "0" or embedder.precision == "int8":
            return
        cache = cache_dir(self._library.data_dir) / FAST_IMAGES_DIR
        built = embedder.has_fast_images(cache)
        if built is None or (built is False and count < FAST_IMAGES_MIN_PHOTOS):
            return
        if built is False:
            need = tower_build_bytes(embedder.model)
            free = available_bytes()
            if free is not None and free < need:
                log.info("no int8 image tower: building it needs about %s of memory, %s is "
                         "free; PyTorch embeds the photos", human_size(need), human_size(free))
                return
            yield Progress(phase="optimise", done=0, total=count)
        embedder.use_fast_images(cache, build=True)


def tower_build_bytes(model: Any) -> int:
    """What building the int8 tower of ``model`` adds to the process, with a margin, so
    that a machine short of memory keeps PyTorch instead of swapping."""
    tower = getattr(model, "vision_model", model)
    weights = sum(p.numel() * 4 for p in tower.parameters())
    return int(TOWER_BUILD_FACTOR * weights) + 512 * 2**20
