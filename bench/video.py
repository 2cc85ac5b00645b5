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
* ``cuts``: how long after each cut its moment is (0: the cut's first frame).

    python bench/video.py [--size smoke|full] [--json]

``smoke`` (6 s at 640x360, 2-layer towers) checks that it runs; ``full`` is the README's
case (target: end to end at 10x real time or more on 2 cores). Absolute times on shared
machines are noise; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from _common import CACHE, build_model, machine, photo_like

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"seconds": 6, "width": 640, "height": 360, "layers": 2, "repeat": 1,
              "cuts": [0.0, 2.3, 4.6]},
    "full": {"seconds": 60, "width": 1920, "height": 1080, "layers": None, "repeat": 3,
             "cuts": [0.0, 8.3, 17.9, 26.6, 38.2, 47.5]},
}
FPS = 30
BIT_RATE = 16_000_000
"""At 1080p (the smoke size gets the same bits a pixel)."""
BATCH = 32


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = measure(args.size)
    report = {**report, "size": args.size, "machine": machine(),
              "wall_s": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
