"""Search index files of either kind: the graph (core.store.vector_index) or the inverted
file (core.store.ivf_index), as the sidecar's ``kind`` says. Opening such a file and
copying it are the only places that choose between the two; each kind checks and reads
its own files, with what they share from core.store.index_base.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.files import fsync_file, replaced
from core.store import ivf_index, vector_index
from core.store.index_base import (
    HNSW,
    AnyIndex,
    IndexMeta,
    read_sidecar,
    write_sidecar,
)


def open_index(path: Path, *, model: str, dim: int, view: bool = False
               ) -> tuple[AnyIndex, IndexMeta]:
    """Open a saved index of either kind (the sidecar says which); IndexDamagedError on
    any doubt. ``view`` maps the file read-only (an inverted file: its float16 vectors)."""
    meta, _ = read_sidecar(path)
    if meta.kind == HNSW:
        return vector_index.VectorIndex.load(path, model=model, dim=dim, view=view)
    return ivf_index.IvfIndex.load(path, model=model, dim=dim, view=view)


def copy_index(source: Path, target: Path, *, model: str) -> IndexMeta:
    """Copy a saved index of either kind, as it is, for another model with the same vectors
    (a version fine-tuned on its text side): a file copy, never loaded, whatever its size.
    Raises IndexDamagedError when the source cannot be trusted."""
    meta, size = read_sidecar(source)
    if meta.kind == HNSW:
        vector_index.check_file(source, size=size, dim=meta.dim, count=meta.count)
    else:
        ivf_index.check_file(source, size=size)
    with replaced(target) as tmp:
        shutil.copyfile(source, tmp)
        fsync_file(tmp)
    copied = IndexMeta(model=model, dim=meta.dim, count=meta.count, seq=meta.seq,
                       kind=meta.kind)
    write_sidecar(target, copied, size)
    return copied
