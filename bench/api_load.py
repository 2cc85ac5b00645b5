"""The local API under load: 16 clients sending distinct searches to ``main.py serve`` while
it indexes new photos itself; prints a report (JSON).

    .venv/bin/python bench/api_load.py [--size smoke|full] [--indexer serve|process] [--json]

It builds a library of toy photos (smoke: 12, full: 300) with the toy test model when it is
cached under .cache/test-models (else the tiny random test CLIP, built offline), starts
``main.py serve`` on it (which watches its folder), and runs the clients twice: for N
seconds with no index run going (the baseline, same run; smoke: 3, full: 30), then while
an index run is in progress: a second folder of photos (smoke: 24, full: 300) is moved into
the watched folder and serve's own watcher indexes it (``--indexer process``: another
process, ``main.py index FOLDER2``, indexes it into the same library instead, as a terminal
beside the window would). The second phase counts the requests sent while the run was in
progress (from the moment ``/status`` reports it until it reports none; with
``--indexer process``, the life of that process). Each phase reports requests, errors (any
answer but 200, or no answer), p50/p95/p99 latency in ms and requests per second; the
report says whether the index run finished. A third phase, one client alone, gives the
cost of one search: with 16 clients saturating the library's one thread, a request waits
for about 15 others, so p50 under load is about 16 times that (what is left is the index
run's doing). The issue's target: p99 <= 500 ms with the toy model on a 2-core machine.

``--no-copy-folding`` is a diagnostic: serve runs with search's folding of copies
(core.search.copies_in_results) replaced by a no-op, to tell its cost from the API's own;
``--both`` runs with it and then without it, the second report under
``without_copy_folding``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.support import toyworld  # noqa: E402

MAIN = REPO / "main.py"
MODELS = REPO / ".cache" / "test-models"
SIZES: dict[str, dict[str, int]] = {
    "smoke": {"photos": 12, "second": 24, "seconds": 3},
    "full": {"photos": 300, "second": 300, "seconds": 30},
}
CLIENTS = 16
START_TIMEOUT_S = 120.0
INDEX_WAIT_S = 300.0
STATUS_EVERY_S = 0.1
BACKGROUNDS = ("grass", "sand", "snow", "water", "sky", "brick", "wood")


def pick_model() -> tuple[Path, str]:
    """The trained toy CLIP if a build is cached (this source's first), else the tiny one."""
    from tests.conftest import cached_model, support_hash
    from tests.support import models

    current = MODELS / f"toy-clip-{support_hash()}"
    cached = sorted((p for p in MODELS.glob("toy-clip-*")
                     if p.name.removeprefix("toy-clip-").isalnum()
                     and (p / "config.json").is_file()), key=lambda p: p.stat().st_mtime)
    if current.is_dir():
        return current, "toy-clip"
    if cached:
        return cached[-1], "toy-clip"
    return cached_model("tiny-clip", models.build_tiny_clip), "tiny-clip"


def environment(data: Path) -> dict[str, str]:
    # No text pass (OCR) in the index run: the tests' setting; the caption corpus is shared.
    return {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
            "PICTOR_READ_TEXT": "0",
            "PICTOR_CACHE_DIR": os.environ.get("PICTOR_CACHE_DIR",
                                               str(REPO / ".cache" / "pictor-cache"))}


def pictor(args: list[str], data: Path, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(MAIN), *args], cwd=REPO,
                            env=environment(data), text=True, **popen)


UNFOLDED = ("import sys, types; sys.modules['core.search.copies_in_results'] = "
            "types.SimpleNamespace(fold_copies=lambda hits, *args: hits); "
            "from main import main; sys.exit(main(sys.argv[1:]))")
"""main.py with search's folding of copies turned off (``--no-copy-folding``)."""


def start_server(data: Path, log: Path, *, fold: bool = True
                 ) -> tuple[subprocess.Popen[str], int, str]:
    """``main.py serve`` on ``data`` (its stderr in ``log``): (process, port, token) once
    api.json names it."""
    with log.open("w") as err:
        if fold:
            proc = pictor(["serve", "-v"], data, stdout=subprocess.DEVNULL, stderr=err)
        else:
            proc = subprocess.Popen([sys.executable, "-c", UNFOLDED, "serve", "-v"],
                                    cwd=REPO, env=environment(data), text=True,
                                    stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            entry = json.loads((data / "api.json").read_text())
            if entry.get("pid") == proc.pid:
                return proc, int(entry["url"].rsplit(":", 1)[1]), str(entry["token"])
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"serve wrote no api.json within {START_TIMEOUT_S:.0f} s")


