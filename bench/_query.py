"""The query benchmark: vector search alone at 10k/100k/1M clustered vectors (recall@10 against
exact, memory per vector, expansion settings), and text and image queries end to end."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from _common import CACHE, build_model, make_photos, median_ms, timed

DIM = 512
SIZES: dict[str, dict[str, Any]] = {
    # The smoke size checks the inverted file at 30k (its minimum is IVF_MIN in a library).
    "smoke": {"vectors": [10_000, 30_000], "end_to_end": [10_000], "queries": 30, "layers": 2,
              "expansions": [], "ivf_min": 30_000},
    "full": {"vectors": [10_000, 100_000, 1_000_000], "end_to_end": [10_000, 100_000],
             "queries": 200, "layers": None, "expansions": [64, 128, 256, 512]},
}


def clustered(n: int, *, seed: int, clusters: int | None = None) -> npt.NDArray[np.float32]:
    """Unit vectors in clusters of uneven size and spread (photos of the same things are near
    each other; uniform noise is what no library looks like)."""
    rng = np.random.default_rng(seed)
    clusters = clusters or max(50, n // 500)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    weights = rng.pareto(1.5, clusters) + 1
    owner = rng.choice(clusters, n, p=weights / weights.sum())
    spread = rng.uniform(0.5, 1.2, clusters).astype(np.float32)[owner, None]
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        part = slice(start, min(n, start + 100_000))
        noise = rng.standard_normal((part.stop - part.start, DIM)).astype(np.float32)
        out[part] = centres[owner[part]] + spread[part] * noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _queries(vectors: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.float32]:
    """Queries near the data, not on it: a photo's vector plus noise of the same length
    (cosine ~0.7 to that photo), as a query lands among its photos but on none of them."""
    rng = np.random.default_rng(1)
    picked = vectors[rng.choice(len(vectors), count, replace=False)]
    q = picked + rng.standard_normal(picked.shape).astype(np.float32) / np.sqrt(DIM)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def _exact_top(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32],
               k: int) -> npt.NDArray[np.int64]:
    top = np.empty((len(queries), k), np.int64)
    for i, q in enumerate(queries):
        sims = vectors @ q
        part = np.argpartition(-sims, k)[:k]
        top[i] = part[np.argsort(-sims[part])]
    return top


def _measure(index: Any, queries: npt.NDArray[np.float32],
             truth: npt.NDArray[np.int64]) -> dict[str, Any]:
    for q in queries[:20]:  # warm-up: the first searches after a build fault pages in
        index.search(q, 10)
    times, hits = [], 0
    for q, want in zip(queries, truth, strict=True):
        start = time.perf_counter()
        keys, _ = index.search(q, 10)
        times.append(time.perf_counter() - start)
        hits += len(set(keys.tolist()) & set(want.tolist()))
    p95 = round(1000 * float(np.quantile(times, 0.95)), 3)
    return {"median_ms": median_ms(times), "p95_ms": p95,
            "recall_at_10": round(hits / (10 * len(queries)), 4)}


class _ExactScan:
    """The baseline: an exact scan over the index's own float16 vectors."""

    def __init__(self, index: Any, keys: npt.NDArray[np.int64]) -> None:
        self.index, self.keys = index, keys

    def search(self, q: npt.NDArray[np.float32], k: int) -> Any:
        if self.index.kind == "ivf":
            return self.index.search(q, k, allowed=self.keys)
        saved, self.index.exact_max = self.index.exact_max, len(self.keys)
        try:
            return self.index.search(q, k)
        finally:
            self.index.exact_max = saved


