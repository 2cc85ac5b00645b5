"""The ingest pipeline, as a generator of :class:`Progress`.

scan roots → diff against the catalog → read + hash + decode in a thread pool (ahead of
the model) → embed in batches → write each batch's rows and vectors in one transaction;
then the run's videos, one at a time (core.sync.video_pass).

Iterating drives the work; closing the generator (or just dropping it) cancels between
batches. Everything committed stays committed, so the next run resumes where this one
stopped. All catalog and index writes happen in the thread that iterates (one writer).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.models.embedder import Embedder
from core.photos import formats
from core.photos.formats import PHOTO_EXTENSIONS
from core.photos.inflight import InflightMarkers
from core.photos.video_names import is_video
from core.store.catalog import Catalog, PhotoFacts, PhotoRow
from core.store.index_base import AnyIndex
from core.sync.gate_pictures import GatePictures
from core.sync.preparing import (
    DECODE_BUDGET_BYTES,
    DecodeBudget,
    ModelInputs,
    Prepared,
    own_words,
    prepare,
    prepare_within,
    quarantined,
    ready,
)
from core.sync.scanner import SCAN_PROBLEMS_SETTING, FileEntry, diff, is_online, walk
from core.sync.video_pass import VIDEO_TIME_LIMIT_S, VideoJob, VideoPass
from core.types import Progress
from core.words import sidecars

SCAN_REPORT_EVERY = 2000
QUARANTINE_AFTER = 2
log = logging.getLogger(__name__)


class Indexer:
    """Brings the catalog and the vector index of one model up to date with the disk."""

    def __init__(
        self,
        catalog: Catalog,
        index: AnyIndex,
        load_model: Callable[[], Embedder],
        model_id: int,
        dim: int,
        *,
        batch_size: int = 32,
        workers: int | None = None,
        on_batch: Callable[[], None] | None = None,
        markers: InflightMarkers | None = None,
        before_embedding: Callable[[int], Iterator[Progress]] | None = None,
        model_loaded: Callable[[], bool] = lambda: True,
        should_stop: Callable[[], bool] | None = None,
        video_time_limit_s: float = VIDEO_TIME_LIMIT_S,
        gate_pictures: GatePictures | None = None,
    ) -> None:
        self.catalog = catalog
        self.markers = markers
        self._suspects: dict[str, tuple[int, float, int]] = {}
        self.index = index
        self._load_model = load_model
        self._model: Embedder | None = None
        self._model_lock = threading.Lock()  # the decode pool may ask for it first
        self._model_loaded = model_loaded
        self.model_id = model_id
        self.dim = dim
        self.batch_size = batch_size
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.on_batch = on_batch
        self._root_paths: dict[int, Path] = {}
        """Each root's folder: a sidecar link is read only when it stays inside it."""
        self.should_stop = should_stop
        """Asked while a video is read: True stops the run there (closing the generator
        stops it between two steps)."""
        self.video_time_limit_s = video_time_limit_s
        self._stopped = False
        self.gate_pictures = gate_pictures
        """Where a small copy of each decoded photo is left for the text pass's gate."""
        self.before_embedding = before_embedding
        """Readies the model (may report progress) for the number of photos the run is
        expected to embed: when the first decoded photo is ready, and again each time the
        estimate doubles. Files that fail to decode (a folder of broken or empty files) do
        not count, see :func:`_expected_photos`."""

    @property
    def embedder(self) -> Embedder:
        """The model, loaded when the first photo needs it: a run with nothing new to
        embed never loads it."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def run(self, roots: Sequence[tuple[int, Path]]) -> Iterator[Progress]:
        started = time.monotonic()
        self._root_paths = dict(roots)
        online = [(rid, path) for rid, path in roots if is_online(path)]
        progress = Progress(phase="scan", done=0, total=0)
        entries: list[tuple[int, FileEntry]] = []
        problems: list[str] = []  # unreadable folders, broken links: shown by status
        for root_id, path in online:
            for entry in walk(path, on_error=problems.append):
                entries.append((root_id, entry))
                if len(entries) % SCAN_REPORT_EVERY == 0:
                    yield replace(progress, total=len(entries), current=entry.path,
                                  elapsed_s=time.monotonic() - started)
        self.catalog.set_setting(SCAN_PROBLEMS_SETTING, json.dumps(problems))
        log.info("found %d photo files in %d folder(s) in %.1f s%s", len(entries), len(online),
                 time.monotonic() - started,
                 f" ({len(roots) - len(online)} offline)" if len(online) < len(roots) else "")
        known = self.catalog.photos_under(rid for rid, _ in online)
        yield from self._process(entries, known, started)

    def run_files(self, roots: Sequence[tuple[int, Path]],
                  paths: Sequence[Path]) -> Iterator[Progress]:
        """Bring just these files or folders up to date (what a watcher saw change).

        A path that exists is (re)indexed, recursively for a folder; a path that no longer
        exists drops its photos (all photos under it, for a folder) unless its root is
        offline. A sidecar (``IMG_1.xmp``, written, added or deleted) stands for its photos.
        Paths outside every root are ignored.
        """
        self._root_paths = dict(roots)
        started = time.monotonic()
        online = [(rid, root) for rid, root in roots if is_online(root)]
        entries: list[tuple[int, FileEntry]] = []
        known: dict[str, PhotoRow] = {}
        listed = functools.cache(formats.listing)  # a burst of files in one folder lists it once
        for path in map(Path, sidecars.photo_paths(str(p) for p in paths)):
            root_id = _root_of(path, online)
            if root_id is None:
                continue
            known.update(self.catalog.photos_at_or_under(str(path)))
            if path.is_dir():
                entries += [(root_id, entry) for entry in walk(path)]
                continue
            files = [path]
            if path.suffix.lower() in formats.DEVELOPED_EXTENSIONS:  # a camera's JPEG came or went:
                for sibling in formats.raw_siblings(str(path), listed(str(path.parent))):
                    known.update(self.catalog.photos_at_or_under(sibling))  # its RAW goes
                    files.append(Path(sibling))  # or comes
            for file in files:
                if (file.suffix.lower() not in PHOTO_EXTENSIONS and not is_video(file)) or (
                        formats.is_raw(file) and (
                        formats.has_developed_sibling(str(file), listed(str(file.parent)).keys()))):
                    continue  # not a photo, or a RAW its JPEG stands for: dropped if known
                try:
                    stat = file.stat()
                except OSError:
                    continue  # gone again already: the rows in `known` will be dropped
                entries.append((root_id, FileEntry(str(file), stat.st_size, stat.st_mtime,
                                                   sidecars.signature(str(file)))))
        unique = {entry.path: (rid, entry) for rid, entry in entries}  # a photo listed twice
        yield from self._process(list(unique.values()), known, started)

    def _process(self, entries: list[tuple[int, FileEntry]], known: dict[str, PhotoRow],
                 started: float) -> Iterator[Progress]:
        self._suspects = self._collect_crashes()
        plan = diff([e for _, e in entries], known,
                    self.catalog.ids_with_embedding(self.model_id))
        root_of = {e.path: rid for rid, e in entries}
        log.info("to read: %d new or changed; %d unchanged; %d gone or moved",
                 len(plan.to_embed), plan.unchanged + plan.failed_unchanged, len(plan.gone))
        progress = Progress(phase="embed", done=0, total=len(plan.to_embed),
                            skipped=plan.unchanged + plan.failed_unchanged)
        yield replace(progress, elapsed_s=time.monotonic() - started)

        gone_by_hash = {row.content_hash: row for row in plan.gone if row.content_hash}
        moved_ids: set[int] = set()
        embed_started = time.monotonic()
        asked = 0  # the photo count the model was last readied for
        seen = decoded = 0
        photos = [item for item in plan.to_embed if not is_video(item[0].path)]
        videos = sorted((VideoJob(entry, row, root_of[entry.path])
                         for entry, row in plan.to_embed if is_video(entry.path)),
                        key=lambda job: job.entry.path)
        batches = (self._prepared_batches(photos, root_of, gone_by_hash)
                   if photos else iter(()))
        if plan.to_embed and not self._model_loaded():  # seconds: say so, not a still bar
            yield replace(progress, phase="load", elapsed_s=time.monotonic() - started)
        for batch in batches:
            seen += len(batch)
            decoded += sum(1 for item in batch if item.pixels is not None)
            expected = _expected_photos(decoded, seen, len(plan.to_embed)) if decoded else 0
            # Asked again whenever the estimate doubles: a run that starts with a folder of
            # broken files may hold thousands of photos after it.
            if self.before_embedding is not None and expected and expected >= 2 * asked:
                asked = expected
                for step in self.before_embedding(expected):
                    yield replace(step, elapsed_s=time.monotonic() - started)
            progress = self._commit(batch, progress, moved_ids)
            if self.on_batch is not None:
                self.on_batch()
            elapsed = time.monotonic() - embed_started
            rate = progress.done / elapsed if elapsed > 0 else 0.0
            eta = (progress.total - progress.done) / rate if rate > 0 else None
            progress = replace(progress, rate=rate, eta_s=eta,
                               current=batch[-1].entry.path if batch else None,
                               elapsed_s=time.monotonic() - started)
            yield progress
        if videos:  # after the photos: a long video must not hold them up
            progress = yield from self._videos(videos, gone_by_hash, moved_ids, progress,
                                               started)

        for path in self._reread_words(plan.reread):
            yield replace(progress, current=path, elapsed_s=time.monotonic() - started)
        # Only now, with every new file seen, is a missing file known not to have moved
        # (a run stopped among its videos has not seen them all: nothing is gone yet).
        gone = [row.id for row in plan.gone if row.id not in moved_ids and not self._stopped]
        if gone:
            self.catalog.remove_photos(gone)
            self.index.remove(gone)
        elapsed = time.monotonic() - started
        log.info("indexed %d, failed %d, moved %d, removed %d in %.1f s (embedding: %.1f "
                 "photos/s)", progress.indexed, progress.failed, progress.moved, len(gone),
                 elapsed, progress.rate)
        yield replace(progress, phase="done", removed=len(gone), current=None,
                      elapsed_s=elapsed)

    def _videos(self, jobs: list[VideoJob], gone_by_hash: dict[str, PhotoRow],
                moved_ids: set[int], progress: Progress,
                started: float) -> Generator[Progress, None, Progress]:
        """The run's videos (core.sync.video_pass), each step timed as the photos' are."""
        videos = VideoPass(self.catalog, self.index, lambda: self.embedder, self.model_id,
                           self.dim, batch_size=self.batch_size, markers=self.markers,
                           suspects=self._suspects, root_paths=self._root_paths,
                           time_limit_s=self.video_time_limit_s, should_stop=self.should_stop)
        steps = videos.run(jobs, gone_by_hash, moved_ids, progress)
        while True:
            try:
                step = next(steps)
            except StopIteration as end:
                self._stopped = videos.stopped
                last: Progress = end.value
                return replace(last, elapsed_s=time.monotonic() - started)
            if self.on_batch is not None:
                self.on_batch()
            yield replace(step, elapsed_s=time.monotonic() - started)

    # -- the pool ----------------------------------------------------------------------

    def _prepared_batches(
        self,
        work: list[tuple[FileEntry, PhotoRow | None]],
        root_of: dict[str, int],
        gone_by_hash: dict[str, PhotoRow],
    ) -> Iterator[list[Prepared]]:
        """Batches of prepared files, in order, with decoding running ahead of the caller."""
        spec = ModelInputs(lambda: self.embedder.image_input)
        ahead = self.batch_size * 2 + self.workers
        budget = DecodeBudget(DECODE_BUDGET_BYTES)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pictor-decode")
        pending: deque[Future[Prepared]] = deque()
        # Files that were being decoded when a run crashed are decoded one at a time, before
        # the pool starts, so another crash names exactly one file and no innocent neighbour.
        suspects = [item for item in work if item[0].path in self._suspects]
        for entry, row in suspects:
            root_id = root_of[entry.path]
            pending.append(ready(quarantined(entry, row, root_id) if self._quarantined(entry)
                                 else prepare(entry, row, root_id, spec, gone_by_hash,
                                               self.markers, self._root_paths.get(root_id),
                                               self.gate_pictures)))
        items = iter([item for item in work if item[0].path not in self._suspects])
        try:
            batch: list[Prepared] = []
            while True:
                while len(pending) < ahead:
                    item = next(items, None)
                    if item is None:
                        break
                    entry, row = item
                    root_id = root_of[entry.path]
                    pending.append(pool.submit(prepare_within, budget, entry, row,
                                               root_id, spec, gone_by_hash, self.markers,
                                               self._root_paths.get(root_id),
                                               self.gate_pictures))
                if not pending:
                    break
                batch.append(pending.popleft().result())
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self.markers is not None:
                self.markers.close()

    # -- decoder crashes ---------------------------------------------------------------

    def _collect_crashes(self) -> dict[str, tuple[int, float, int]]:
        """Count the files a crashed run was decoding; return all current suspects."""
        if self.markers is None:
            return {}
        for path in self.markers.collect_dead():
            try:
                stat = os.stat(path)
            except OSError:
                continue
            crashes = self.catalog.note_crash(path, stat.st_size, stat.st_mtime)
            log.warning("Pictor stopped while decoding %s (%d time(s))", path, crashes)
        return self.catalog.suspects()

    def _quarantined(self, entry: FileEntry) -> bool:
        suspect = self._suspects.get(entry.path)
        return (suspect is not None and suspect[2] >= QUARANTINE_AFTER
                and (suspect[0], suspect[1]) == (entry.size, entry.mtime))

    # -- the writer --------------------------------------------------------------------

    def _commit(self, batch: list[Prepared], progress: Progress,
                moved_ids: set[int]) -> Progress:
        """Embed what needs it and write the batch in one transaction."""
        facts: list[PhotoFacts] = []
        vectors: list[npt.NDArray[np.float32] | None] = []
        to_embed: list[tuple[int, npt.NDArray[np.uint8]]] = []
        moved = 0
        for item in batch:
            assert item.facts is not None
            if item.moved_from is not None and item.moved_from.id in moved_ids:
                # A second copy of a moved photo: a new row with the same vector.
                facts.append(item.facts)
                vectors.append(self.catalog.vector_of(item.moved_from.id, self.model_id,
                                                      self.dim))
                continue
            if item.moved_from is not None:
                self.catalog.move_photo(item.moved_from.id, path=item.entry.path,
                                        root_id=item.facts.root_id, size=item.entry.size,
                                        mtime=item.entry.mtime,
                                        user_words=item.facts.user_words,
                                        sidecars=item.facts.sidecars)
                moved_ids.add(item.moved_from.id)
                moved += 1
                continue
            facts.append(item.facts)
            vectors.append(self._known_vector(item))
            if item.pixels is not None and vectors[-1] is None:
                to_embed.append((len(facts) - 1, item.pixels))
        if to_embed:
            embedded = self.embedder.embed_pixels(np.stack([px for _, px in to_embed]))
            for (position, _), vector in zip(to_embed, embedded, strict=True):
                vectors[position] = vector
        for fact in facts:
            if fact.error:
                log.info("%s: %s", fact.path, fact.error)
        ids = self.catalog.write_batch(facts, vectors, self.model_id)
        cleared = [f.path for f in facts if f.path in self._suspects and not f.error]
        if cleared:  # decoded fine this time: the crash was not this file's fault
            self.catalog.clear_suspects(cleared)
        keys = [pid for pid, vec in zip(ids, vectors, strict=True) if vec is not None]
        if keys:
            self.index.upsert(np.asarray(keys, dtype=np.int64),
                              np.stack([v for v in vectors if v is not None]))
        stale = [pid for pid, vec in zip(ids, vectors, strict=True) if vec is None]
        if stale:
            self.index.remove(stale)
        return replace(progress, done=progress.done + len(batch),
                       indexed=progress.indexed + len(keys),
                       failed=progress.failed + sum(1 for f in facts if f.error),
                       moved=progress.moved + moved)

    def _reread_words(self, work: list[tuple[FileEntry, PhotoRow]]) -> Iterator[str]:
        """Re-read the own words of photos whose sidecars changed (the photo did not: its
        vector stays): headers and sidecars only, one transaction and one yield (the last
        path) per batch, so that a long run can be stopped."""
        for start in range(0, len(work), self.batch_size):
            chunk = work[start:start + self.batch_size]
            self.catalog.set_user_words(
                [(row.id, own_words(Path(entry.path), root=self._root_paths.get(row.root_id)),
                  entry.sidecars) for entry, row in chunk])
            yield chunk[-1][0].path

    def _known_vector(self, item: Prepared) -> npt.NDArray[np.float32] | None:
        """The vector of an identical file already in the library (a copy): no model run."""
        if item.pixels is None or item.content_hash is None:
            return None
        source = self.catalog.find_embedded_by_hash(item.content_hash, self.model_id)
        if source is None or (item.row is not None and source == item.row.id):
            return None
        return self.catalog.vector_of(source, self.model_id, self.dim)


def _root_of(path: Path, roots: Sequence[tuple[int, Path]]) -> int | None:
    """The id of the innermost root holding ``path``."""
    holders = [(len(root.parts), rid) for rid, root in roots if path.is_relative_to(root)]
    return max(holders)[1] if holders else None


def _expected_photos(decoded: int, seen: int, total: int) -> int:
    """How many of ``total`` files will be photos to embed, when ``decoded`` of the first
    ``seen`` were: the rest are assumed to decode at the same rate. (A library of 20,000
    empty files must not be taken for 20,000 photos: that would build the int8 tower.)"""
    if seen <= 0:
        return total
    return decoded + round((total - seen) * decoded / seen)


