"""Vector-search levers measured for the 1M target but not adopted (see README, Performance).

Same data, queries and exact truth as ``bench/run.py query`` (bench/_query.py), straight
on USearch, so each lever is measured alone:

- ``rerank``: int8 vectors (scaled by 4 before quantizing, since cosine ignores scale and
  unit vectors' components are small) in a denser graph (32 links), searched for K
  candidates that are re-ranked with the float16 vectors (which the catalog holds anyway);
- ``shards``: the vectors split into N graphs searched at once on N threads, the best 10
  of their answers kept (``--shards 1``: one graph, e.g. int8 with 16 links);
- ``binary``: 1 bit a dimension (the sign) in a Hamming graph, K candidates re-ranked with
  the float16 vectors.

    .venv/bin/python bench/search_levers.py rerank --vectors 1000000
    .venv/bin/python bench/search_levers.py shards --vectors 1000000 --shards 2
    .venv/bin/python bench/search_levers.py shards --vectors 1000000 --dtype i8 --rerank 40
    .venv/bin/python bench/search_levers.py binary --vectors 100000

Each prints one JSON object: build time, bytes per vector, and median latency and
recall@10 for each search expansion (and K for rerank).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
from _common import CACHE
from _query import DIM, _exact_top, _queries, clustered  # bench/ is on the path

SCALE = 4.0  # |component| of a 512-d unit vector stays under ~0.26: x4 uses int8's range


def _measure(search: Any, queries: npt.NDArray[np.float32],
             truth: npt.NDArray[np.int64]) -> dict[str, float]:
    times, hits = [], 0
    for query, want in zip(queries, truth, strict=True):
        start = time.perf_counter()
        keys = search(query)
        times.append(time.perf_counter() - start)
        hits += len(set(keys.tolist()) & set(want.tolist()))
    return {"median_ms": round(1000 * float(np.median(times)), 3),
            "recall_at_10": round(hits / (10 * len(queries)), 4)}


def rerank(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32],
           truth: npt.NDArray[np.int64], links: int) -> dict[str, Any]:
    from usearch.index import Index

    exact = vectors.astype(np.float16)
    index = Index(ndim=DIM, metric="cos", dtype="i8", connectivity=links, expansion_add=256)
    start = time.perf_counter()
    index.add(np.arange(len(vectors)), np.clip(vectors * SCALE, -1, 1))
    report: dict[str, Any] = {"lever": "rerank", "links": links,
                              "build_s": round(time.perf_counter() - start),
                              "bytes_per_vector": round(index.serialized_length / len(vectors))}
    for ef in (64, 128, 256):
        index.expansion_search = ef
        for k in (10, 20, 40, 80):
            if k > ef:
                continue

            def search(query: npt.NDArray[np.float32], k: int = k) -> npt.NDArray[Any]:
                keys = index.search(np.clip(query * SCALE, -1, 1), k).keys
                if k > 10:
                    keys = keys[np.argsort(-(exact[keys].astype(np.float32) @ query))[:10]]
                return keys

            report[f"ef{ef}_k{k}"] = _measure(search, queries, truth)
    return report


def shards(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32],
           truth: npt.NDArray[np.int64], count: int, dtype: str, links: int,
           rerank_k: int, expansions: list[int]) -> dict[str, Any]:
    """N graphs searched at once on N threads; with ``rerank_k`` each returns that many
    candidates, re-ranked together with the float16 vectors. Built graphs are kept in
    ``.cache/bench/levers`` (the data is seeded), so a quiet re-run only searches."""
    from usearch.index import Index

    scale = SCALE if dtype == "i8" else 1.0
    folder = CACHE / "levers"
    folder.mkdir(parents=True, exist_ok=True)
    graphs, build_s = [], 0.0
    for i, part in enumerate(np.array_split(np.arange(len(vectors)), count)):
        path = folder / f"{len(vectors)}-{count}x-{dtype}-m{links}-{i}.usearch"
        graph = Index(ndim=DIM, metric="cos", dtype=dtype, connectivity=links,
                      expansion_add=256)
        if path.exists():
            graph.load(str(path))
        else:
            start = time.perf_counter()
            graph.add(part, np.clip(vectors[part] * scale, -1, 1) if scale != 1 else
                      vectors[part])
            build_s += time.perf_counter() - start
            graph.save(str(path))
        graphs.append(graph)
    exact = vectors.astype(np.float16)
    report: dict[str, Any] = {"lever": "shards", "shards": count, "dtype": dtype,
                              "links": links, "rerank_k": rerank_k,
                              "build_s": round(build_s),
                              "bytes_per_vector": round(sum(g.serialized_length for g in graphs)
                                                        / len(vectors))}
    pool = ThreadPoolExecutor(count)
    k = rerank_k or 10

    def search(query: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        q = np.clip(query * scale, -1, 1) if scale != 1 else query
        found = list(pool.map(lambda g: g.search(q, k), graphs)) if count > 1 \
            else [graphs[0].search(q, k)]
        keys = np.concatenate([m.keys for m in found])
        if rerank_k:
            return keys[np.argsort(-(exact[keys].astype(np.float32) @ query))[:10]]
        return keys[np.argsort(np.concatenate([m.distances for m in found]))[:10]]

    for ef in expansions:
        for graph in graphs:
            graph.expansion_search = ef
        report[f"ef{ef}"] = _measure(search, queries, truth)
    pool.shutdown()
    return report


def binary(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32],
           truth: npt.NDArray[np.int64], links: int) -> dict[str, Any]:
    from usearch.index import Index

    exact = vectors.astype(np.float16)
    index = Index(ndim=DIM, metric="hamming", dtype="b1", connectivity=links,
                  expansion_add=256)
    start = time.perf_counter()
    index.add(np.arange(len(vectors)), np.packbits(vectors > 0, axis=1))
    report: dict[str, Any] = {"lever": "binary", "links": links,
                              "build_s": round(time.perf_counter() - start),
                              "bytes_per_vector": round(index.serialized_length / len(vectors))}
    for ef in (256, 512, 1024):
        index.expansion_search = ef
        for k in (100, 200, 400):

            def search(query: npt.NDArray[np.float32], k: int = k) -> npt.NDArray[Any]:
                keys = index.search(np.packbits(query > 0), k).keys
                return keys[np.argsort(-(exact[keys].astype(np.float32) @ query))[:10]]

            report[f"ef{ef}_k{k}"] = _measure(search, queries, truth)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lever", choices=["rerank", "shards", "binary"])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--links", type=int, default=32, help="rerank: graph connectivity")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--dtype", default="f16", help="shards: f16 or i8 (scaled by 4)")
    parser.add_argument("--rerank", type=int, default=0,
                        help="shards: candidates per shard re-ranked with float16 (0: none)")
    parser.add_argument("--expansions", default="96,128,160,192,256",
                        help="shards: search expansions to measure, comma-separated")
    args = parser.parse_args()
    vectors = clustered(args.vectors, seed=args.vectors)
    queries = _queries(vectors, args.queries)
    truth = _exact_top(vectors, queries, 10)
    if args.lever == "rerank":
        report = rerank(vectors, queries, truth, args.links)
    elif args.lever == "binary":
        report = binary(vectors, queries, truth, args.links)
    else:
        links = 16 if args.dtype == "f16" and "--links" not in sys.argv else args.links
        report = shards(vectors, queries, truth, args.shards, args.dtype, links, args.rerank,
                        [int(ef) for ef in args.expansions.split(",")])
    print(json.dumps({"vectors": args.vectors, "queries": args.queries, **report}, indent=1))


if __name__ == "__main__":
    main()
