"""Startup benchmark: seconds from process start to the window's first paint.

Runs ``python main.py`` several times with ``PICTOR_EXIT_AFTER_PAINT=1`` (the window prints
the time of its first paint and quits), in a fresh data and settings folder, and prints
JSON: the median, min and max, every sample, and, as a baseline measured in the same run,
the start-up of a bare ``python -c pass`` (absolute times on shared machines are noise;
the ratio is steadier). The first run only warms the file cache and is not counted.

    python bench/startup.py [--runs 7] [--platform offscreen|xcb|...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def first_paint(env: dict[str, str]) -> float:
    """Seconds from spawning ``python main.py`` to its first paint."""
    spawned = time.time()
    done = subprocess.run([sys.executable, "main.py"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("first-paint ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the window did not paint (exit {done.returncode}):\n{done.stderr}")
    return float(lines[-1].split()[1]) - spawned


def bare_python(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--platform", default=None,
                        help="QT_QPA_PLATFORM (default: as set, else xcb with a display, "
                             "else offscreen)")
    args = parser.parse_args(argv)
    qpa = args.platform or os.environ.get("QT_QPA_PLATFORM") or (
        "xcb" if os.environ.get("DISPLAY") else "offscreen")
    with tempfile.TemporaryDirectory(prefix="pictor-bench-") as tmp:
        env = dict(os.environ, PICTOR_EXIT_AFTER_PAINT="1", QT_QPA_PLATFORM=qpa,
                   PICTOR_DATA_DIR=str(Path(tmp) / "data"),
                   XDG_CONFIG_HOME=str(Path(tmp) / "config"))
        first_paint(env)  # warm the file cache
        samples = [first_paint(env) for _ in range(args.runs)]
        baseline = [bare_python(env) for _ in range(args.runs)]
    spawn = samples
    median = statistics.median(spawn)
    python_median = statistics.median(baseline)
    report: dict[str, Any] = {
        "benchmark": "startup: process start -> first paint",
        "runs": args.runs,
        "median_s": round(median, 3),
        "min_s": round(min(spawn), 3),
        "max_s": round(max(spawn), 3),
        "samples_s": [round(s, 3) for s in spawn],
        "baseline_bare_python_s": round(python_median, 3),
        "ratio_to_bare_python": round(median / python_median, 1),
        "qt_platform": qpa,
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "system": f"{platform.system()} {platform.release()}"},
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
