"""What both kinds of search index share: the graph (core.store.vector_index) and the
inverted file (core.store.ivf_index) import it, and core.store.index_files chooses
between them.

Here: the error that says "rebuild", the JSON sidecar that describes an index file and
its checks, the atomic save of the pair, and the checks of the keys and vectors that
either kind takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from core.errors import PictorError
from core.files import fsync_dir, fsync_file, replaced, write_atomic

if TYPE_CHECKING:
    from core.store.ivf_index import IvfIndex
    from core.store.vector_index import VectorIndex

FORMAT = 1
HNSW = "hnsw"
IVF = "ivf"

Keys = npt.NDArray[np.int64]
AnyIndex: TypeAlias = "VectorIndex | IvfIndex"
"""The graph (core.store.vector_index) or, for large libraries, the inverted file
(core.store.ivf_index)."""


class IndexDamagedError(PictorError):
    """The index file cannot be trusted (missing, unreadable, for another model); rebuild it."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the search index {path} cannot be used ({reason})")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IndexMeta:
    model: str
    dim: int
    count: int
    seq: int
    """The catalog's change counter that the saved file reflects."""
    kind: str = HNSW
    """``hnsw`` (USearch: core.store.vector_index) or ``ivf`` (core.store.ivf_index)."""


# -- the sidecar and the checks of a file against it -------------------------------------

def write_sidecar(path: Path, meta: IndexMeta, size: int) -> None:
    """The sidecar of the index file ``path`` (``size`` bytes), then the folder synced."""
    sidecar = {"format": FORMAT, "metric": "cos", "dtype": "f16", "bytes": size,
               "model": meta.model, "dim": meta.dim, "count": meta.count, "seq": meta.seq,
               "kind": meta.kind}
    write_atomic(path.with_suffix(".json"), json.dumps(sidecar, indent=1).encode())
    fsync_dir(path.parent)


def read_sidecar(path: Path) -> tuple[IndexMeta, int]:
    """The sidecar's IndexMeta and the index size it recorded, or IndexDamagedError."""
    if not path.is_file():
        raise IndexDamagedError(path, "the file is missing")
    try:
        data = json.loads(path.with_suffix(".json").read_bytes())
        fields = {name: data[name] for name in ("model", "dim", "count", "seq", "bytes")}
        kind = data.get("kind", HNSW)  # sidecars written before the inverted file had none
        ok = data.get("format") == FORMAT and isinstance(fields["model"], str)
        ok = ok and kind in (HNSW, IVF)
        numbers = [fields[name] for name in ("dim", "count", "seq", "bytes")]
        ok = ok and all(type(n) is int and n >= 0 for n in numbers)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise IndexDamagedError(path, f"sidecar unreadable: {error!r}") from error
    if not ok:
        raise IndexDamagedError(path, "sidecar has unexpected contents")
    meta = IndexMeta(fields["model"], fields["dim"], fields["count"], fields["seq"], kind)
    return meta, fields["bytes"]


def check_meta(path: Path, meta: IndexMeta, *, model: str, dim: int, kind: str) -> None:
    """IndexDamagedError unless the sidecar is that of a ``kind`` index of ``model``."""
    if meta.model != model:
        raise IndexDamagedError(path, f"built for model {meta.model!r}, not {model!r}")
    if meta.dim != dim:
        raise IndexDamagedError(path, f"vectors have {meta.dim} dimensions, not {dim}")
    if meta.kind != kind:
        raise IndexDamagedError(path, f"the sidecar says {meta.kind!r}, not {kind!r}")


def check_size(path: Path, size: int) -> None:
    """IndexDamagedError unless the file has the ``size`` its sidecar recorded."""
    try:
        actual = path.stat().st_size
    except OSError as error:
        raise IndexDamagedError(path, f"unreadable: {error}") from error
    if actual != size:
        raise IndexDamagedError(path, f"file has {actual} bytes, expected {size}")


# -- saving ----------------------------------------------------------------------------

def save_pair(path: Path, write: Callable[[Path], int], *, model: str, dim: int, seq: int,
              kind: str) -> IndexMeta:
    """An index file, written by ``write`` (which returns its vector count) beside ``path``,
    synced and renamed over it, then its sidecar: the save of either kind of index."""
    path = Path(path)
    with replaced(path) as tmp:
        count = write(tmp)
        size = fsync_file(tmp)
    meta = IndexMeta(model=model, dim=dim, count=count, seq=seq, kind=kind)
    write_sidecar(path, meta, size)
    return meta


# -- keys and vectors --------------------------------------------------------------------

def distinct(keys: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The sorted distinct keys: np.unique in numpy 2.4 hashes, 0.9 s for 1M keys (sorting
    takes 0.06 s), and a filter may allow every photo of a large library."""
    ordered = np.sort(keys)
    if ordered.size == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def as_vectors(vectors: npt.ArrayLike, dim: int) -> npt.NDArray[Any]:
    """``(n, dim)`` float16 or float32 rows, contiguous; ValueError for another shape or a
    vector that is not finite or is zero (cosine has no answer for it)."""
    v = np.asarray(vectors)
    if v.dtype not in (np.float16, np.float32):
        v = v.astype(np.float32)
    if v.ndim == 1:
        v = v.reshape(1, -1)
    if v.ndim != 2 or v.shape[1] != dim:
        raise ValueError(f"vectors have shape {v.shape}, expected (n, {dim})")
    norms = np.linalg.norm(v.astype(np.float32), axis=1)
    if not np.all(np.isfinite(norms) & (norms > 0)):
        raise ValueError("vectors must be finite and non-zero")
    return np.ascontiguousarray(v)


def upsert_args(keys: npt.ArrayLike, vectors: npt.ArrayLike, dim: int
                ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[Any]]:
    """An upsert's keys and vectors checked (as_keys, as_vectors): one vector a key, and no
    key twice. Either kind of index takes them so."""
    k, v = as_keys(keys), as_vectors(vectors, dim)
    if len(k) != len(v):
        raise ValueError(f"{len(k)} keys for {len(v)} vectors")
    if len(distinct(k)) != len(k):
        raise ValueError("the same key appears twice in one upsert")
    return k, v


def as_keys(keys: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    arr = np.asarray(keys)
    if arr.size == 0:
        return np.empty(0, dtype=np.uint64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"keys must be a 1-d integer array, not {arr.dtype} {arr.shape}")
    if arr.dtype.kind == "i" and bool((arr < 0).any()):
        raise ValueError("keys must not be negative")
    return arr.astype(np.uint64)


def no_matches() -> tuple[Keys, npt.NDArray[np.float32]]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