def query(rng: random.Random, client: int, number: int, folder: Path) -> dict[str, Any]:
    """A distinct search (the serial number makes each text unique) with varied filters."""
    colour = rng.choice(list(toyworld.COLOURS))
    shape = rng.choice(toyworld.SHAPES)
    text = f"a {colour} {shape} on {rng.choice(BACKGROUNDS)} {client}-{number}"
    params: dict[str, Any] = {"q": text, "n": rng.choice((1, 5, 20, 50)), "min_score": 0}
    extra = rng.randrange(6)
    if extra == 1:
        params["folder"] = str(folder)
    elif extra == 2:
        params["after"], params["before"] = "2001", "2030-06"
    elif extra == 3:
        params["words"] = "false"
    elif extra == 4:
        params["not"] = rng.choice(toyworld.SHAPES)
    elif extra == 5:
        params["near"] = "48.85,2.35,50"
    return params


@dataclass
class Requests:
    """Every request of a load run: when it was sent (monotonic s), and its latency in ms
    or its error."""

    sent: list[float] = field(default_factory=list)
    latencies_ms: list[float | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: float, latency_ms: float | None, error: str = "") -> None:
        with self.lock:
            self.sent.append(sent)
            self.latencies_ms.append(latency_ms)
            if error:
                self.errors.append(error)

    def report(self, start: float, end: float) -> dict[str, Any]:
        """The requests sent between ``start`` and ``end``."""
        chosen = [(lat, t) for t, lat in zip(self.sent, self.latencies_ms, strict=True)
                  if start <= t < end]
        done = sorted(lat for lat, _ in chosen if lat is not None)
        errors = len(chosen) - len(done)
        seconds = max(end - start, 1e-9)

        def pct(p: float) -> float | None:
            return round(done[min(len(done) - 1, int(p / 100 * len(done)))], 1) if done else None

        return {"requests": len(chosen), "ok": len(done), "errors": errors,
                "error_samples": sorted(set(self.errors))[:5],
                "seconds": round(seconds, 1),
                "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
                "max_ms": round(done[-1], 1) if done else None,
                "requests_per_s": round(len(chosen) / seconds, 1)}


def client(port: int, token: str, folder: Path, index: int, stop: threading.Event,
           requests: Requests) -> None:
    """One client on a kept-alive connection (a fresh one after any failure)."""
    rng = random.Random(index * 7919)
    headers = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    number = 0
    while not stop.is_set():
        number += 1
        target = "/search?" + urlencode(query(rng, index, number, folder))
        sent = time.monotonic()
        start = time.perf_counter()
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = 1000 * (time.perf_counter() - start)
            ok = response.status == 200 and isinstance(json.loads(body), list)
            problem = "" if ok else f"{response.status}: {body[:200]!r}"
        except (OSError, http.client.HTTPException, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        requests.add(sent, None if problem else elapsed, problem)
    conn.close()


def status(port: int, token: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/status", headers={"Host": f"127.0.0.1:{port}",
                                                "Authorization": f"Bearer {token}"})
        answer: dict[str, Any] = json.loads(conn.getresponse().read())
        return answer
    finally:
        conn.close()


