"""The video benchmark: how fast a video's moments are found and embedded.

A 60 s 1080p 30 fps H.264 video with a keyframe every second (made once, cached in
``.cache/bench/videos``): six textured scenes, each slowly zooming and panning with
sensor-like noise, cut at times that fall between keyframes; 16 Mbit/s, as a phone films.
Measured in one run, medians of ``repeat`` runs, start-up (the model's loading) excluded:

* ``moments``: core.photos.video_frames.moments() alone, the probe included: seconds of
  video per second (``x_real_time``), and where its time goes (demux, decode, choose,
  refine: finding a cut's first frame, convert: RGB at the model's size);
* ``end_to_end``: moments() then the moments embedded by a ViT-B/32-sized CLIP (random
  weights, int8 image tower as the indexer runs it) in batches of 32; ``overlapped``: the
  same with moments() read on a thread while the model embeds what has come;
* baselines in the same run: every frame decoded (the naive way to look at a video), and
  the keyframes alone decoded (the floor of the keyframe-first reading);
* ``cuts``: how long after each cut its moment is (0: the cut's first frame);
* ``mixed``: whether videos among photos slow the photos down, through ``Library.index``
  (the real entry point): a fresh library of the ingest benchmark's photo-like 12 MP
  JPEGs alone, against a fresh library of the same photos plus videos of the benchmark
  (the same pictures remuxed into a MOV for the second one, a different file: a copy of
  the same bytes would be recognised and its vectors reused, with no model run) in the
  same folder. The photos' rate is taken from the run's progress during its ``embed``
  phase, from the phase's start to the last photo batch (the videos come after the
  photos); the ratio with / alone is the figure (target: 0.95 or more, no drop). Also the
  whole run's time and the videos' own (from the last photo batch to the last video
  step). Pairs of runs, the order alternating, after a warm-up run: medians of each.
  Set up as ``bench/run.py ingest`` does (the model loaded, the int8 image tower and the
  caption vocabulary ready beforehand: one-time costs per model); the text pass is off
  (``bench/text_pass.py`` measures it; it reads photos only).

    python bench/video.py [--size smoke|full] [--mixed] [--json]

``smoke`` (6 s at 640x360, 2-layer towers, 8 photos of 1600x1200 and one video) checks
that it runs; ``full`` is the README's case (target: end to end at 10x real time or more on
2 cores; 64 photos of 4000x3000 and two 60 s videos for ``mixed``). ``--mixed`` runs the
``mixed`` part alone. Absolute times on shared machines are noise; compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

from _common import CACHE, build_model, machine, make_photos, photo_like, print_report

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"seconds": 6, "width": 640, "height": 360, "layers": 2, "repeat": 1,
              "cuts": [0.0, 2.3, 4.6],
              "mixed": {"photos": 8, "width": 1600, "height": 1200, "videos": 1, "pairs": 1}},
    "full": {"seconds": 60, "width": 1920, "height": 1080, "layers": None, "repeat": 3,
             "cuts": [0.0, 8.3, 17.9, 26.6, 38.2, 47.5],
             "mixed": {"photos": 64, "width": 4000, "height": 3000, "videos": 2, "pairs": 3}},
}
FPS = 30
BIT_RATE = 16_000_000
"""At 1080p (the smoke size gets the same bits a pixel)."""
BATCH = 32
MIXED_TARGET = 0.95
"""The photos' rate with videos among them / alone: no drop."""


