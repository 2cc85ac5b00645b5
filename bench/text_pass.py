"""The text pass's benchmark: what reading the text in photos costs an index run.

A mixed folder of camera-sized JPEGs, one in five with text written in it (a receipt, a
sign: a few lines, each with a code of its own), is indexed in one process with a
ViT-B/32-shaped model, each run into a fresh data folder: without the text pass
(``PICTOR_READ_TEXT=0``), with it, and with it on the float detector
(``PICTOR_TEXT_INT8=0``), interleaved (medians of 3 of each). All runs share one cache
folder, as a library's later runs do: the image tower's int8 build, the vocabulary's
vectors and the int8 text detector are made once, by a warm-up run, and counted in none.
Reported:

* the text pass's rate (photos/s, its own phase) and its time per photo beside the index
  run's; and the same for the pass run later over the library indexed without it, with
  no small copies kept by the index run (a library's photos past the copies' memory, or
  indexed before the text pass existed);
* the slowdown it adds to a whole index run (wall time with / without; target <= 1.25),
  and the same with the float detector;
* recall: the share of text photos found first by their code through search.

    python bench/text_pass.py [--size smoke|full] [--json]

``smoke`` (2-layer towers, 10 photos of 1600x1200) checks that it runs; ``full``
(ViT-B/32, 100 photos of 4000x3000) is the README's case. Absolute times on shared
machines are noise; compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CACHE, REPO, build_model, machine, photo_like, print_report

sys.path.insert(0, str(REPO))

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"photos": 10, "width": 1600, "height": 1200, "layers": 2, "repeat": 1},
    "full": {"photos": 100, "width": 4000, "height": 3000, "layers": None, "repeat": 3},
}
TEXT_EVERY = 5  # one photo in five has text
_WORDS = ("SUPERMARKT", "HARBOUR", "BAKERY", "TICKET", "PHARMACY", "STATION", "MUSEUM")


def make_mixed(folder: Path, count: int, width: int, height: int) -> dict[Path, str]:
    """The photos (made once, cached); returns each text photo's code."""
    from tests.support.text_photos import font

    folder.mkdir(parents=True, exist_ok=True)
    codes: dict[Path, str] = {}
    for i in range(count):
        path = folder / f"IMG_{i:04d}.jpg"
        code = f"QX{7000 + i}"
        if i % TEXT_EVERY == 0:
            codes[path] = code
        if path.is_file():
            continue
        image = photo_like(i, width, height)
        if i % TEXT_EVERY == 0:
            _write_text(image, [_WORDS[i % len(_WORDS)], code, "Tel 0271-555 01 23"],
                        font("sans", height // 30), seed=i)
        tmp = path.with_suffix(".tmp")
        image.save(tmp, "JPEG", quality=90)
        tmp.rename(path)
    return codes


def _write_text(image: Any, lines: list[str], typeface: Any, *, seed: int) -> None:
    """Dark lines on a light card (a receipt or a sign) somewhere in the photo."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    line_height = int(typeface.size * 1.4)
    card_w = int(typeface.size * 0.7 * max(len(line) for line in lines)) + line_height
    card_h = line_height * (len(lines) + 1)
    x = (seed * 7919) % max(1, image.width - card_w)
    y = (seed * 104729) % max(1, image.height - card_h)
    draw.rectangle((x, y, x + card_w, y + card_h), fill=(238, 234, 224))
    for row, line in enumerate(lines):
        draw.text((x + line_height // 2, y + line_height // 2 + row * line_height), line,
                  fill=(25, 25, 30), font=typeface)


def _index(model: Path, photos: Path, data: Path, *, text: bool,
           int8: bool = True) -> dict[str, float]:
    """One whole index run in this process: wall seconds, and the text phase's seconds."""
    from core.library import Library

    os.environ["PICTOR_READ_TEXT"] = "1" if text else "0"
    os.environ["PICTOR_TEXT_INT8"] = "1" if int8 else "0"
    start = time.perf_counter()
    text_started = None
    with Library(data, model=str(model)) as library:
        for progress in library.index([photos]):
            if progress.phase == "text" and text_started is None:
                text_started = time.perf_counter()
    end = time.perf_counter()
    return {"wall_s": end - start, "text_s": end - text_started if text_started else 0.0}


def _recall(model: Path, data: Path, codes: dict[Path, str]) -> float:
    from core.library import Library

    found = 0
    with Library(data, model=str(model)) as library:
        for path, code in codes.items():
            hits = library.search(code, k=1, min_score=100)
            found += bool(hits) and Path(hits[0].path).name == path.name
    return found / len(codes)


def measure(size: str) -> dict[str, Any]:
    spec = SIZES[size]
    layers = spec["layers"]
    model = build_model(CACHE / "models" / f"vitb32-L{layers or 12}", layers=layers)
    photos = CACHE / "photos" / f"text-{spec['width']}x{spec['height']}-{spec['photos']}"
    codes = make_mixed(photos, spec["photos"], spec["width"], spec["height"])
    kinds = {"without": {"text": False}, "int8": {"text": True},
             "float": {"text": True, "int8": False}}
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in (*kinds, "later")}
    with tempfile.TemporaryDirectory(prefix="pictor-text-pass-") as tmp:
        base = Path(tmp)
        # One cache for every run, as a library's later runs have: the int8 towers, the
        # vocabulary's vectors (about 14 s to embed once) are built by the warm-up run.
        os.environ["PICTOR_CACHE_DIR"] = str(base / "cache")
        _index(model, photos, base / "warm", text=True)
        for i in range(spec["repeat"]):  # interleaved: a busy spell hits all alike
            for kind, options in kinds.items():
                runs[kind].append(_index(model, photos, base / f"{kind}-{i}", **options))
            # The library indexed without it, read by a later run: no copies kept by an
            # index run in the same process (as for photos past the copies' memory).
            runs["later"].append(_index(model, photos, base / f"without-{i}", text=True))
        recall = {kind: _recall(model, base / f"{kind}-0", codes) for kind in ("int8", "float")}
    without, with_text = _median_run(runs["without"]), _median_run(runs["int8"])
    with_float = _median_run(runs["float"])
    later = _median_run(runs["later"])
    count = spec["photos"]
    return {
        "machine": machine(),
        "size": size,
        "photos": count,
        "text_photos": len(codes),
        "photo_size": f"{spec['width']}x{spec['height']}",
        "model": "ViT-B/32" if layers is None else f"ViT-B/32 width, {layers} layers",
        "index_without_text_s": round(without["wall_s"], 2),
        "index_with_text_s": round(with_text["wall_s"], 2),
        "slowdown": round(with_text["wall_s"] / without["wall_s"], 2),
        "text_pass_s": round(with_text["text_s"], 2),
        "text_pass_photos_per_s": round(count / with_text["text_s"], 2)
        if with_text["text_s"] else None,
        "text_recall": round(recall["int8"], 3),
        "per_photo_index_ms": round(1000 * without["wall_s"] / count, 1),
        "per_photo_text_ms": round(1000 * with_text["text_s"] / count, 1),
        "without_kept_copies": {
            "text_pass_s": round(later["text_s"], 2),
            "text_pass_photos_per_s": round(count / later["text_s"], 2)
            if later["text_s"] else None,
            "slowdown": round((without["wall_s"] + later["text_s"]) / without["wall_s"], 2),
        },
        "float_detector": {
            "index_with_text_s": round(with_float["wall_s"], 2),
            "slowdown": round(with_float["wall_s"] / without["wall_s"], 2),
            "text_pass_s": round(with_float["text_s"], 2),
            "text_recall": round(recall["float"], 3),
        },
        "int8_detector_speedup": round(with_float["text_s"] / with_text["text_s"], 2)
        if with_text["text_s"] else None,
    }


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


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
