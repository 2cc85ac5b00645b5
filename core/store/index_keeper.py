"""The search index of one model of a library, kept in step with the catalog.

SQLite is the truth and derived data is disposable: the index file is a cache. The
keeper opens it, checks it against the catalog's change counter and counts, syncs it or
rebuilds it (a USearch graph, or from IVF_MIN photos an inverted file), takes in what
other processes commit to the same library (the tray and a terminal), and saves it
stamped with the last change it really took in, under a file lock.

Its keys are the photos' ids (a video's poster too) and the keys of the videos' moments
(core.store.catalog_videos.frame_key), both synced by the same change counter.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.files import private_dir
from core.store.catalog import Catalog
from core.store.index_base import HNSW, AnyIndex, IndexDamagedError
from core.store.index_files import open_index
from core.store.ivf_index import IvfIndex
from core.store.vector_index import VectorIndex
from core.types import Vector

log = logging.getLogger(__name__)

IVF_MIN = 200_000
"""From this many photos a model's search index is an inverted file (core.store.ivf_index):
USearch's graph meets recall 0.98 within 2 ms up to ~100k photos on two cores, not at 1M."""


class IndexKeeper:
    """The open index of one model (``path`` its file), in step with ``catalog``."""

    def __init__(self, catalog: Catalog, path: Path, model: str) -> None:
        self.catalog = catalog
        self.path = path
        self.model = model
        self.index: AnyIndex | None = None
        self.writable = False
        self.seq = 0
        """The catalog change counter up to which every change is in ``index``."""

    def forget(self) -> None:
        """Drop the open index: the next use opens and syncs the file again."""
        self.index, self.writable, self.seq = None, False, 0

    def get(self, model_id: int, dim: int, *, writable: bool = False) -> AnyIndex:
        """The current model's index, synced with the catalog (rebuilt if damaged).

        Other processes may write the same library (the tray and a terminal): an index
        already open first takes in what they committed since it last looked."""
        if self.index is not None and (self.writable or not writable):
            self.catch_up(model_id, dim)
            return self.index
        path = self.path
        seq = self.catalog.max_seq(model_id)
        count = self.catalog.index_count(model_id)
        index: AnyIndex
        try:
            index, meta = open_index(path, model=self.model, dim=dim, view=not writable)
            if meta.seq == seq and meta.count == count:
                synced = seq
            else:
                if meta.seq > self.catalog.max_seq(model_id):  # another writer saved it
                    # after `seq` was read, or the catalog went back in time: trust it
                    raise IndexDamagedError(path, "the index is newer than the catalog")
                if not writable:
                    index, meta = open_index(path, model=self.model, dim=dim)
                # A full comparison of keys: a file that lacks photos older than its stamp
                # (left by an older Pictor with two writers) is repaired here.
                synced = self._sync(index, model_id, dim, since_seq=meta.seq, full=True)
                self._write_index(index, path, synced)
                writable = True
        except IndexDamagedError:
            synced = self.catalog.max_seq(model_id)
            built = self._build_ivf(model_id, dim) if count >= IVF_MIN else None
            if built is None:
                index = VectorIndex(dim)
                synced = self._sync(index, model_id, dim, since_seq=0)
            else:
                index = built
            if len(index) or path.exists():
                self._write_index(index, path, synced)
            writable = True
        self.index, self.writable, self.seq = index, writable, synced
        return index

    def catch_up(self, model_id: int, dim: int) -> None:
        """Bring the open index up to the catalog's changes since it last synced (another
        process's index run, or this one's own writes: those are skipped)."""
        if self.index is not None and self.catalog.max_seq(model_id) != self.seq:
            self.seq = self._sync(self.index, model_id, dim, since_seq=self.seq)

    def _build_ivf(self, model_id: int, dim: int) -> AnyIndex | None:
        """An inverted file of all the model's vectors in the catalog, trained on them, or
        None when it cannot be built (memory, FAISS): the caller keeps or builds a graph."""
        started = time.monotonic()
        try:
            chunks = [(ids, v.astype(np.float16))  # as stored: 1 GB at 1M photos, not 2
                      for ids, v in self.catalog.iter_index_vectors(model_id, dim,
                                                                    chunk=65_536)]
            keys = np.concatenate([ids for ids, _ in chunks])
            vectors = np.concatenate([v for _, v in chunks])
            del chunks
            index = IvfIndex.build(keys, vectors)
        except (MemoryError, RuntimeError, ValueError) as error:
            log.warning("no inverted-file index (the graph stays): %s", error)
            return None
        log.info("built an inverted-file index of %d vectors in %.0f s",
                 len(index), time.monotonic() - started)
        return index

    def reshape(self, model_id: int, dim: int) -> None:
        """After an index run: a library that grew past IVF_MIN gets an inverted file, and
        one that outgrew its inverted file's training a new one (2.4 min at 1M photos)."""
        index = self.index
        if index is None or not self.writable:
            return
        if (index.kind == HNSW and len(index) >= IVF_MIN) or index.stale():
            seq = self.catalog.max_seq(model_id)  # before reading: later changes replay
            built = self._build_ivf(model_id, dim)
            if built is not None:
                self.index, self.seq = built, seq

    def _sync(self, index: AnyIndex, model_id: int, dim: int, *, since_seq: int,
              full: bool = False) -> int:
        """Apply the catalog's changes after ``since_seq`` to ``index``; returns the change
        counter it now reflects. The counter is read first, so whatever is committed
        while this reads is applied too and merely replayed next time. Keys are compared
        in full when asked or when the counts disagree (photos removed, or missing)."""
        seq = self.catalog.max_seq(model_id)
        for ids, vectors in self.catalog.iter_index_vectors(model_id, dim,
                                                            since_seq=since_seq):
            ids, vectors = _changed(index, ids, vectors)
            if len(ids):
                index.upsert(ids, vectors)
        if full or len(index) != self.catalog.index_count(model_id):
            wanted = np.sort(np.fromiter(self.catalog.index_keys(model_id), dtype=np.int64))
            have = index.keys()
            # Both are unique already; told otherwise numpy hashes them again (1.7 s at 1M).
            stale = np.setdiff1d(have, wanted, assume_unique=True)
            if len(stale):
                index.remove(stale.tolist())
            missing = np.setdiff1d(wanted, have, assume_unique=True)
            if len(missing):
                log.warning("the search index lacked %d photos of the catalog; added",
                            len(missing))
                for ids, vectors in self.catalog.index_vectors_by_key(model_id, dim,
                                                                      missing.tolist()):
                    index.upsert(ids, vectors)
        return seq

    def save(self, model_id: int, dim: int) -> None:
        """Write the index (if open for writing) stamped with the change it reflects."""
        if self.index is not None and self.writable:
            # What other writers committed goes in first, so the file's stamp is true.
            self.catch_up(model_id, dim)
            self._write_index(self.index, self.path, self.seq)

    def _write_index(self, index: AnyIndex, path: Path, seq: int) -> None:
        """Save under a file lock: the window and a command line may share a library, and
        each save writes two files (index, then sidecar) that must come from one writer.
        A read-only library keeps its index in memory."""
        if self.catalog.read_only:
            return
        with index_lock(path):
            index.save(path, model=self.model, seq=seq)


def _changed(index: AnyIndex, ids: npt.NDArray[np.int64],
             vectors: Vector) -> tuple[npt.NDArray[np.int64], Vector]:
    """The rows whose vector the index lacks or holds otherwise. A catch-up replays this
    process's own writes since the last one (an index run's every batch): upserting them
    again would remove and re-insert each one in the graph, leaving tombstones."""
    if len(index) == 0:  # a rebuild: nothing to compare with
        return ids, vectors
    present = np.fromiter((int(i) in index for i in ids), dtype=bool, count=len(ids))
    if not present.any():
        return ids, vectors
    differs = ~present
    stored = index.get(ids[present])
    # float16 as stored, unit length: the same photo's vector matches to rounding.
    differs[present] = np.abs(stored - vectors[present]).max(axis=1) > 2e-3
    return ids[differs], vectors[differs]


def index_lock(path: Path) -> Any:
    """The lock every writer of the search index file ``path`` (and its sidecar) holds."""
    from filelock import FileLock

    private_dir(path.parent)
    return FileLock(str(path.with_suffix(".lock")), timeout=60, mode=0o600)