def make_video(spec: dict[str, Any]) -> Path:
    """The benchmark's video (made once; the same settings make the same file)."""
    import av
    import numpy as np
    from PIL import Image

    width, height = spec["width"], spec["height"]
    path = CACHE / "videos" / f"scenes-{width}x{height}-{spec['seconds']}s.mp4"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    cuts = spec["cuts"]
    scenes = [photo_like(100 + i, width * 3 // 2, height * 3 // 2) for i in range(len(cuts))]
    noise = [np.random.default_rng(i).normal(0, 2.5, (height, width, 1)).astype(np.int16)
             for i in range(6)]
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "preset": "veryfast",
            "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:vbv-maxrate=20000:"
                           "vbv-bufsize=20000"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.bit_rate = BIT_RATE * width * height // (1920 * 1080)
        for index in range(spec["seconds"] * FPS):
            seconds = index / FPS
            scene = max(i for i, cut in enumerate(cuts) if cut <= seconds + 1e-9)
            into = seconds - cuts[scene]
            zoom = 1.0 + 0.02 * into  # a slow zoom and pan, as a hand-held camera moves
            w, h = int(width * 1.25 / zoom), int(height * 1.25 / zoom)
            x, y = int(width * 0.05 + into * 30), int(height * 0.05 + into * 12)
            frame = scenes[scene].resize((width, height), Image.Resampling.BILINEAR,
                                         box=(x, y, x + w, y + h), reducing_gap=None)
            pixels = np.asarray(frame, np.int16) + noise[index % len(noise)]
            picture = av.VideoFrame.from_ndarray(np.clip(pixels, 0, 255).astype(np.uint8),
                                                 format="rgb24")
            picture.pts = index
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


def read_moments(path: Path) -> dict[str, Any]:
    """One reading of the video's moments (the probe included), with its parts."""
    from core.photos.video_frames import moments

    started, cpu = time.perf_counter(), time.process_time()
    found = moments(path)
    probed = time.perf_counter() - started
    with found:
        pictures = list(found)
    return {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
            "pictures": pictures, "parts": {"probe": probed, **found.timings},
            "samples": found.samples, "complete": found.complete}


def end_to_end(path: Path, embedder: Any) -> dict[str, float]:
    """moments() then their vectors, batch by batch, one after the other."""
    started, cpu = time.perf_counter(), time.process_time()
    reading = read_moments(path)
    embedding = time.perf_counter()
    pictures = [moment.image for moment in reading["pictures"]]
    for first in range(0, len(pictures), BATCH):
        embedder.embed_images(pictures[first:first + BATCH])
    done = time.perf_counter()
    return {"seconds": done - started, "embed_s": done - embedding,
            "cpu_s": time.process_time() - cpu}


def overlapped(path: Path, embedder: Any) -> dict[str, float]:
    """moments() read on a thread while the model embeds what has come (FFmpeg decodes
    without Python's lock), as an index run's decode pool would: batches of up to 32."""
    from core.photos.video_frames import moments

    started, cpu = time.perf_counter(), time.process_time()
    found: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        with moments(path) as reading:
            for moment in reading:
                found.put(moment.image)
        found.put(None)

    reader = threading.Thread(target=read)
    reader.start()
    pending, ended = [], False
    while not ended:
        item = found.get()
        ended = item is None
        pending += [] if ended else [item]
        while not found.empty() and len(pending) < BATCH:  # whatever else has come
            item = found.get()
            ended = ended or item is None
            pending += [] if item is None else [item]
        if pending and (ended or len(pending) >= 8):
            embedder.embed_images(pending)
            pending = []
    reader.join()
    return {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def decode_all(path: Path, *, keyframes_only: bool) -> float:
    """Seconds to decode every frame (or the keyframes alone), threads on."""
    import av

    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            if not keyframes_only or packet.is_keyframe or packet.size == 0:
                stream.decode(packet)
    return time.perf_counter() - started


def cut_offsets(moments: list[Any], cuts: list[float]) -> list[float | None]:
    """For each cut after the first scene: seconds from it to the first moment at or
    after it (None if no moment falls before the next cut)."""
    offsets: list[float | None] = []
    for cut, following in zip(cuts[1:], [*cuts[2:], float("inf")], strict=True):
        times = [m.time_s for m in moments if cut - 0.05 <= m.time_s < following]
        offsets.append(round(min(times) - cut, 3) if times else None)
    return offsets


def load_embedder(layers: int | None) -> Any:
    from _ingest import ready_fast_images

    from core.models.embedder import Embedder

    model = build_model(CACHE / "models" / f"vitb32-L{layers or 12}", layers=layers)
    embedder = Embedder.load(str(model), device="cpu")
    ready_fast_images(embedder)  # the int8 image tower, as a large index run uses
    return embedder


def measure(size: str) -> dict[str, Any]:
    import av

    spec = SIZES[size]
    path = make_video(spec)
    embedder = load_embedder(spec["layers"])
    read_moments(path)  # warm: the file in the page cache, FFmpeg's tables built
    readings, whole, both, full, keys = [], [], [], [], []
    for _ in range(spec["repeat"]):  # interleaved: a busy spell hits each alike
        readings.append(read_moments(path))
        whole.append(end_to_end(path, embedder))
        both.append(overlapped(path, embedder))
        full.append(decode_all(path, keyframes_only=False))
        keys.append(decode_all(path, keyframes_only=True))
    seconds = float(spec["seconds"])
    median = statistics.median
    reading = sorted(readings, key=lambda r: r["seconds"])[len(readings) // 2]
    e2e = median(w["seconds"] for w in whole)
    e2e_both = median(w["seconds"] for w in both)
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
    return {
        "benchmark": "video",
        "video": {"seconds": seconds, "width": spec["width"], "height": spec["height"],
                  "fps": FPS, "codec": codec, "keyframe_every_s": 1.0,
                  "mbit_per_s": round(path.stat().st_size * 8 / seconds / 1e6, 1),
                  "cuts_s": spec["cuts"][1:]},
        "model": {"config": "transformers CLIPConfig() (ViT-B/32 shape), random",
                  "layers": spec["layers"] or 12, "precision": embedder.precision,
                  "batch": BATCH},
        "moments": {"seconds": round(reading["seconds"], 3),
                    "x_real_time": round(seconds / reading["seconds"], 1),
                    "cpu_s": round(reading["cpu_s"], 3),
                    "moments": len(reading["pictures"]), "samples": reading["samples"],
                    "complete": reading["complete"],
                    "parts_s": {k: round(v, 3) for k, v in reading["parts"].items()},
                    "runs_s": [round(r["seconds"], 3) for r in readings]},
        "end_to_end": {"seconds": round(e2e, 3), "x_real_time": round(seconds / e2e, 1),
                       "embed_s": round(median(w["embed_s"] for w in whole), 3),
                       "cpu_s": round(median(w["cpu_s"] for w in whole), 3),
                       "runs_s": [round(w["seconds"], 3) for w in whole]},
        "end_to_end_overlapped": {
            "seconds": round(e2e_both, 3), "x_real_time": round(seconds / e2e_both, 1),
            "cpu_s": round(median(w["cpu_s"] for w in both), 3),
            "runs_s": [round(w["seconds"], 3) for w in both]},
        "baselines": {"decode_every_frame_s": round(median(full), 3),
                      "decode_keyframes_s": round(median(keys), 3)},
        "cuts": {"moment_after_cut_s": cut_offsets(reading["pictures"], spec["cuts"])},
        "ratios": {
            "end_to_end_x_real_time": round(seconds / e2e, 1),
            "end_to_end_overlapped_x_real_time": round(seconds / e2e_both, 1),
            "moments_vs_decode_every_frame": round(median(full) / reading["seconds"], 2),
            "moments_vs_decode_keyframes": round(median(keys) / reading["seconds"], 2),
        },
        "targets": {"end_to_end_x_real_time": 10.0},
    }


def measure_all(size: str, *, only_mixed: bool) -> dict[str, Any]:
    """The video's figures and the photos' among videos (or the latter alone)."""
    if only_mixed:
        return {"benchmark": "video", "mixed": mixed(size)}
    report = measure(size)
    among = mixed(size)
    return {**report, "mixed": among,
            "ratios": {**report["ratios"], "photos_with_videos_vs_alone": among["ratio"]},
            "targets": {**report["targets"], "photos_with_videos_vs_alone": MIXED_TARGET}}


# -- photos with videos among them, through Library.index ----------------------------------


def video_files(source: Path, count: int) -> list[Path]:
    """``count`` different videos of the same pictures: ``source``, then its packets remuxed
    into a MOV each (no re-encoding; made once, cached beside it). A copy of the same bytes
    would not do: an index run recognises a copy and reuses its vectors, with no model run."""
    return [source, *(remuxed(source, number) for number in range(1, count))]


def remuxed(source: Path, number: int) -> Path:
    """``source``'s packets in a MOV titled with ``number`` (so each such file differs)."""
    import av

    path = source.with_name(f"{source.stem}-{number}.mov")
    if path.is_file():
        return path
    tmp = path.with_suffix(".tmp.mov")
    with av.open(str(source)) as given, av.open(str(tmp), "w", format="mov") as out:
        video = given.streams.video[0]
        stream = out.add_stream_from_template(video)
        out.metadata["title"] = f"pictor benchmark, copy {number}"
        for packet in given.demux(video):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = stream
            out.mux(packet)
    tmp.rename(path)
    return path


def linked_folder(folder: Path, files: list[Path]) -> Path:
    """``folder`` holding ``files`` (hard links to the cached files, copies where links
    cannot be made): the same photos as the photos' own folder, in the same page cache."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        link = folder / path.name
        if not link.exists():
            try:
                os.link(path, link)
            except OSError:
                shutil.copy2(path, link)
    return folder


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored afterwards."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def index_run(model: Path, folder: Path, data: Path) -> dict[str, Any]:
    """One index run of ``folder`` into a fresh library at ``data``, set up as the ingest
    benchmark's (model loaded, int8 image tower and caption vocabulary ready), with each
    progress step's time."""
    from _ingest import ready_fast_images

    from core.library import Library

    with Library(data, model=str(model), device="cpu") as library:
        ready_fast_images(library.embedder)
        library.vector_index(writable=True)
        library.scores.caption_corpus()
        steps = []
        started = time.perf_counter()
        for progress in library.index([folder]):
            steps.append((time.perf_counter(), progress))
        ended = time.perf_counter()
    return run_phases(steps, started, ended)


def run_phases(steps: list[tuple[float, Any]], started: float,
               ended: float) -> dict[str, Any]:
    """Where an index run's time went, from its progress steps: the photos' part of the
    ``embed`` phase (its start to the last photo batch; the videos come after the
    photos), the videos' (the last photo batch to the last video step), and the rest."""
    from core.photos.video_names import is_video

    embed = [(at, step) for at, step in steps if step.phase == "embed"]
    begun, first = embed[0]
    if first.done or first.current is not None:
        raise SystemExit(f"the embed phase did not start with an empty step: {first}")
    photos = [(at, s) for at, s in embed if s.current and not is_video(s.current)]
    videos = [(at, s) for at, s in embed if s.current and is_video(s.current)]
    photos_end, last_photos = photos[-1]
    report = steps[-1][1]
    if report.phase != "done" or report.failed:
        raise SystemExit(f"the index run did not end well: {report}")
    photos_s = photos_end - begun
    between = ((last_photos.done - photos[0][1].done) / (photos_end - photos[0][0])
               if len(photos) > 1 else None)
    return {"wall_s": ended - started, "scan_s": begun - started, "photos_s": photos_s,
            "photos": last_photos.done, "photos_per_s": last_photos.done / photos_s,
            "photos_per_s_between_batches": between,
            "indexer_rate": last_photos.rate,  # the run's own figure (done / embed time)
            "videos_s": videos[-1][0] - photos_end if videos else 0.0,
            "after_s": ended - embed[-1][0], "indexed": report.indexed}


def mixed(size: str) -> dict[str, Any]:
    """The photos' rate with videos among them against alone; see the module's notes."""
    # core.library first: USearch's module carries its own copy of the C++ runtime, and
    # ONNX Runtime (the int8 tower) crashes on import when that copy was loaded before
    # the system's (core.sync.runs imports USearch; core.library loads the system's first)
    import core.library  # noqa: F401
    from core.config import CACHE_DIR_ENV, cache_dir
    from core.sync.runs import FAST_IMAGES_ENV
    from core.sync.text_pass import READ_TEXT_ENV

    load_before = list(os.getloadavg())
    started = time.perf_counter()
    spec = SIZES[size]
    part = spec["mixed"]
    layers = spec["layers"]
    model = build_model(CACHE / "models" / f"vitb32-L{layers or 12}", layers=layers)
    shape = f"{part['width']}x{part['height']}"
    photos = make_photos(CACHE / "photos" / f"{shape}-{part['photos']}", part["photos"],
                         part["width"], part["height"])
    videos = video_files(make_video(spec), part["videos"])
    alone = photos[0].parent
    together = linked_folder(
        CACHE / "photos" / f"{shape}-{part['photos']}-with-{part['videos']}-videos",
        [*photos, *videos])
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    # the caption vocabulary embedded once, by the warm-up run, in the cache of the int8
    # image tower; the library's own switch for the tower stays off: the benchmark decides
    with environment(**{CACHE_DIR_ENV: str(cache_dir(CACHE)), FAST_IMAGES_ENV: "0",
                        READ_TEXT_ENV: "0"}), \
            tempfile.TemporaryDirectory(prefix="pictor-bench-mixed-") as tmp:
        index_run(model, together, Path(tmp) / "warm")
        for pair in range(part["pairs"]):  # interleaved, alternating: load hits both alike
            for among in (False, True) if pair % 2 == 0 else (True, False):
                folder = together if among else alone
                data = Path(tmp) / f"{pair}-{'with-videos' if among else 'alone'}"
                runs[among].append(index_run(model, folder, data))
    by_pair = [w["photos_per_s"] / a["photos_per_s"]
               for a, w in zip(runs[False], runs[True], strict=True)]
    without, with_videos = _median_runs(runs[False]), _median_runs(runs[True])
    ratio = with_videos["photos_per_s"] / without["photos_per_s"]
    video_seconds = float(spec["seconds"]) * len(videos)
    return {
        "photos": {"count": len(photos), "width": part["width"], "height": part["height"],
                   "jpeg_quality": 90},
        "videos": {"count": len(videos), "seconds_each": float(spec["seconds"]),
                   "files": [path.name for path in videos]},
        "model": {"layers": layers or 12, "image_tower": "int8", "batch": BATCH},
        "text_pass": "off",
        "photos_alone": _rounded(without, runs[False]),
        "photos_with_videos": {
            **_rounded(with_videos, runs[True]),
            "videos_x_real_time": round(video_seconds / with_videos["videos_s"], 1)},
        "ratio_by_pair": [round(r, 3) for r in by_pair],
        "ratio": round(ratio, 3),
        "target": MIXED_TARGET,
        "load_average": {"before": load_before, "after": list(os.getloadavg())},
        "seconds": round(time.perf_counter() - started, 1),
    }


def _median_runs(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs)
            for key, value in runs[0].items() if value is not None}


def _rounded(median: dict[str, float], runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {key: round(value, 3) for key, value in median.items()}
    figures["photos"], figures["indexed"] = int(median["photos"]), int(median["indexed"])
    figures["photos_per_s_whole_run"] = round(median["photos"] / median["wall_s"], 2)
    figures["runs_photos_per_s"] = [round(run["photos_per_s"], 2) for run in runs]
    figures["runs_wall_s"] = [round(run["wall_s"], 2) for run in runs]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--mixed", action="store_true",
                        help="only the photos' rate with videos among them against alone")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = measure_all(args.size, only_mixed=args.mixed)
    report = {**report, "size": args.size, "machine": machine(),
              "wall_s": round(time.perf_counter() - started, 1)}
    print_report(report, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
