"""What the int8 text detector (core/photos/text_int8.py) costs in quality and gains in
speed, against the float network, with the real OCR models on drawn photos.

Both readers see the same photos (tests/support/text_photos.py), drawn in four fonts,
tilted, noisy, JPEG-compressed or turned inside the picture:

* the gate's recall: photos whose one line is 2%, 1.5% or 1% of the photo's height, at
  four photo sizes, for which :meth:`TextReader.likely_text` says yes;
* the gate's false yes: photos without text (gradients, noise, shapes, skies, grass);
* reading: the share of lines read exactly (1.5% and 3% of the height), as a full reading
  of the whole photo returns them, and as the text pass reads (the gate, then the full
  detection in the regions around the gate's boxes only);
* time: the gate, a full reading, and the gate with a reading of its regions, per photo
  (medians), one runtime thread each.

    python bench/text_reading.py [--size smoke|full] [--json]

Quality figures are counts on fixed drawn sets, the same in every run; times vary with the
machine's load, the int8/float ratio much less.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, print_report

sys.path.insert(0, str(REPO))

SIZES = {"smoke": {"per_case": 4, "plain": 10}, "full": {"per_case": 40, "plain": 250}}
PHOTO_SIZES = [(4000, 3000), (1500, 2000), (1920, 1080), (1024, 768)]
VARIANTS: list[dict[str, Any]] = [
    {"font_name": "sans"}, {"font_name": "serif", "tilt": 5.0},
    {"font_name": "mono", "noise": 20.0}, {"font_name": "bold", "quality": 60},
    {"turn": 90}, {"turn": 180, "font_name": "serif"}]
LINES = ["EXIT", "Tel 0271-5550123", "RE1634 SUPERMARKT", "No parking 8-18"]


def _case(i: int, height: float, photo_size: tuple[int, int]) -> Any:
    from tests.support.text_photos import text_photo

    line = LINES[i % len(LINES)]
    options = VARIANTS[i % len(VARIANTS)]
    where = (0.25 + 0.5 * ((i * 37) % 11) / 10, 0.2 + 0.6 * ((i * 53) % 7) / 6)
    return line, text_photo([line], size=photo_size, font_size=max(8, round(height *
                            photo_size[1])), seed=i, where=where, **options)


def _gate(reader: Any, per_case: int, plain: int) -> dict[str, Any]:
    from tests.support.text_photos import PLAIN_KINDS, plain_photo

    found: dict[str, int] = {}
    times = []
    for height in (0.02, 0.015, 0.01):
        hits = 0
        for i in range(per_case):
            _, photo = _case(i, height, PHOTO_SIZES[i % len(PHOTO_SIZES)])
            start = time.perf_counter()
            hits += reader.likely_text(photo.image)
            times.append(time.perf_counter() - start)
        found[f"{height:.1%}"] = hits
    said_yes = 0
    for i in range(plain):
        kind = PLAIN_KINDS[i % len(PLAIN_KINDS)]
        size = [(960, 720), (2000, 1500), (1500, 2000)][i % 3]
        said_yes += reader.likely_text(plain_photo(kind, size, seed=i))
    return {"found_of": per_case, "found": found, "false_yes": said_yes, "plain": plain,
            "gate_ms": round(1000 * statistics.median(times), 1)}


def _reading(reader: Any, per_case: int) -> dict[str, Any]:
    """A full reading of the whole photo, and the gate then a reading of its regions only
    (as the text pass reads), on the same photos."""
    exact: dict[str, dict[str, int]] = {"whole": {}, "regions": {}}
    times: dict[str, list[float]] = {"whole": [], "regions": []}
    for height in (0.03, 0.015):
        hits = dict.fromkeys(exact, 0)
        for i in range(per_case):
            line, photo = _case(i, height, (1920, 1080))
            for way, read in (("whole", reader.read), ("regions", reader.read_photo)):
                start = time.perf_counter()
                lines = read(photo.image)
                times[way].append(time.perf_counter() - start)
                said = [" ".join(found.text.split()).lower() for found in lines]
                hits[way] += line.lower() in said
        for way in exact:
            exact[way][f"{height:.1%}"] = hits[way]
    return {"read_of": per_case, "read_exactly": exact["whole"],
            "read_ms": round(1000 * statistics.median(times["whole"]), 1),
            "gate_then_regions_exactly": exact["regions"],
            "gate_then_regions_ms": round(1000 * statistics.median(times["regions"]), 1)}


def measure(size: str) -> dict[str, Any]:
    from core.photos.text_reading import TextReader

    spec = SIZES[size]
    report: dict[str, Any] = {"machine": machine(), "size": size}
    with tempfile.TemporaryDirectory(prefix="pictor-text-int8-") as tmp:
        started = time.perf_counter()
        int8 = TextReader(threads=1, int8_cache=Path(tmp))
        int8.models  # noqa: B018 - builds the int8 network (timed)
        report["int8_build_s"] = round(time.perf_counter() - started, 1)
        report["int8_check"] = json.loads(next(Path(tmp).glob("*/meta.json")).read_text())
        for name, reader in (("float", TextReader(threads=1)), ("int8", int8)):
            report[name] = {**_gate(reader, spec["per_case"], spec["plain"]),
                            **_reading(reader, spec["per_case"] // 2)}
    report["gate_speedup"] = round(report["float"]["gate_ms"] / report["int8"]["gate_ms"], 2)
    report["read_speedup"] = round(report["float"]["read_ms"] / report["int8"]["read_ms"], 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    print_report(measure(args.size), as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
