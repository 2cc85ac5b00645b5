"""The videos of an index run, after its photos (a 4-hour video must not hold up the photos
behind it), one at a time, on the writer's thread.

For each video: its identity (core.photos.video.video_identity: a few MiB, so that a moved
video keeps its row and vectors, and a copy takes the vectors of the one already embedded)
→ its moments (core.photos.video_frames.moments, at the model's input size, under a time
limit and the run's stop) → the moments embedded in batches as they come (a progress step
after each batch, so a long video can be stopped between two) → its row, its poster vector
and its moments' vectors written in one transaction.

A video is stored whole or not at all: one that cannot be read, or is read only in part
(cut off, damaged, past the time limit), is a failed row with the reason, shown by
``status`` like a photo's; a stopped run stores nothing of the video it was reading; a
video whose size or modification time changed while it was read (still being recorded or
copied) is left for a later run, which finds it complete. Crashes: the marker files of
core.photos.inflight name the video while FFmpeg reads it, and a video that was being read
in two crashes is quarantined, as a photo is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from core.models.embedder import Embedder
from core.photos.imaging import to_model_pixels
from core.photos.inflight import InflightMarkers
from core.photos.video import VideoError, VideoInfo, probe, video_identity
from core.photos.video_frames import Moment, Moments, moments
from core.store.catalog import Catalog, PhotoFacts, PhotoRow
from core.store.catalog_videos import frame_key
from core.store.index_base import AnyIndex
from core.sync.preparing import QUARANTINE_REASON, own_words
from core.sync.scanner import FileEntry
from core.types import Progress, Vector

log = logging.getLogger(__name__)
_T = TypeVar("_T")

VIDEO_TIME_LIMIT_S: Final = 600.0
"""Reading one video's moments stops after this long (its own time, not the model's): an
hour of 1080p takes about a minute on two cores; a video past it is failed with the
reason, and tried again when it changes."""
QUARANTINE_AFTER: Final = 2


@dataclass(frozen=True, slots=True)
class VideoJob:
    """A video file the scan found new, changed or not yet embedded for the model."""

    entry: FileEntry
    row: PhotoRow | None
    root_id: int


@dataclass(frozen=True, slots=True)
class _Found:
    """What reading one video gave: its facts, and its moments' times and vectors."""

    info: VideoInfo
    moments: list[tuple[float, Vector]]


class _Stopped(Exception):
    """The run was stopped while a video was read: nothing of it is stored."""