class Load:
    """CLIENTS clients searching until :meth:`stop`."""

    def __init__(self, port: int, token: str, folder: Path, clients: int = CLIENTS) -> None:
        self.requests = Requests()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=client, args=(port, token, folder, i,
                                                               self._stop, self.requests))
                         for i in range(clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def load_for(port: int, token: str, folder: Path, seconds: float,
             clients: int = CLIENTS) -> dict[str, Any]:
    start = time.monotonic()
    load = Load(port, token, folder, clients)
    time.sleep(seconds)
    end = time.monotonic()
    load.stop()
    return load.requests.report(start, end)


def index_in_serve(port: int, token: str, incoming: Path, folder: Path,
                   expected: int) -> tuple[float, float, bool]:
    """Move ``incoming`` into the watched ``folder`` and follow serve's index run through
    /status: (start, end) of the run in monotonic seconds, and whether every photo made
    it into the library."""
    moved = time.monotonic()
    incoming.rename(folder / incoming.name)
    start = end = None
    while time.monotonic() - moved < INDEX_WAIT_S:
        now = status(port, token)
        if start is None and now["indexing"] is not None:
            start = time.monotonic()
        elif start is not None and now["indexing"] is None and now["photos"] >= expected:
            end = time.monotonic()
            break
        time.sleep(STATUS_EVERY_S)
    photos = status(port, token)["photos"]
    return start or moved, end or time.monotonic(), photos == expected


def index_in_process(second: Path, data: Path, model: Path) -> tuple[float, float, bool]:
    """``main.py index FOLDER2`` beside serve: (start, end) of that process, and whether it
    succeeded."""
    start = time.monotonic()
    indexer = pictor(["index", str(second), "--model", str(model)], data,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        code: int | None = indexer.wait(INDEX_WAIT_S)
    except subprocess.TimeoutExpired:
        indexer.kill()
        code = None
    return start, time.monotonic(), code == 0


def run(size: str, indexer: str, *, fold: bool = True) -> dict[str, Any]:
    plan = SIZES[size]
    model, model_name = pick_model()
    with tempfile.TemporaryDirectory(prefix="pictor-api-load-") as tmp:
        root = Path(tmp)
        photos, second, data = root / "photos", root / "incoming", root / "data"
        toyworld.write_photos(photos, toyworld.random_scenes(plan["photos"], seed=24), seed=24)
        toyworld.write_photos(second, toyworld.random_scenes(plan["second"], seed=25),
                              seed=25)
        first = pictor(["index", str(photos), "--model", str(model)], data,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if first.wait(INDEX_WAIT_S) != 0:
            raise RuntimeError(f"index failed: {first.communicate()[1]}")
        log = root / "serve.log"
        server, port, token = start_server(data, log, fold=fold)
        expected = plan["photos"] + plan["second"]
        try:
            load_for(port, token, photos, 1.0)  # warm up: the model loads on the first search
            alone = load_for(port, token, photos, min(plan["seconds"], 5), clients=1)
            baseline = load_for(port, token, photos, plan["seconds"])
            load = Load(port, token, photos)
            try:
                if indexer == "serve":
                    start, end, finished = index_in_serve(port, token, second, photos,
                                                          expected)
                else:
                    start, end, finished = index_in_process(second, data, model)
            finally:
                load.stop()
            during = load.requests.report(start, end)
            photos_after = status(port, token)["photos"]
        except BaseException:
            print(f"serve's log:\n{log.read_text()[-5000:]}", file=sys.stderr)
            raise
        finally:
            server.terminate()
            stopped = server.wait(30)
    ratio = (round(during["p99_ms"] / baseline["p99_ms"], 2)
             if during["p99_ms"] and baseline["p99_ms"] else None)
    return {
        "benchmark": "api_load", "size": size, "clients": CLIENTS, "indexer": indexer,
        "copy_folding": fold,
        "seconds_per_phase": plan["seconds"], "model": model_name,
        "photos": plan["photos"], "second_folder_photos": plan["second"],
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average": list(os.getloadavg())},
        "one_client": alone, "baseline": baseline, "during_index": during,
        "p99_ratio_during_vs_baseline": ratio,
        "index_run": {"finished": finished, "seconds": round(end - start, 1),
                      "photos_per_s": round(plan["second"] / max(end - start, 1e-9), 1)},
        "photos_after": photos_after, "serve_exit_code": stopped,
        "target_p99_ms": 500,
        "target_met": bool(during["p99_ms"] is not None and during["p99_ms"] <= 500
                           and during["errors"] == 0 and baseline["errors"] == 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--indexer", choices=["serve", "process"], default="serve",
                        help="who indexes the second folder: serve's own watcher (the "
                        "default), or another process (main.py index)")
    parser.add_argument("--no-copy-folding", action="store_true",
                        help="diagnostic: serve without search's folding of copies")
    parser.add_argument("--both", action="store_true",
                        help="run as is, then without the folding of copies (nested)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = parser.parse_args()
    report = run(args.size, args.indexer, fold=not (args.no_copy_folding and not args.both))
    if args.both:
        report["without_copy_folding"] = run(args.size, args.indexer, fold=False)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for one in (report, report.get("without_copy_folding")):
        if one is None:
            continue
        print("with search's folding of copies" if one["copy_folding"] else
              "without search's folding of copies (diagnostic)")
        for name in ("one_client", "baseline", "during_index"):
            phase = one[name]
            print(f"{name:>14}: {phase['requests']} requests, {phase['errors']} errors, "
                  f"p50 {phase['p50_ms']} ms, p95 {phase['p95_ms']} ms, "
                  f"p99 {phase['p99_ms']} ms, {phase['requests_per_s']} req/s")
        print(f"index run finished: {one['index_run']['finished']} "
              f"({one['index_run']['seconds']} s); target met: {one['target_met']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
