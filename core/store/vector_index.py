"""One model's photo vectors in a USearch index: upsert, remove, search, atomic save.

The file is a cache of the catalog: ``load`` checks it against a JSON sidecar and raises
:class:`IndexDamagedError` on any doubt; the caller rebuilds. Vectors are float16 under the
cosine metric (~1.15 KB per 512-d vector with the graph); scores are cosine similarity.

Measured at 20k clustered 512-d vectors: exact search ~1.6 ms a query, HNSW ~0.4 ms at
recall@10 0.999. Both are instant, so up to ``EXACT_MAX`` vectors search exactly.
At 100k (bench/run.py query), HNSW recall@10 against exact was 0.79 / 0.92 / 0.97 / 0.99 at
expansion_search 32 / 64 / 128 / 256 for 0.38 / 0.48 / 0.77 / 1.1 ms: the default is 256.
At 1M, the graph's build breadth decides: expansion_add 128 gave recall@10 0.915 in 2.3 ms,
256 gives 0.96 in 1.7-1.9 ms (same memory; each add costs ~1.2 ms instead of ~0.65 ms,
a few percent of a photo's embedding): the default is 256.

From 200k photos a library uses an inverted file instead (core.store.ivf_index, same interface):
core.store.index_files opens either kind, as the sidecar's ``kind`` says, and copies them;
what both kinds share (the sidecar, the atomic save, the argument checks) is
core.store.index_base.

A view (``load(view=True)``) maps the file read-only for a fast start. USearch cannot modify
a view (``remove`` crashes the process), so the first real upsert/remove copies it into memory.

Threads: USearch releases the GIL, grows storage in ``add`` unguarded and gives concurrent
calls the same search context, so every USearch call holds one lock. Any number of search
threads plus one writer are safe; upserts go in ``WRITE_CHUNK`` pieces so a search waits for
one chunk at most (and may see a batch half applied).
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# ONNX Runtime loads before USearch, whatever imports this first: the other order
# segfaults when ONNX Runtime loads later (usearch 2.26.6 with onnxruntime 1.32; each
# brings its own C++ runtime). About 0.08 s, spent by every index run anyway.
import onnxruntime  # noqa: F401
from usearch.compiled import MetricKind, ScalarKind
from usearch.index import Index, Matches

from core.store.index_base import (
    HNSW,
    IndexDamagedError,
    IndexMeta,
    Keys,
    as_keys,
    check_meta,
    check_size,
    distinct,
    no_matches,
    read_sidecar,
    save_pair,
    upsert_args,
)
from core.types import Vector

EXACT_MAX = 20_000
EXPANSION_SEARCH = 256
EXPANSION_ADD = 256
WRITE_CHUNK = 256
# Below this allowed/size ratio, fetching the allowed vectors (get() costs 5-15 us a key)
# beats an exact scan of everything (~0.1-0.2 us a vector).
_FETCH_RATIO = 0.02


class VectorIndex:
    kind = HNSW

    def __init__(
        self,
        dim: int,
        *,
        connectivity: int = 16,
        expansion_add: int = EXPANSION_ADD,
        expansion_search: int = EXPANSION_SEARCH,
    ) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, not {dim}")
        self.dim = dim
        self.exact_max = EXACT_MAX
        self._lock = threading.Lock()
        self._viewed = False
        self._index = Index(
            ndim=dim,
            metric=MetricKind.Cos,
            dtype=ScalarKind.F16,
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
        )

    @classmethod
    def load(
        cls, path: Path, *, model: str, dim: int, view: bool = False
    ) -> tuple[VectorIndex, IndexMeta]:
        """Open a saved index; ``view`` maps it read-only instead of reading it into memory."""
        meta, size = read_sidecar(path)
        check_meta(path, meta, model=model, dim=dim, kind=HNSW)
        check_file(path, size=size, dim=dim, count=meta.count)
        vi = cls(dim)
        try:
            (vi._index.view if view else vi._index.load)(os.fspath(path))
        except Exception as error:
            raise IndexDamagedError(path, f"USearch cannot open it: {error}") from error
        if vi._index.ndim != dim or len(vi._index) != meta.count:
            raise IndexDamagedError(path, "contents differ from the sidecar")
        vi._viewed = view
        return vi, meta

    @property
    def is_view(self) -> bool:
        return self._viewed

    @property
    def nbytes(self) -> int:
        """Bytes of vectors and graph (the file's size; RAM when loaded, page cache for a view).

        USearch's own ``memory_usage`` counts arena reservations in 16 MiB steps, so it is
        not a useful per-photo figure; resident memory measured within ~7% of this.
        """
        with self._lock:
            return int(self._index.serialized_length)

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def stale(self) -> bool:
        """A graph never outgrows itself (the inverted file does: core.store.ivf_index)."""
        return False

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        with self._lock:
            return bool(self._index.contains(int(key)))

    def keys(self) -> Keys:
        with self._lock:
            return np.asarray(self._index.keys, dtype=np.uint64).astype(np.int64)

    def get(self, keys: npt.ArrayLike) -> Vector:
        """The stored vectors (float16 precision) as float32 rows; KeyError for unknown keys."""
        k = as_keys(keys)
        if k.size == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            rows = _get_rows(self._index, k)
        missing = [int(key) for key, row in zip(k, rows, strict=True) if row is None]
        if missing:
            raise KeyError(f"not in the index: {missing[:10]}")
        return np.vstack(rows).astype(np.float32, copy=False)

    def upsert(self, keys: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add vectors, replacing those of keys already present."""
        k, v = upsert_args(keys, vectors, self.dim)
        for start in range(0, len(k), WRITE_CHUNK):
            chunk_keys = k[start : start + WRITE_CHUNK]
            with self._lock:
                index = self._writable()
                present = chunk_keys[index.contains(chunk_keys)]
                if present.size:
                    index.remove(present)
                with _interruptible():
                    index.add(chunk_keys, v[start : start + WRITE_CHUNK])

    def remove(self, keys: Iterable[int]) -> None:
        """Remove vectors; keys that are not present are ignored."""
        arr = keys if isinstance(keys, np.ndarray) else np.fromiter(keys, dtype=np.int64)
        k = as_keys(arr)
        if k.size == 0:
            return
        with self._lock:
            present = k[self._index.contains(k)]
            if present.size:
                self._writable().remove(present)

    def search(
        self, query: npt.ArrayLike, k: int, *, allowed: npt.ArrayLike | None = None
    ) -> tuple[Keys, npt.NDArray[np.float32]]:
        """The ``k`` nearest keys and their cosine similarity, best first.

        ``allowed`` restricts the result to those keys (unknown ones are ignored), exactly.
        """
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,):
            raise ValueError(f"query has shape {np.shape(query)}, expected ({self.dim},)")
        if k <= 0:
            return no_matches()
        if allowed is not None:
            return self._search_among(q, k, distinct(as_keys(allowed)))
        with self._lock:
            n = len(self._index)
            if n == 0:
                return no_matches()
            found = self._search(q, k, exact=n <= self.exact_max)
        return found.keys.astype(np.int64), (1.0 - found.distances).astype(np.float32)

    def save(self, path: Path, *, model: str, seq: int) -> IndexMeta:
        """Write the index and then its sidecar atomically; a crash leaves the old pair usable.

        A crash between the two renames leaves the new index with the old sidecar: the count
        or byte size usually disagrees (load fails, caller rebuilds), and otherwise the old
        ``seq`` only makes the caller replay changes that are already applied.
        """
        return save_pair(path, self._write, model=model, dim=self.dim, seq=seq, kind=HNSW)

    def _write(self, tmp: Path) -> int:
        with self._lock:  # only the write itself excludes searches; fsync happens after
            try:
                self._index.save(os.fspath(tmp))
            except RuntimeError as error:  # USearch says only "Failed to serialize"
                raise _write_error(tmp, error) from error
            return len(self._index)

    def _writable(self) -> Index:
        """The index, first copied into memory if it is a read-only view (caller holds lock)."""
        if self._viewed:
            copy = self._index.copy()
            # Unmap the file now, so that a later save may replace it (Windows).
            self._index.reset()  # type: ignore[no-untyped-call]
            self._index, self._viewed = copy, False
        return self._index

    def _search(self, q: Vector, count: int, *, exact: bool) -> Matches:
        with _interruptible():
            found = self._index.search(q, count, exact=exact, threads=1)
        assert isinstance(found, Matches)  # one query gives Matches, a batch BatchMatches
        return found

    def _search_among(
        self, q: Vector, k: int, allowed: npt.NDArray[np.uint64]
    ) -> tuple[Keys, npt.NDArray[np.float32]]:
        with self._lock:
            n = len(self._index)
            if allowed.size:
                allowed = allowed[self._index.contains(allowed)]
            if allowed.size == 0:
                return no_matches()
            if allowed.size < _FETCH_RATIO * n:
                rows = _get_rows(self._index, allowed)
            else:
                # Exact top-`want` over everything, filtered, is exact among the allowed keys
                # once at least k of them made it in; widen until they do.
                want = min(n, 2 * k * n // allowed.size + 64)
                while True:
                    found = self._search(q, want, exact=True)
                    keep = np.isin(found.keys, allowed)
                    if want >= n or np.count_nonzero(keep) >= k:
                        break
                    want = min(n, want * 4)
                keys, dists = found.keys[keep][:k], found.distances[keep][:k]
                return keys.astype(np.int64), (1.0 - dists).astype(np.float32)
        matrix = np.vstack(rows).astype(np.float32, copy=False)
        sims = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
        order = np.argsort(-sims, kind="stable")[:k]
        return allowed[order].astype(np.int64), sims[order].astype(np.float32)


def _get_rows(index: Index, keys: npt.NDArray[np.uint64]) -> tuple[Any, ...]:
    rows = index.get(keys, dtype=ScalarKind.F32)
    assert isinstance(rows, tuple)  # several keys give one row (or None) per key
    return rows


def check_file(path: Path, *, size: int, dim: int, count: int) -> None:
    """Cheap checks of a graph's file against its sidecar before USearch parses it: its
    size, then the header USearch wrote."""
    check_size(path, size)
    try:
        head = Index.metadata(path) or {}
    except Exception as error:  # OSError, or RuntimeError from USearch on a bad header
        raise IndexDamagedError(path, f"unreadable: {error}") from error
    expected = {"dimensions": dim, "kind_metric": MetricKind.Cos, "kind_scalar": ScalarKind.F16}
    for field, want in (expected | {"count_present": count}).items():
        if head.get(field) != want:
            raise IndexDamagedError(path, f"header {field} is {head.get(field)}, not {want}")


def _write_error(path: Path, error: RuntimeError) -> OSError:
    """An OSError for a failed USearch write, ENOSPC when the disk has no room left."""
    room = shutil.disk_usage(path.parent).free
    code = errno.ENOSPC if room < 1 << 20 else errno.EIO
    return OSError(code, f"{os.strerror(code)} (USearch: {error})", str(path))


@contextmanager
def _interruptible() -> Iterator[None]:
    """USearch checks for signals inside its loops, and a Ctrl-C there surfaces as its own
    ``RuntimeError("Operation has been terminated")``: it is the user's interrupt."""
    try:
        yield
    except RuntimeError as error:
        if "terminated" in str(error):
            raise KeyboardInterrupt from error
        raise
