"""A file that crashes the decoder (the whole process) is quarantined after two crashes.

A real decoder crash is a segfault in a C library; here a wrapper makes decoding one
chosen file read memory address 0, a real segfault in the decoding thread, which leaves
no chance to run any Python code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.library import Library
from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]

CRASHER = """
import ctypes, sys
sys.path.insert(0, {root!r})
import core.sync.preparing
real = core.sync.preparing.decode
def crashing(source, **named):
    data = source if isinstance(source, bytes) else source.read()  # bytes or an open file
    if not isinstance(source, bytes):
        source.seek(0)
    if {marker!r} in data:
        ctypes.string_at(0)
    return real(source, **named)
core.sync.preparing.decode = crashing
from cli.app import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_file_that_crashes_the_decoder_twice_is_quarantined(tmp_path: Path,
                                                               tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(30, seed=4), seed=4)
    evil = photos / "0015-evil.jpg"
    marker = b"PICTOR-CRASH-ME"
    evil.write_bytes(next(photos.glob("0001-*.jpg")).read_bytes() + marker)
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER.format(root=str(ROOT), marker=marker))
    env = {**os.environ, "PICTOR_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(script), "index", str(photos), "--model",
               str(tiny_clip_dir), "--json", "--batch-size", "4"]

    codes = []
    for _ in range(3):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        codes.append(result.returncode)
    assert codes[:2] == [-11, -11], codes  # crashed twice...
    assert codes[2] == 0, result.stderr  # ...and the third run does not crash
    report = json.loads(result.stdout)
    assert report["failed"] == 1
    with Library(tmp_path / "data") as library:
        status = library.status()
        assert status.indexed == 30 and status.failed == 1  # no innocent neighbour lost
        (failure,) = status.failures
        assert failure.path == str(evil) and "quarantined" in failure.error
    # Quarantined until the file changes: a fourth run skips it without crashing.
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and json.loads(result.stdout)["skipped"] == 31
