"""The memory benchmark: peak resident memory of ``main.py index`` on odd libraries.

Each corpus is indexed by the command line, on default settings, into a fresh library, in
a process of its own (bench/_memory_probe.py), whose peak resident set (the kernel's
high-water mark) is compared with the budget. The probe also names the phase each peak
came from. The int8 tower cache starts empty for every corpus, as on a first run; the
caption vocabulary is embedded by the first corpus and copied to the others (it costs a
minute per run and its peak is the same whatever the photos).

A run that passes ``--cap-mb`` is killed and reported as such, so a regression cannot take
a shared machine down with it; a run past ``timeout_s`` is killed too (a FIFO read
forever, say).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _odd_images as odd
from _common import CACHE, REPO, build_model, make_photos

BUDGET_MB = 2048
"""Peak resident memory of any index run on default settings with a ViT-B/32 model."""
CAPTIONS_DIR = "captions"
SETTINGS: dict[str, dict[str, str]] = {"photos-600-no-int8-tower": {"PICTOR_FAST_IMAGES": "0"}}
"""Corpora run with a setting changed (environment variables); the others use defaults."""

Corpus = Callable[[Path], int]
"""Fills a folder (cached) and returns how many files it holds."""


def _photos(count: int, width: int, height: int) -> Corpus:
    return lambda folder: len(make_photos(folder, count, width, height))


def _hostile(folder: Path) -> int:
    """tests/support/odd_files.py's hostile cases (a FIFO, a link to /dev/zero, a sparse
    3 GB file, a 10 MB XMP flood, 225-megapixel PNG/GIF/WebP/TIFF) plus three photos."""
    from tests.support import odd_files

    if not (folder / "photo.jpg").exists():
        folder.mkdir(parents=True, exist_ok=True)
        odd_files.write_hostile(folder)
    return len(list(folder.iterdir())) + len(make_photos(folder / "photos", 3, 1024, 768)) - 1


SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "layers": 2,
        "timeout_s": 240,
        "corpora": {
            "photos-3": _photos(3, 1600, 1200),
            "one-byte-jpg-600": lambda f: odd.one_byte_files(f, 600),
            "odd-and-broken-70": lambda f: odd.odd_corpus(f, 70, bombs=1, bomb_side=8000),
            "big-100mp-gif-png-2+2": lambda f: odd.huge_images(f, 2, 10_000, ("GIF", "PNG")),
            "big-64mp-webp-lossless+lossy-1+1": lambda f: (
                odd.huge_images(f, 1, 8_000, ("WEBP",))
                + odd.huge_images(f, 1, 8_000, ("WEBP",), lossy=True)),
            "photos-500-small": _photos(500, 320, 240),
            "hostile": _hostile,
        },
    },
    "full": {
        "layers": None,
        "timeout_s": 900,
        "corpora": {
            "photos-5": _photos(5, 4000, 3000),
            "photos-600": _photos(600, 1024, 768),
            "photos-600-no-int8-tower": _photos(600, 1024, 768),
            "one-byte-jpg-20000": lambda f: odd.one_byte_files(f, 20_000),
            "odd-and-broken-1000": lambda f: odd.odd_corpus(f, 1000),
            "huge-225mp-gif-8": lambda f: odd.huge_images(f, 8, 15_000, ("GIF",)),
            "big-169mp-gif-png-webp-3+3+2": lambda f: (
                odd.huge_images(f, 3, 13_000, ("GIF", "PNG"))
                + odd.huge_images(f, 2, 13_000, ("WEBP",))),
            "big-webp-81mp-lossless+64mp-lossy-2+2": lambda f: (
                odd.huge_images(f, 2, 9_000, ("WEBP",))
                + odd.huge_images(f, 2, 8_000, ("WEBP",), lossy=True)),
            "hostile": _hostile,
        },
    },
}


def _rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def measure(folder: Path, model: Path, cache: Path, *, timeout_s: float, cap_mb: int,
            settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Index ``folder`` into a fresh library with ``main.py index --json`` under the probe."""
    with tempfile.TemporaryDirectory(prefix="pictor-memory-") as tmp:
        report_file = Path(tmp) / "report.json"
        env = {**os.environ, "PICTOR_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", **(settings or {})}
        command = [sys.executable, str(REPO / "bench" / "_memory_probe.py"), str(report_file),
                   "index", str(folder), "--data-dir", str(Path(tmp) / "data"),
                   "--model", str(model), "--device", "cpu", "--json"]
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
        stopped = None
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pumps = [_pump(child.stdout, out), _pump(child.stderr, err)]
            while True:  # wait4, not poll: the kernel's peak of the whole process comes back
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    child.returncode = os.waitstatus_to_exitcode(status)
                    break
                if stopped is None and _rss_mb(child.pid) > cap_mb:
                    stopped = f"killed: over {cap_mb} MB"
                elif stopped is None and time.monotonic() - started > timeout_s:
                    stopped = f"killed: over {timeout_s:.0f} s"
                if stopped:
                    os.killpg(child.pid, signal.SIGKILL)
                time.sleep(0.05)
            for pump in pumps:
                pump.join()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(
                errors="replace")
        result: dict[str, Any] = {"exit_code": child.returncode, "stopped": stopped,
                                  "wall_s": round(time.monotonic() - started, 1)}
        if report_file.is_file():
            result.update(json.loads(report_file.read_text(encoding="utf-8")))
        result["peak_rss_mb"] = usage.ru_maxrss // 1024  # Linux counts in KB
        try:
            summary = json.loads(stdout)
            result["index"] = {k: summary.get(k) for k in ("indexed", "failed", "skipped",
                                                            "total")}
        except ValueError:
            result["stderr_tail"] = stderr[-1500:]
        return result


