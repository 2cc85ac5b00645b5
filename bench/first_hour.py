"""The first hour's benchmark: what a new user waits for on the command line.

Each case runs ``main.py`` as a user would (a fresh process, a ViT-B/32-shaped model built
offline, generated camera-sized JPEGs), against a baseline measured in the same run: a bare
``python -c pass`` and ``main.py status`` (the command line's own start, no model):

* ``index`` with nothing new to do, and a refused argument (``search --min-score 150``):
  neither needs the model, so each should cost about a ``status`` (target: under 1 s);
* a first ``index`` of a folder of 12-megapixel JPEGs: its wall time, and the rate of its
  embedding phase (photos/s, as the run reports it) against the same photos through
  ``Library.index`` in one warm process (the ingest benchmark's way); the wall time
  also holds the model's load and the first tag pass (the vocabulary embedded once per
  model), reported as the rest.

    python bench/first_hour.py [--size smoke|full] [--json]

``smoke`` (2-layer towers, 8 photos of 1600x1200, no warm run) checks that it runs;
``full`` (ViT-B/32, 100 photos of 4000x3000) is the README's case. Absolute times on
shared machines are noise; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CACHE, REPO, build_model, machine, make_photos, print_report

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"photos": 8, "width": 1600, "height": 1200, "layers": 2, "repeat": 1,
              "warm": False},
    "full": {"photos": 100, "width": 4000, "height": 3000, "layers": None, "repeat": 5,
             "warm": True},
}


def _run(args: list[str], data: Path, *, ok: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of ``main.py ARGS`` on the data folder ``data``."""
    return _run_out(args, data, ok=ok)[0]


def _run_out(args: list[str], data: Path, *,
             ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """Wall seconds and stdout of ``main.py ARGS`` on the data folder ``data``."""
    env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"main.py {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed, done.stdout


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


def _in_process_rate(model: Path, photos: Path, data: Path) -> float:
    """Embedding photos/s of a first index run inside one warm process."""
    from core.library import Library

    with Library(data, model=str(model)) as library:
        last = None
        for progress in library.index([photos]):
            last = progress
    assert last is not None
    return float(last.rate)


def measure(size: str) -> dict[str, Any]:
    spec = SIZES[size]
    layers = spec["layers"]
    model = build_model(CACHE / "models" / f"vitb32-L{layers or 12}", layers=layers)
    photos = CACHE / "photos" / f"first-hour-{spec['width']}x{spec['height']}-{spec['photos']}"
    make_photos(photos, spec["photos"], spec["width"], spec["height"])
    repeat = spec["repeat"]
    with tempfile.TemporaryDirectory(prefix="pictor-first-hour-") as tmp:
        base = Path(tmp)
        bare = [_run_bare() for _ in range(repeat)]
        first, out = _run_out(["index", str(photos), "--model", str(model), "--json"],
                              base / "data")
        report = json.loads(out)
        status = [_run(["status"], base / "data") for _ in range(repeat)]
        nothing = [_run(["index"], base / "data") for _ in range(repeat)]
        refused = [_run(["search", "a dog", "--min-score", "150"], base / "data", ok=(2,))
                   for _ in range(repeat)]
        warm = _in_process_rate(model, photos, base / "warm") if spec["warm"] else 0.0
        shutil.rmtree(base / "warm", ignore_errors=True)
    cli_rate = float(report["rate"])
    embedding_s = spec["photos"] / cli_rate if cli_rate else 0.0
    return {
        "machine": machine(),
        "size": size,
        "photos": spec["photos"],
        "photo_size": f"{spec['width']}x{spec['height']}",
        "model": "ViT-B/32" if layers is None else f"ViT-B/32 width, {layers} layers",
        "bare_python_s": _median(bare),
        "status_s": _median(status),
        "index_nothing_to_do_s": _median(nothing),
        "refused_argument_s": _median(refused),
        "index_nothing_to_do_vs_status": round(_median(nothing) / _median(status), 2),
        "refused_argument_vs_status": round(_median(refused) / _median(status), 2),
        "first_index_s": round(first, 2),
        "first_index_embedding_s": round(embedding_s, 2),
        "first_index_rest_s": round(first - embedding_s, 2),
        "first_index_photos_per_s": round(cli_rate, 2),
        "warm_process_photos_per_s": round(warm, 2) if warm else None,
        "first_index_vs_warm_process": round(cli_rate / warm, 2) if warm else None,
    }


def _run_bare() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    report = measure(args.size)
    print_report(report, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
