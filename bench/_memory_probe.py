"""Run ``main.py ARGS...`` in this process and write its memory report to REPORT (JSON).

    python bench/_memory_probe.py REPORT main.py-ARGS...

The command runs unchanged; a daemon thread samples the resident set (``/proc/self/status``)
every 20 ms together with the innermost Pictor function each thread is in, so the report
says which phase the peak came from (model load, int8 tower build, decoding, ...). The
peak itself is the kernel's high-water mark (VmHWM), exact, not a sample. Linux only.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "cli")
INTERVAL_S = 0.02

# The first rule (a function Pictor is in, anywhere on the main thread's stack) that
# matches names the phase; the decode pool's threads add "+ decoding".
PHASES = (
    ("fast_images:_export", "int8 tower: export"),
    ("fast_images:_quantize", "int8 tower: quantize"),
    ("embedder:Embedder.embed_pixels", "embed"),
    ("fast_images:", "int8 tower: check/load"),
    ("embedder:Embedder._choose_precision", "bf16 check"),
    ("embedder:Embedder.load", "model load"),
    ("captions:", "caption vocabulary"),
    ("scores:Scores.tag", "tag pass"),
    ("scanner:", "scan"),
    ("indexer:", "index"),
    ("library:", "library"),
    ("cli/", "command line"),
)


def _status() -> dict[str, int]:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) // 1024
    return values


def _pictor_names(frame: FrameType | None) -> list[str]:
    """``module:qualname`` of each Pictor function on a stack, innermost first. A module's
    own body (an import in progress) names no phase: a sample that lands while
    ``fast_images`` is being imported is start-up, not the int8 tower."""
    names = []
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(str(REPO)) and frame.f_code.co_qualname != "<module>":
            parts = Path(path).relative_to(REPO).parts
            if parts and parts[0] in PACKAGES:
                module = parts[0] + "/" if parts[0] == "cli" else Path(path).stem + ":"
                names.append(module + frame.f_code.co_qualname)
        frame = frame.f_back
    return names


def _top(frame: FrameType | None) -> list[str]:
    """A thread's innermost frames, any module (where the memory was being allocated)."""
    names = []
    while frame is not None and len(names) < 6:
        path = Path(frame.f_code.co_filename)
        names.append(f"{path.parent.name}/{path.name}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return names


def _phase(names: list[str]) -> str:
    for prefix, phase in PHASES:
        if any(name.startswith(prefix) for name in names):
            return phase
    return "start-up and imports"


class Sampler:
    def __init__(self) -> None:
        self.peaks: dict[str, dict[str, int]] = {}
        self.timeline: list[tuple[float, int, str]] = []
        self.peak_rss = 0
        self.stacks_at_peak: dict[str, list[str]] = {}
        self._main = threading.main_thread().ident
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="memory-probe")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._sample()

    def _sample(self) -> None:
        # The resident set first: reading a file lets the main thread run, and frames held
        # meanwhile would keep its finished calls' locals (tensors) alive, raising the peak
        # being measured (by 750 MB in the caption phase, when this read came second).
        status = _status()
        new_peak = status["VmRSS"] > self.peak_rss
        frames = sys._current_frames()
        me = threading.get_ident()
        names = {ident: _pictor_names(frame) for ident, frame in frames.items() if ident != me}
        stacks = ({("main" if ident == self._main else f"thread-{i}"): _top(frame)
                   for i, (ident, frame) in enumerate(frames.items()) if ident != me}
                  if new_peak else {})
        del frames
        phase = _phase(names.get(self._main, []))
        if any(name.startswith(("imaging:", "decoding:", "shrinking:", "raw:", "preparing:"))
               for ident, found in names.items() if ident != self._main for name in found):
            phase += " + decoding"
        if new_peak:
            self.peak_rss, self.stacks_at_peak = status["VmRSS"], stacks
        peak = self.peaks.setdefault(phase, {"rss_mb": 0, "anon_mb": 0})
        peak["rss_mb"] = max(peak["rss_mb"], status["VmRSS"])
        peak["anon_mb"] = max(peak["anon_mb"], status["RssAnon"])
        if not self.timeline or self.timeline[-1][2] != phase:
            self.timeline.append((round(time.monotonic() - self._started, 2),
                                  status["VmRSS"], phase))


def main(argv: list[str]) -> int:
    report_path, args = Path(argv[0]), argv[1:]
    sys.path.insert(0, str(REPO))
    sampler = Sampler()
    sampler.start()
    started = time.monotonic()
    code: int | str = 1
    try:
        import main as pictor

        code = pictor.main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sampler.stop()
        status = _status()
        at_peak = max(sampler.peaks.items(), key=lambda kv: kv[1]["rss_mb"], default=("", {}))
        report: dict[str, Any] = {
            "exit_code": code,
            "peak_rss_mb": status["VmHWM"],
            "peak_anon_mb": max((p["anon_mb"] for p in sampler.peaks.values()), default=0),
            "phase_at_peak": at_peak[0],
            "sampled_stacks_at_peak": sampler.stacks_at_peak,
            "peaks_by_phase": dict(sorted(sampler.peaks.items(),
                                          key=lambda kv: -kv[1]["rss_mb"])),
            "timeline": sampler.timeline[:200],
            "wall_s": round(time.monotonic() - started, 1),
        }
        report_path.write_text(json.dumps(report), encoding="utf-8")
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
