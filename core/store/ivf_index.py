"""A large library's photo vectors in an inverted-file index (FAISS), for 1M photos on a CPU.

Why: on two cores USearch's graph could not reach recall@10 0.98 within 2 ms at 1M
(1.7 ms at 0.96, 3.4 ms at 0.978), and building it took 15-40 minutes. Here the vectors are
clustered (IVF: k-means lists, ``nprobe`` of them scanned per query) and coded in 4-bit
product quantization that FAISS scans with SIMD lookups ("fast scan"); the best
``candidates`` are re-ranked exactly against the float16 vectors kept beside the codes.
Measured by ``bench/run.py query`` at 1M clustered 512-d vectors: see the README.

Rows: each vector lives in a row of ``_vectors``; FAISS's ids are row numbers, so the
re-ranking reads rows directly, and ``_row_of[key]`` maps a photo id to its row (photo ids
are SQLite rowids: small, dense integers). The keys of videos' moments (photo id plus the
moment's number shifted past 2**40: core.store.catalog_videos) are far beyond any array:
a dictionary maps those (a few per video). FAISS is never asked to remove codes: in 1.15,
adding to a fast-scan list after ``remove_ids`` leaves the new code unfindable (seen here;
tests/core/store/test_ivf_index.py re-adds where it removed). A removed or replaced row is
marked dead instead, skipped by the re-ranking, and :meth:`_compact_if_due` drops the dead
rows once they are a quarter of all.

The index is trained on the vectors it is built from; :meth:`stale` says when the library
has outgrown that training (4x), and the library builds a new one from the catalog.
Threads: as for VectorIndex, any number of searching threads and one writer; a lock guards
each use, and a compaction is built beside the index in use and swapped in.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime  # noqa: F401  (before USearch: see core.store.vector_index)
from usearch.compiled import MetricKind
from usearch.index import Matches
from usearch.index import search as brute_force

from core.store.index_base import (
    IVF,
    IndexDamagedError,
    IndexMeta,
    Keys,
    as_keys,
    as_vectors,
    check_meta,
    check_size,
    distinct,
    no_matches,
    read_sidecar,
    save_pair,
    upsert_args,
)
from core.types import Vector

MIN_LISTS = 256
MAX_LISTS = 16_384
PROBE_SHARE = 64
"""A query scans 1/PROBE_SHARE of the lists, at least MIN_PROBE (bench/run.py query):
64 of 4096 lists at 1M gave recall@10 0.996, 64 of 2048 at 200k 0.98 (32 gave 0.95)."""
MIN_PROBE = 64
CANDIDATES_PER_HIT = 64
"""Candidates re-ranked per wanted result (640 for 10): the 4-bit codes only shortlist."""
MIN_CANDIDATES = 640
TRAIN_PER_LIST = 64
"""Training vectors per list at most: the rest of the library is only added to the lists."""
MIN_TRAIN_PER_LIST = 39
"""Fewer training vectors a list than this (FAISS's own warning) and k-means is noise."""
RETRAIN_GROWTH = 4
DEAD_SHARE = 0.25
_MAX_KEY = 2**31 - 1  # the highest key mapped by the array; higher ones by a dictionary
_MAX_ANY_KEY = 2**62
_CHUNK = 65_536
_GATHER_SHARE = 0.05


def list_count(n: int) -> int:
    """Lists for ``n`` vectors: a power of two near 4 sqrt(n) (4096 at 1M, 1024 at 100k)."""
    target = 4 * math.sqrt(max(n, 1))
    return int(min(MAX_LISTS, max(MIN_LISTS, 2 ** round(math.log2(target)))))


class IvfIndex:
    """Same interface as :class:`core.store.vector_index.VectorIndex`, built with :meth:`build`."""

    kind = IVF

    def __init__(self, dim: int, coarse: Any, trained_on: int) -> None:
        self.dim = dim
        self.trained_on = trained_on
        self._ivf = coarse
        self._lock = threading.Lock()
        self._vectors = np.empty((0, dim), np.float16)
        self._keys = np.empty(0, np.int64)  # row -> key, -1 for a dead row
        self._row_of = np.full(0, -1, np.int32)  # key -> row, -1 when absent
        self._far: dict[int, int] = {}  # key -> row of the keys beyond _MAX_KEY
        self._count = 0

    # -- building --------------------------------------------------------------------

    @classmethod
    def build(cls, keys: npt.ArrayLike, vectors: npt.ArrayLike, *, seed: int = 0) -> IvfIndex:
        """Train lists and codes on (a sample of) ``vectors`` and add them all, a chunk at a
        time: float16 input is never copied whole as float32 (1M photos: 1 GB, not 4)."""
        import faiss  # imported here: a small library never needs it

        k = _as_keys(keys)
        v = np.asarray(vectors)
        if v.ndim != 2 or len(k) != len(v):
            raise ValueError(f"{len(k)} keys for vectors of shape {v.shape}")
        dim = v.shape[1]
        if dim % 2:
            raise ValueError(f"{dim}-d vectors cannot be coded in pairs of dimensions")
        lists = list_count(len(v))
        if len(v) < MIN_TRAIN_PER_LIST * lists:
            raise ValueError(f"{len(v)} vectors are too few to train {lists} lists")
        sample_size = min(len(v), TRAIN_PER_LIST * lists)
        picked = np.sort(np.random.default_rng(seed).choice(len(v), sample_size, replace=False))
        quantizer = faiss.IndexFlatIP(dim)
        coarse = faiss.IndexIVFPQFastScan(quantizer, dim, lists, dim // 2, 4,
                                          faiss.METRIC_INNER_PRODUCT)
        coarse.train(_unit(v[picked], dim))
        coarse.nprobe = max(MIN_PROBE, lists // PROBE_SHARE)
        index = cls(dim, coarse, trained_on=len(v))
        index._vectors = np.empty((len(v), dim), np.float16)  # room for all, allocated once
        for start in range(0, len(v), _CHUNK):
            index.upsert(k[start : start + _CHUNK], v[start : start + _CHUNK])
        return index

    def stale(self) -> bool:
        """Whether the library outgrew the lists this index was trained for."""
        return self._count > RETRAIN_GROWTH * self.trained_on

    # -- the VectorIndex interface -----------------------------------------------------

    @property
    def is_view(self) -> bool:
        return isinstance(self._vectors, np.memmap)

    @property
    def nbytes(self) -> int:
        """Bytes of float16 vectors, codes, lists and maps (what a save writes, about)."""
        with self._lock:
            return int(self._vectors.nbytes + self._keys.nbytes + self._row_of.nbytes
                       + _serialized(self._ivf).nbytes)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        if int(key) > _MAX_KEY:
            return int(key) in self._far
        return int(key) < len(self._row_of) and bool(self._row_of[int(key)] >= 0)

    def keys(self) -> Keys:
        with self._lock:
            return np.sort(self._keys[self._keys >= 0])

    def get(self, keys: npt.ArrayLike) -> Vector:
        """The stored vectors (unit length, float16 precision) as float32 rows."""
        k = _as_keys(keys)
        with self._lock:
            rows = self._rows(k)
            if (rows < 0).any():
                raise KeyError(f"not in the index: {k[rows < 0][:10].tolist()}")
            return self._vectors[rows].astype(np.float32)

    def upsert(self, keys: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add vectors, replacing those of keys already present."""
        checked_keys, checked = upsert_args(keys, vectors, self.dim)
        k, v = checked_keys.astype(np.int64), _unit(checked, self.dim)
        if k.size == 0:
            return
        with self._lock:
            old = self._rows(k)
            old = old[old >= 0]
            self._keys[old] = -1
            rows = self._new_rows(len(k))
            self._vectors[rows] = v.astype(np.float16)
            self._keys[rows] = k
            self._map(k, rows)
            self._count += len(k) - len(old)
            self._ivf.add_with_ids(v, rows)
        self._compact_if_due()

    def remove(self, keys: Any) -> None:
        """Remove vectors; keys that are not present are ignored."""
        k = _as_keys(np.fromiter(keys, np.int64) if not isinstance(keys, np.ndarray) else keys)
        with self._lock:
            rows = self._rows(k)
            rows = distinct(rows[rows >= 0])
            if rows.size == 0:
                return
            self._unmap(self._keys[rows])
            self._keys[rows] = -1
            self._count -= len(rows)
        self._compact_if_due()

    def search(self, query: npt.ArrayLike, k: int, *, allowed: npt.ArrayLike | None = None
               ) -> tuple[Keys, npt.NDArray[np.float32]]:
        """The ``k`` nearest keys and their cosine similarity, best first; ``allowed``
        restricts the result to those keys, exactly."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,):
            raise ValueError(f"query has shape {np.shape(query)}, expected ({self.dim},)")
        norm = float(np.linalg.norm(q))
        if k <= 0 or not norm > 0:
            return no_matches()
        q = q / norm
        with self._lock:
            if allowed is not None:
                rows = self._rows(distinct(_as_keys(allowed)))
                return self._rerank(q, rows[rows >= 0], k)
            if self._count == 0:
                return no_matches()
            wanted = max(MIN_CANDIDATES, CANDIDATES_PER_HIT * k)
            wanted = min(len(self._keys), wanted * len(self._keys) // self._count)  # + dead
            _, found = self._ivf.search(q[None], wanted, params=self._probing())
            rows = found[0]
            rows = rows[rows >= 0]
            return self._rerank(q, rows[self._keys[rows] >= 0], k)

    # -- files -----------------------------------------------------------------------

    def save(self, path: Path, *, model: str, seq: int) -> IndexMeta:
        """Write the index and then its sidecar atomically (see VectorIndex.save)."""
        return save_pair(path, self.write, model=model, dim=self.dim, seq=seq, kind=IVF)

    def write(self, path: Path) -> int:
        """The whole index in one uncompressed zip of arrays (``numpy.savez``); returns the
        number of vectors written."""
        with self._lock:
            high = len(self._keys)
            arrays = {"codes": _serialized(self._ivf), "vectors": self._vectors[:high],
                      "keys": self._keys, "trained_on": np.int64(self.trained_on)}
            with open(path, "wb") as out:
                np.savez(out, **arrays)  # type: ignore[arg-type]
            return self._count

    @classmethod
    def load(cls, path: Path, *, model: str, dim: int, view: bool = False
             ) -> tuple[IvfIndex, IndexMeta]:
        """Open a saved index, checked against its sidecar as VectorIndex.load checks a
        graph (IndexDamagedError on any doubt); ``view`` maps its vectors (see :meth:`read`)."""
        meta, size = read_sidecar(path)
        check_meta(path, meta, model=model, dim=dim, kind=IVF)
        check_file(path, size=size)
        try:
            index = cls.read(path, dim=dim, view=view)
        except Exception as error:  # OSError, ValueError, BadZipFile, FAISS's RuntimeError
            raise IndexDamagedError(path, f"cannot be read: {error}") from error
        if len(index) != meta.count:
            raise IndexDamagedError(path, "contents differ from the sidecar")
        return index, meta

    @classmethod
    def read(cls, path: Path, *, dim: int, view: bool = False) -> IvfIndex:
        """Read a written index; ``view`` maps its float16 vectors read-only from the file
        instead (at 1M photos opened in 0.7 s, where reading 1.2 GB took 1.2 s from the page
        cache and 8.5 s from a cold disk; the first change copies them into memory).
        Raises ValueError (or OSError, BadZipFile) on anything amiss."""
        import faiss

        with np.load(os.fspath(path), allow_pickle=False) as data:
            codes, keys = data["codes"], data["keys"]
            trained_on = int(data["trained_on"])
            vectors = _mapped(path, "vectors.npy") if view else data["vectors"]
        coarse = faiss.deserialize_index(codes)
        rows = np.flatnonzero(keys >= 0)
        if (vectors.shape != (len(keys), dim) or vectors.dtype != np.float16
                or keys.dtype != np.int64 or coarse.d != dim or coarse.ntotal != len(keys)
                or (len(rows) and int(keys.max()) > _MAX_ANY_KEY)):
            raise ValueError("its arrays do not fit together")
        index = cls(dim, coarse, trained_on=trained_on)
        index._vectors, index._keys = vectors, keys
        index._count = len(rows)
        index._map(keys[rows], rows)
        return index

    # -- inside (the caller holds the lock) ------------------------------------------------

    def _probing(self) -> Any:
        """Lists to scan: more when the library shrank since training (its lists thinned
        out), so that about as many vectors are scanned: 100 photos left of 25k trained
        on kept recall@10 0.56 with the trained number of lists."""
        import faiss

        thinned = max(1.0, self.trained_on / max(self._count, 1))
        params = faiss.SearchParametersIVF()
        params.nprobe = min(self._ivf.nlist, math.ceil(self._ivf.nprobe * thinned))
        return params

    def _rows(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        inside = keys < len(self._row_of)
        rows = np.full(len(keys), -1, np.int64)
        rows[inside] = self._row_of[keys[inside]]
        far = np.flatnonzero(keys > _MAX_KEY)
        if far.size:
            rows[far] = [self._far.get(int(key), -1) for key in keys[far]]
        return rows

    def _map(self, keys: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        """Record that each of ``keys`` lives in its row of ``rows``."""
        near = keys <= _MAX_KEY
        if near.any():
            self._grow_keys(int(keys[near].max()))
            self._row_of[keys[near]] = rows[near]
        if not near.all():
            if int(keys.max()) > _MAX_ANY_KEY:
                raise ValueError(f"key {int(keys.max())} is beyond this index's range")
            self._far.update(zip(keys[~near].tolist(), rows[~near].tolist(), strict=True))

    def _unmap(self, keys: npt.NDArray[np.int64]) -> None:
        near = keys <= _MAX_KEY
        self._row_of[keys[near]] = -1
        for key in keys[~near].tolist():
            self._far.pop(key, None)

    def _rerank(self, q: Vector, rows: npt.NDArray[np.int64], k: int
                ) -> tuple[Keys, npt.NDArray[np.float32]]:
        """The best ``k`` of ``rows`` by exact cosine, scored by USearch's SIMD kernels on
        the float16 rows (numpy converts float16 one number at a time: 0.6 ms for 640 rows,
        against 0.1). A wide filter first narrows every row down in place with PyTorch's
        float16 product (37 ms at 1M, where gathering and scoring took 800), whose float16
        results are too coarse to rank the final few."""
        if rows.size == 0:
            return no_matches()
        if len(rows) > _GATHER_SHARE * len(self._keys):
            import torch

            q16 = torch.from_numpy(q.astype(np.float16))
            with warnings.catch_warnings():  # a mapped file is read-only; mv only reads it
                warnings.filterwarnings("ignore", "The given NumPy array is not writable")
                matrix = torch.from_numpy(self._vectors[: len(self._keys)])
            every = torch.mv(matrix, q16)
            sims = every.numpy()[rows]
            keep = min(len(rows), 4 * k + 100)
            rows = rows[np.argpartition(-sims, keep - 1)[:keep]]
        found = brute_force(self._vectors[rows], q.astype(np.float16), min(k, len(rows)),
                            MetricKind.IP, exact=True, threads=1)
        assert isinstance(found, Matches)
        return (self._keys[rows[found.keys.astype(np.int64)]],
                (1.0 - found.distances).astype(np.float32))

    def _grow_keys(self, highest: int) -> None:
        if highest > _MAX_KEY:
            raise ValueError(f"key {highest} is beyond this index's range")
        if highest >= len(self._row_of):
            grown = np.full(max(highest + 1, 2 * len(self._row_of)), -1, np.int32)
            grown[: len(self._row_of)] = self._row_of
            self._row_of = grown

    def _new_rows(self, count: int) -> npt.NDArray[np.int64]:
        start = len(self._keys)
        if start + count > len(self._vectors) or not self._vectors.flags.writeable:
            vectors = np.empty((max(start + count, int(start * 1.25) + 1024), self.dim),
                               np.float16)
            vectors[:start] = self._vectors[:start]
            self._vectors = vectors
        self._keys = np.concatenate([self._keys, np.full(count, -1, np.int64)])
        return np.arange(start, start + count, dtype=np.int64)

    def _compact_if_due(self) -> None:
        """Drop dead rows once they are DEAD_SHARE of all: the codes of the live rows are
        added again to the emptied lists (training kept). Built beside the index, from the
        one writer's thread, then swapped in, so that searches only wait for the swap."""
        dead = len(self._keys) - self._count
        if dead < max(1024, DEAD_SHARE * len(self._keys)):
            return
        import faiss

        live = np.flatnonzero(self._keys >= 0)
        coarse = faiss.clone_index(self._ivf)
        coarse.reset()
        for start in range(0, len(live), _CHUNK):
            part = live[start : start + _CHUNK]
            coarse.add_with_ids(self._vectors[part].astype(np.float32),
                                np.arange(start, start + len(part), dtype=np.int64))
        vectors, keys = self._vectors[live], self._keys[live]
        with self._lock:
            self._ivf, self._vectors, self._keys = coarse, vectors, keys
            self._row_of[:] = -1
            self._far.clear()
            self._map(keys, np.arange(len(keys), dtype=np.int64))


def _as_keys(keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return as_keys(keys).astype(np.int64)  # photo ids; FAISS's ids are int64


def _unit(vectors: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    v = as_vectors(vectors, dim).astype(np.float32)
    return np.ascontiguousarray(v / np.linalg.norm(v, axis=1, keepdims=True))


def _serialized(coarse: Any) -> npt.NDArray[np.uint8]:
    import faiss

    return np.asarray(faiss.serialize_index(coarse))


def _mapped(path: Path, member: str) -> npt.NDArray[Any]:
    """A read-only memory map of an array stored uncompressed in a ``numpy.savez`` zip."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{member} is compressed")
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        local = file.read(30)  # the local file header: its name and extra field follow
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{member} has no local header")
        name_length, extra_length = int.from_bytes(local[26:28], "little"), int.from_bytes(
            local[28:30], "little")
        file.seek(info.header_offset + 30 + name_length + extra_length)
        major, _ = np.lib.format.read_magic(file)
        if major not in (1, 2):
            raise ValueError(f"{member} has an unknown .npy version {major}")
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(file)
        offset = file.tell()
    if fortran or len(shape) != 2:
        raise ValueError(f"{member} is not a row-major matrix")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def readable(path: Path) -> bool:
    """A cheap check that ``path`` is the zip of arrays :meth:`IvfIndex.write` makes."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return {"codes.npy", "vectors.npy", "keys.npy", "trained_on.npy"} <= names


def check_file(path: Path, *, size: int) -> None:
    """Cheap checks of an inverted file against its sidecar before it is read: its size,
    then its list of arrays."""
    check_size(path, size)
    if not readable(path):
        raise IndexDamagedError(path, "not an inverted-file index")
