"""How long a watched folder takes to absorb a burst of new photos; prints JSON.

    .venv/bin/python bench/watch_burst.py -n 50000 [--model DIR] [--settle 2] [--no-baseline]

Writes ``n`` distinct JPEG files (one toy photo with a different tail each, so every file
has its own hash and is embedded) into a watched root as fast as possible, and measures
the time from the first write until every file has a vector. A burst larger than the
watcher's pending limit, or one that overflows the kernel's event queue, is absorbed by a
reconciliation scan; the report says how many ran. The baseline is ``Library.index`` of
the same files in a fresh library in the same run, so ``ratio`` is comparable across
machines. Without ``--model`` the tiny random test CLIP is used (built offline, cached).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.library import Library
from core.sync.watcher import Change, Watcher, WatchSettings
from tests.support import toyworld


def default_model() -> Path:
    from tests.conftest import cached_model
    from tests.support import models

    return cached_model("tiny-clip", models.build_tiny_clip)


def write_burst(root: Path, n: int, base: bytes, *, per_folder: int = 1000) -> None:
    for i in range(n):
        folder = root / f"burst-{i // per_folder:04d}"
        if i % per_folder == 0:
            folder.mkdir(exist_ok=True)
        (folder / f"{i:07d}.jpg").write_bytes(base + i.to_bytes(4, "big"))


def indexed(library_dir: Path, model: str) -> int:
    from core.config import DATABASE_NAME
    from core.store.catalog import Catalog

    with Catalog(library_dir / DATABASE_NAME) as catalog:
        known = catalog.known_model(model)
        return catalog.counts(known[0] if known else None)[1]


def watch_burst(work: Path, n: int, model: str, settings: WatchSettings,
                timeout: float) -> dict[str, object]:
    root = work / "watched"
    root.mkdir()
    base = toyworld.write_photos(work / "seed", toyworld.random_scenes(1, seed=1), seed=1)[0]
    (root / "first.jpg").write_bytes(base.read_bytes())  # an online root from the start
    changes: list[Change] = []
    messages: list[str] = []
    with Library(work / "data", model=model, device="cpu") as library:
        name = library.model_name
        watcher = Watcher(library, folders=[root], settings=settings,
                          on_change=changes.append, on_message=messages.append)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        while not watcher.started.wait(0.1):
            if not thread.is_alive():
                raise SystemExit("the watcher stopped during start-up")
        start = time.monotonic()
        write_burst(root, n, base.read_bytes())
        written = time.monotonic() - start
        while indexed(work / "data", name) < n + 1:
            if time.monotonic() - start > timeout:
                break
            time.sleep(0.2)
        done = time.monotonic() - start
        watcher.stop()
        thread.join(60)
        count = indexed(work / "data", name)
    return {
        "n": n,
        "write_s": round(written, 2),
        "all_indexed_s": round(done, 2),
        "indexed": count - 1,
        "complete": count == n + 1,
        "files_per_s": round(n / done, 1),
        "reconciliations": sum(1 for c in changes if c.kind == "reconciled") - 1,
        "file_reports": sum(1 for c in changes if c.kind != "reconciled"),
        "messages": messages[-5:],
    }


def index_baseline(work: Path, n: int, model: str) -> float:
    root = work / "baseline"
    root.mkdir()
    base = toyworld.write_photos(work / "seed2", toyworld.random_scenes(1, seed=1), seed=1)[0]
    write_burst(root, n, base.read_bytes())
    with Library(work / "data-baseline", model=model, device="cpu") as library:
        _ = library.embedder  # loaded outside the timing, as the watcher had it loaded
        start = time.monotonic()
        for _ in library.index([root]):
            pass
        return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--model", help="model folder (default: the tiny test CLIP)")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    model = args.model or str(default_model())
    settings = WatchSettings(settle_s=args.settle)
    with tempfile.TemporaryDirectory(prefix="pictor-watch-burst-") as tmp:
        report = watch_burst(Path(tmp), args.n, model, settings, args.timeout)
        if not args.no_baseline:
            baseline = index_baseline(Path(tmp), args.n, model)
            report["baseline_index_s"] = round(baseline, 2)
            report["ratio"] = round(float(str(report["all_indexed_s"])) / baseline, 2)
    report["cpus"] = os.cpu_count()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