def _pump(stream: Any, sink: Any) -> Any:
    import threading

    def copy() -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.write(chunk)
    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def run(size: str, *, only: list[str] | None = None, cap_mb: int = 8192) -> dict[str, Any]:
    spec = SIZES[size]
    name = f"vitb32-L{spec['layers'] or 12}"
    model = build_model(CACHE / "models" / name, layers=spec["layers"])
    corpora: dict[str, Corpus] = spec["corpora"]
    unknown = set(only or ()) - set(corpora)
    if unknown:
        raise SystemExit(f"unknown corpus {', '.join(sorted(unknown))}: "
                         f"choose from {', '.join(corpora)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pictor-memory-cache-") as shared:
        captions = Path(shared) / CAPTIONS_DIR
        for corpus, make in corpora.items():
            if only and corpus not in only:
                continue
            folder = CACHE / "memory" / size / corpus.removesuffix("-no-int8-tower")
            files = make(folder)
            cache = Path(shared) / corpus
            if captions.is_dir():  # embedded once: the same for every corpus
                shutil.copytree(captions, cache / CAPTIONS_DIR)
            result = measure(folder, model, cache, timeout_s=spec["timeout_s"], cap_mb=cap_mb,
                             settings=SETTINGS.get(corpus))
            if not captions.is_dir() and (cache / CAPTIONS_DIR).is_dir():
                shutil.copytree(cache / CAPTIONS_DIR, captions)
            result["files"] = files
            result["settings"] = SETTINGS.get(corpus, "default")
            result["within_budget"] = (result.get("stopped") is None
                                       and result.get("peak_rss_mb", cap_mb) <= BUDGET_MB)
            results[corpus] = result
    peaks = {k: v.get("peak_rss_mb") for k, v in results.items()}
    return {
        "benchmark": "memory",
        "budget_mb": BUDGET_MB,
        "model": {"name": name, "config": "transformers CLIPConfig() (ViT-B/32 shape), random",
                  "layers": spec["layers"] or 12},
        "command": "main.py index FOLDER --data-dir NEW --model MODEL --device cpu --json",
        "peak_rss_mb": peaks,
        "phase_at_peak": {k: v.get("phase_at_peak") for k, v in results.items()},
        "all_within_budget": all(v["within_budget"] for v in results.values()),
        "corpora": results,
    }
