"""Pictor's benchmarks, each a ratio against a baseline measured in the same run.

    python bench/run.py ingest  [--size smoke|full] [--json] [--batch-size N] [--workers N]
    python bench/run.py query   [--size smoke|full] [--json] [--min-vectors N] [--max-vectors N]
    python bench/run.py startup [--size smoke|full] [--json]
    python bench/run.py memory  [--size smoke|full] [--json] [--corpus NAME ...]

``ingest``: generated photo-like JPEGs through ``Library.index`` against (a) the naive
pipeline (Pillow full decode, transformers processor, fp32, one photo at a time) and (b) the
model alone on ready tensors at its best batch size, each with the int8 ONNX Runtime image
tower (prepared beforehand, as a large first run does) and with PyTorch alone.
``query``: vector search alone at 10k, 100k and 1M clustered synthetic vectors (recall@10
against exact, bytes per vector; --connectivity/--expansion-add try other graphs), and text
and image queries end to end. ``startup``: bench/startup.py (first paint) and process start
to the first search answered by the command line. ``memory``: peak resident memory of
``main.py index`` on generated libraries of normal, odd, broken, huge and hostile files,
against a fixed budget (bench/_memory.py).

``smoke`` is tiny (CI, well under a minute); ``full`` is run by hand for the README. Inputs
and models are built offline and cached in ``.cache/bench``. Absolute times on shared
machines are noise; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from _common import machine


def _print_text(report: dict[str, Any], indent: str = "") -> None:
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_text(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=["ingest", "query", "startup", "memory"])
    parser.add_argument("--size", choices=["smoke", "full"], default="full")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--batch-size", type=int, default=32, help="ingest: indexer batch")
    parser.add_argument("--workers", type=int, default=None, help="ingest: decode threads")
    parser.add_argument("--max-vectors", type=int, default=None,
                        help="query: skip the sizes above this (1M takes long to build)")
    parser.add_argument("--min-vectors", type=int, default=None,
                        help="query: skip the sizes below this")
    parser.add_argument("--connectivity", type=int, default=None,
                        help="query: HNSW links per vector (default: the library's)")
    parser.add_argument("--expansion-add", type=int, default=None,
                        help="query: HNSW build breadth (default: the library's)")
    parser.add_argument("--corpus", action="append", default=None,
                        help="memory: measure only this corpus (repeatable)")
    parser.add_argument("--cap-mb", type=int, default=8192,
                        help="memory: kill a run whose resident memory passes this")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.benchmark == "ingest":
        import _ingest

        report = _ingest.run(args.size, batch_size=args.batch_size, workers=args.workers)
    elif args.benchmark == "query":
        import _query

        graph = {k: v for k, v in (("connectivity", args.connectivity),
                                   ("expansion_add", args.expansion_add)) if v is not None}
        report = _query.run(args.size, max_vectors=args.max_vectors,
                            min_vectors=args.min_vectors, graph=graph)
    elif args.benchmark == "memory":
        import _memory

        report = _memory.run(args.size, only=args.corpus, cap_mb=args.cap_mb)
    else:
        import _startup

        report = _startup.run(args.size)
    report = {**report, "size": args.size, "machine": machine(),
              "wall_s": round(time.perf_counter() - started, 1)}
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