def vector_search(n: int, count: int, expansions: list[int], *, graph: dict[str, int],
                  ivf_min: int | None = None
                  ) -> tuple[dict[str, Any], Any, npt.NDArray[np.float32]]:
    """The index a library of ``n`` photos has (a graph, or from ``ivf_min``, by default
    the library's IVF_MIN, the inverted file; ``graph`` settings always measure a graph)."""
    from core.store.index_keeper import IVF_MIN
    from core.store.ivf_index import IvfIndex
    from core.store.vector_index import VectorIndex

    vectors = clustered(n, seed=n)
    queries = _queries(vectors, count)
    truth = _exact_top(vectors, queries, 10) + 1  # keys are 1..n, like catalog ids
    keys = np.arange(1, n + 1, dtype=np.int64)
    start = time.perf_counter()
    index: Any
    if n >= (ivf_min or IVF_MIN) and not graph:
        index, mode = IvfIndex.build(keys, vectors), "ivf"
    else:
        index = VectorIndex(DIM, **graph)
        index.upsert(keys, vectors)
        mode = "exact" if n <= index.exact_max else "hnsw"
    built = time.perf_counter() - start
    result: dict[str, Any] = {"vectors": n, "mode": mode,
                              "build_s": round(built, 1), "graph": graph or "default",
                              "bytes_per_vector": round(index.nbytes / n, 1)}
    result.update(_measure(index, queries, truth))
    some = max(10, count // 4)
    exact = _measure(_ExactScan(index, keys), queries[:some], truth[:some])
    result["exact_median_ms"] = exact["median_ms"]
    result["speedup_vs_exact"] = round(exact["median_ms"] / result["median_ms"], 2)
    if result["mode"] == "hnsw" and expansions:
        sweep = {}
        default = index._index.expansion_search
        for ef in expansions:
            index._index.expansion_search = ef
            sweep[ef] = _measure(index, queries, truth)
        index._index.expansion_search = default
        result["expansion_search_sweep"] = sweep
    if mode == "ivf" and expansions:
        sweep, default = {}, index._ivf.nprobe
        for share in (2, 1, 0.5):  # lists scanned: twice, once and half the default
            index._ivf.nprobe = int(default * share)
            sweep[index._ivf.nprobe] = _measure(index, queries, truth)
        index._ivf.nprobe = default
        result["nprobe_sweep"] = sweep
    return result, index, vectors


def end_to_end(n: int, index: Any, vectors: npt.NDArray[np.float32], model_dir: Path,
               image: Path, count: int) -> dict[str, Any]:
    """Text and image queries through ``Library.search`` on a library of ``n`` photos
    (catalog rows and the saved index; the model loaded before timing)."""
    from core.library import Library, vector_index_path
    from core.store.catalog import PhotoFacts

    texts = [f"a photo of {w} at the beach number {i}" for i, w in
             enumerate(["a dog", "a cat", "my kids", "a boat", "a cake"] * (count // 5 + 1))]
    with tempfile.TemporaryDirectory(prefix="pictor-bench-") as tmp:
        lib = Library(Path(tmp), model=str(model_dir), device="cpu")
        model_id, _ = lib.model_key()
        root = lib.catalog.add_root("/photos")
        for start in range(0, n, 5000):
            ids = range(start, min(n, start + 5000))
            facts = [PhotoFacts(path=f"/photos/{i // 1000}/IMG_{i}.jpg", root_id=root,
                                size=1, mtime=0.0, content_hash=f"{i:032x}", width=4000,
                                height=3000) for i in ids]
            written = lib.catalog.write_batch(facts, list(vectors[start:start + len(facts)]),
                                              model_id)
            assert written == list(range(start + 1, start + len(facts) + 1))  # = index keys
        index.save(vector_index_path(lib.data_dir, lib.model_name), model=lib.model_name,
                   seq=lib.catalog.max_seq(model_id))
        lib.search("warm up")
        lib.search(image=image)
        text = timed(lambda: lib.search(texts.pop()), repeat=count)
        repeated = timed(lambda: lib.search("a dog on the beach"), repeat=count)
        images = timed(lambda: lib.search(image=image), repeat=max(3, count // 10))
        vector_only = timed(lambda: lib.search_vector(vectors[7]), repeat=count)
        lib.close()
    return {"photos": n, "text_median_ms": median_ms(text),
            "repeated_text_median_ms": median_ms(repeated),
            "image_12mp_median_ms": median_ms(images),
            "stored_vector_median_ms": median_ms(vector_only)}


def run(size: str, *, max_vectors: int | None = None, min_vectors: int | None = None,
        graph: dict[str, int] | None = None) -> dict[str, Any]:
    """``graph`` overrides VectorIndex's connectivity / expansion_add (a lever to measure)."""
    spec = SIZES[size]
    name = f"vitb32-L{spec['layers'] or 12}"
    model_dir = build_model(CACHE / "models" / name, layers=spec["layers"])
    image = make_photos(CACHE / "photos" / "query-4000x3000", 1, 4000, 3000)[0]
    searches, e2e = [], []
    for n in [n for n in spec["vectors"] if (max_vectors is None or n <= max_vectors)
              and (min_vectors is None or n >= min_vectors)]:
        result, index, vectors = vector_search(n, spec["queries"], spec["expansions"],
                                               graph=graph or {}, ivf_min=spec.get("ivf_min"))
        searches.append(result)
        if n in spec["end_to_end"]:
            e2e.append(end_to_end(n, index, vectors, model_dir, image, spec["queries"] // 2))
        del index, vectors
    largest = searches[-1]
    return {
        "benchmark": "query",
        "model": {"name": name, "layers": spec["layers"] or 12},
        "vector_search": searches,
        "end_to_end": e2e,
        "ratios": {
            "recall_at_10": largest["recall_at_10"],
            "search_speedup_vs_exact": largest["speedup_vs_exact"],
            **({"repeated_text_speedup": round(e2e[-1]["text_median_ms"]
                                               / e2e[-1]["repeated_text_median_ms"], 2)}
               if e2e else {}),
        },
        "targets": {"median_ms_at_1m": 2.0, "recall_at_10": 0.98, "text_e2e_ms_at_100k": 50.0,
                    "bytes_per_vector": 1200},
    }