class VideoPass:
    """Embeds the videos of one run with the run's model; see the module's notes."""

    def __init__(self, catalog: Catalog, index: AnyIndex, embedder: Callable[[], Embedder],
                 model_id: int, dim: int, *, batch_size: int = 32,
                 markers: InflightMarkers | None = None,
                 suspects: dict[str, tuple[int, float, int]] | None = None,
                 root_paths: dict[int, Path] | None = None,
                 time_limit_s: float = VIDEO_TIME_LIMIT_S,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.catalog, self.index = catalog, index
        self._embedder = embedder
        self.model_id, self.dim = model_id, dim
        self.batch_size = max(1, batch_size)
        self.markers = markers
        self.suspects = suspects or {}
        self.root_paths = root_paths or {}
        self.time_limit_s = time_limit_s
        self.should_stop = should_stop
        self.stopped = False
        """Set when the run's stop came while a video was being read."""

    def run(self, jobs: Sequence[VideoJob], gone_by_hash: dict[str, PhotoRow],
            moved_ids: set[int], progress: Progress) -> Generator[Progress, None, Progress]:
        """Each video in turn: a step after each batch of its moments and after each video;
        returns the last progress. ``moved_ids`` gains the rows of the videos that moved."""
        try:
            for job in jobs:
                progress = yield from self._one(job, gone_by_hash, moved_ids, progress)
                if self.stopped:
                    break
                yield replace(progress, current=job.entry.path)
        finally:
            if self.markers is not None:
                self.markers.close()
        return progress

    # -- one video -------------------------------------------------------------------------

    def _one(self, job: VideoJob, gone_by_hash: dict[str, PhotoRow], moved_ids: set[int],
             progress: Progress) -> Generator[Progress, None, Progress]:
        entry = job.entry
        facts = PhotoFacts(path=entry.path, root_id=job.root_id, size=entry.size,
                           mtime=entry.mtime, content_hash=None, sidecars=entry.sidecars)
        done = replace(progress, done=progress.done + 1)
        if self._quarantined(entry):
            return self._failed(replace(facts, error=QUARANTINE_REASON), done)
        try:
            identity = video_identity(entry.path)
            facts = replace(facts, content_hash=identity)
            moved_from = gone_by_hash.get(identity) if job.row is None else None
            if moved_from is not None and moved_from.id not in moved_ids:
                self._move(job, moved_from, moved_ids)
                return replace(done, moved=done.moved + 1)
            found = self._copy_of(identity, job) or (yield from self._read(entry, progress))
        except VideoError as error:
            if _changed_meanwhile(entry):  # a copy still arriving looks cut off
                return _left_for_later(entry, done)
            return self._failed(replace(facts, error=error.reason), done)
        except _Stopped:
            self.stopped = True
            return progress
        if _changed_meanwhile(entry):
            return _left_for_later(entry, done)
        info = found.info
        return self._store(replace(facts, width=info.width, height=info.height,
                                   format=info.container,
                                   taken_at=info.taken_at.isoformat() if info.taken_at
                                   else None), found, done)

    def _read(self, entry: FileEntry, progress: Progress) -> Generator[Progress, None, _Found]:
        """The video's moments, embedded a batch at a time (a step after each batch)."""
        spec = self._embedder().image_input
        reading = self._guarded(entry.path, lambda: moments(
            entry.path, min_side=spec.size, time_limit_s=self.time_limit_s,
            should_stop=self.should_stop))
        found: list[tuple[float, Vector]] = []
        pending: list[tuple[float, npt.NDArray[np.uint8]]] = []
        with reading:
            for moment in self._moments(reading):
                pending.append((moment.time_s, to_model_pixels(moment.image, spec)))
                if len(pending) >= self.batch_size:
                    found += self._embed(pending)
                    pending = []
                    yield replace(progress, current=entry.path)
            found += self._embed(pending)
        if reading.problem == "cancelled":
            raise _Stopped
        if reading.problem is not None:
            raise VideoError(reading.reason or reading.problem)
        if not found:
            raise VideoError("empty video: no picture could be read")
        return _Found(reading.info, found)

    def _moments(self, reading: Moments) -> Iterator[Moment]:
        """``reading``'s moments, its file named by a crash marker while FFmpeg reads."""
        while (moment := self._guarded(str(reading.path), lambda: next(reading, None))):
            yield moment

    def _guarded(self, path: str, step: Callable[[], _T]) -> _T:
        if self.markers is None:
            return step()
        self.markers.begin(path)
        try:
            return step()
        finally:
            self.markers.end()

    def _embed(self, pending: list[tuple[float, npt.NDArray[np.uint8]]]
               ) -> list[tuple[float, Vector]]:
        if not pending:
            return []
        vectors = self._embedder().embed_pixels(np.stack([px for _, px in pending]))
        return [(time_s, vector) for (time_s, _), vector in zip(pending, vectors, strict=True)]

    def _copy_of(self, identity: str, job: VideoJob) -> _Found | None:
        """The moments of a video with the same identity already embedded (a copy): no
        model run, only a probe for its facts."""
        source = self.catalog.find_embedded_by_hash(identity, self.model_id)
        if source is None or (job.row is not None and source == job.row.id):
            return None
        stored = self.catalog.moments_of([source], self.model_id, self.dim).get(source)
        if stored is None:
            return None
        info = self._guarded(job.entry.path, lambda: probe(job.entry.path))
        times, vectors = stored
        return _Found(info, [(float(t), v) for t, v in zip(times, vectors, strict=True)])

    # -- the writer --------------------------------------------------------------------------

    def _move(self, job: VideoJob, moved_from: PhotoRow, moved_ids: set[int]) -> None:
        entry = job.entry
        self.catalog.move_photo(moved_from.id, path=entry.path, root_id=job.root_id,
                                size=entry.size, mtime=entry.mtime,
                                user_words=self._words(job), sidecars=entry.sidecars)
        moved_ids.add(moved_from.id)

    def _store(self, facts: PhotoFacts, found: _Found, progress: Progress) -> Progress:
        facts = replace(facts, user_words=own_words(Path(facts.path),
                                                    root=self.root_paths.get(facts.root_id)))
        vectors = np.stack([v for _, v in found.moments])
        poster = vectors[typical(vectors)]
        photo_id, stale = self.catalog.write_video(
            facts, duration_s=found.info.duration_s, poster=poster, moments=found.moments,
            model_id=self.model_id)
        if facts.path in self.suspects:  # read fine this time: the crash was not its fault
            self.catalog.clear_suspects([facts.path])
        if stale:
            self.index.remove(stale)
        keys = [photo_id, *(frame_key(photo_id, i) for i in range(len(found.moments)))]
        self.index.upsert(np.asarray(keys, dtype=np.int64), np.vstack([poster, vectors]))
        log.info("%s: %d moments of %.0f s", facts.path, len(found.moments),
                 found.info.duration_s or 0.0)
        return replace(progress, indexed=progress.indexed + 1)

    def _failed(self, facts: PhotoFacts, progress: Progress) -> Progress:
        log.info("%s: %s", facts.path, facts.error)
        photo_id, stale = self.catalog.write_video(facts, duration_s=None, poster=None,
                                                   moments=(), model_id=self.model_id)
        self.index.remove([photo_id, *stale])
        return replace(progress, failed=progress.failed + 1)

    def _quarantined(self, entry: FileEntry) -> bool:
        suspect = self.suspects.get(entry.path)
        return (suspect is not None and suspect[2] >= QUARANTINE_AFTER
                and (suspect[0], suspect[1]) == (entry.size, entry.mtime))

    def _words(self, job: VideoJob) -> str:
        return own_words(Path(job.entry.path), root=self.root_paths.get(job.root_id))


def typical(vectors: Vector) -> int:
    """The poster among a video's moments: the one nearest their mean (the most typical
    picture of the video, rather than a title card or a black first frame)."""
    mean = vectors.mean(axis=0)
    return int(np.argmax(vectors @ mean))


def _left_for_later(entry: FileEntry, progress: Progress) -> Progress:
    log.info("%s changed while it was read (still being written?): left for a later run",
             entry.path)
    return replace(progress, skipped=progress.skipped + 1)


def _changed_meanwhile(entry: FileEntry) -> bool:
    """Whether the file's size or modification time moved on since the scan saw it."""
    try:
        now = os.stat(entry.path)
    except OSError:
        return True
    return (now.st_size, now.st_mtime) != (entry.size, entry.mtime)
