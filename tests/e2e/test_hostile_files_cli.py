"""Hostile files through the command line: nothing a file is can hang, flood or exhaust Pictor.

Special files under photo names (a FIFO, a link to /dev/zero), a 3 GB sparse file,
225-megapixel images in four formats and a JPEG that makes Pillow warn 5,000 times, next to
good photos (tests/support/odd_files.py writes them in kilobytes). `index` finishes, keeps
the good photos, and lists each hostile file in `status` with its reason; its peak memory
stays inside the 2 GB budget; `watch` fails such files as they come and ends on SIGTERM.

Each run is guarded so that a regression fails the test instead of the machine: a time
limit that kills the whole process group, and (Linux) an 8 GiB address-space limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import odd_files, toyworld
from tests.support.cli import WatchProcess, env_for

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
BUDGET = 2 * 1000**3  # the memory budget of any library, in bytes
ADDRESS_SPACE = 8 * 1024**3

# Runs Pictor as its only child: its peak resident memory is then this process's
# RUSAGE_CHILDREN maximum (kilobytes on Linux, bytes on macOS).
GUARD = """
import resource, subprocess, sys
if sys.platform.startswith("linux"):
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
code = subprocess.call(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"peak={{peak * (1 if sys.platform == 'darwin' else 1024)}}", file=sys.stderr)
sys.exit(code)
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak: int  # bytes


def pictor(*args: str, data: Path, timeout: float = TIMEOUT) -> Run:
    """``main.py ARGS`` under the guard; fails the test if it outlives ``timeout``."""
    command = [sys.executable, "-c", GUARD.format(limit=ADDRESS_SPACE), sys.executable,
               str(ROOT / "main.py"), *args]
    proc = subprocess.Popen(command, cwd=ROOT, env=env_for(data), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # Pictor too, not only the guard
        out, err = proc.communicate()
        raise AssertionError(f"`{' '.join(args[:2])}` still running after {timeout:.0f} s; "
                             f"stderr: {err[-2000:]}") from None
    *lines, last = err.rstrip("\n").split("\n")
    assert last.startswith("peak="), err[-2000:]
    return Run(proc.returncode, out, "\n".join(lines), int(last.removeprefix("peak=")))


def failures(data: Path) -> dict[str, str]:
    status = pictor("status", "--json", data=data)
    assert status.returncode == 0, status.stderr
    return {Path(f["path"]).name: f["error"] for f in json.loads(status.stdout)["failures"]}


def good_photos(folder: Path, n: int, seed: int) -> list[Path]:
    return toyworld.write_photos(folder, toyworld.random_scenes(n, seed=seed), seed=seed)


def test_special_and_huge_files_fail_with_a_reason_and_never_stop_the_run(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    good_photos(photos, 3, seed=21)
    odd_files.fifo(photos / "photo.jpg")  # used to hang the run: nothing was committed
    odd_files.zero_link(photos / "zero.jpg")  # used to read until killed (24 GB)
    odd_files.sparse(photos / "big.jpg")  # used to peak at 4 GB before "not an image"
    data = tmp_path / "data"

    run = pictor("index", str(photos), "--model", str(tiny_clip_dir), "--device", "cpu",
                 "--json", data=data)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["indexed"], report["failed"]) == (3, 3)
    assert run.stderr == ""
    assert run.peak < BUDGET, f"peak {run.peak / 1e9:.2f} GB"
    assert failures(data) == {
        "photo.jpg": "not a regular file: a named pipe",
        "zero.jpg": "not a regular file: a device",
        "big.jpg": "file too large: 3.2 GB (the limit for images is 1.5 GB)",
    }


def test_225_megapixel_images_are_refused_alike_from_their_header(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    good_photos(photos, 1, seed=22)
    giants = odd_files.write_giants(photos)  # PNG, GIF, WebP and TIFF, 15000x15000
    data = tmp_path / "data"

    started = time.monotonic()
    run = pictor("index", str(photos), "--model", str(tiny_clip_dir), "--device", "cpu",
                 "--json", data=data)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["failed"] == 4
    assert failures(data) == {path.name: "image too large: 15000x15000 pixels"
                              for path in giants}
    # Refused from the header: none was decoded (two decoded at once used to take 2.8 GB).
    assert run.peak < BUDGET, f"peak {run.peak / 1e9:.2f} GB"
    assert time.monotonic() - started < 90


def test_thousands_of_pillow_warnings_make_one_log_line(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    good_photos(photos, 2, seed=23)
    flooded = odd_files.xmp_flood_jpeg(photos / "xmp.jpg")
    data = tmp_path / "data"

    quiet = pictor("index", str(photos), "--model", str(tiny_clip_dir), "--device", "cpu",
                   "--json", data=data)
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["indexed"] == 3  # the photo itself is fine
    assert quiet.stderr == ""  # used to be 10,000 lines of UserWarning

    flooded.touch()  # changed: read again, this time with the log shown
    verbose = pictor("index", "--json", "-v", data=data)
    assert verbose.returncode == 0, verbose.stderr
    about = [line for line in verbose.stderr.splitlines() if "xmp.jpg" in line]
    assert len(about) == 1, verbose.stderr[-3000:]
    assert "Tag data larger than file" in about[0] and "more)" in about[0]
    assert "UserWarning" not in verbose.stderr.replace(about[0], "")


def test_watch_fails_special_files_as_they_come_and_stops_on_sigterm(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    photos = tmp_path / "photos"
    good_photos(photos, 2, seed=24)
    odd_files.fifo(photos / "photo.jpg")  # used to wedge the start-up scan for good
    watch = WatchProcess(str(photos), "--model", str(tiny_clip_dir), "--device", "cpu",
                  data=tmp_path / "data")
    try:
        reconciled = watch.wait_event({"event": "reconciled"})
        assert (reconciled["indexed"], reconciled["failed"]) == (2, 1)
        while not watch.wait_event({"event": "message"})["message"].startswith("watching"):
            pass
        real = photos.resolve()
        odd_files.fifo(real / "late.jpg")
        odd_files.zero_link(real / "zero.jpg")
        watch.wait_event({"event": "failed", "path": str(real / "late.jpg")})
        watch.wait_event({"event": "failed", "path": str(real / "zero.jpg")})

        watch.proc.send_signal(signal.SIGTERM)
        assert watch.proc.wait(timeout=20) == 0  # used to ignore it (a forced exit after 10 s is 1)
    finally:
        watch.kill()
    assert watch.proc.stderr is not None
    assert "Traceback" not in watch.proc.stderr.read()
