"""Bad files through the command line: `python main.py index DIR --json`, then `status`.

A small corpus of broken and disguised files next to good photos: the run exits 0, counts
each failure, `status --json` gives each one's reason, stderr holds no traceback, and the
photo tree is byte-for-byte what it was. The full set of cases is tests/core/test_bad_inputs.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

from tests.support import toyworld
from tests.support.cli import pictor


def tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def bomb_png(width: int, height: int) -> bytes:
    """A PNG header announcing ``width``x``height`` pixels, with none behind it."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
            + struct.pack(">I", zlib.crc32(ihdr)) + struct.pack(">I", 0) + b"IEND"
            + struct.pack(">I", zlib.crc32(b"IEND")))


def test_index_and_status_report_each_bad_file(tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(3, seed=11), seed=11)
    buffer = io.BytesIO()
    toyworld.render(toyworld.Scene("star", "blue", "sky"), seed=2).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    bad = {
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated or corrupt JPEG"),
        "noise.jpg": (bytes(range(256)) * 8, "not an image (unknown format)"),
        "empty.png": (b"", "empty file"),
        "page.png": (b"<html><body>404</body></html>", "not an image (unknown format)"),
        "bomb.png": (bomb_png(40_000, 40_000), "image too large: 40000x40000 pixels"),
    }
    for name, (data, _) in bad.items():
        (photos / name).write_bytes(data)
    (photos / "dangling.jpg").symlink_to(photos / "missing.jpg")
    before = tree_digest(photos)

    result = pictor("index", str(photos), "--model", str(tiny_clip_dir), "--json",
                    data=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["indexed"], report["failed"]) == (3, len(bad))
    assert "Traceback" not in result.stderr

    status = pictor("status", "--json", data=tmp_path / "data")
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr
    shown = json.loads(status.stdout)
    real = photos.resolve()
    assert {Path(f["path"]).name: f["error"] for f in shown["failures"]} == {
        name: reason for name, (_, reason) in bad.items()}
    assert shown["scan_problems"] == [
        f"broken link: {real / 'dangling.jpg'} (no such file or directory)"]

    text = pictor("status", data=tmp_path / "data")
    assert text.returncode == 0, text.stderr
    assert f"{real / 'bomb.png'}: image too large: 40000x40000 pixels" in text.stdout
    assert f"  broken link: {real / 'dangling.jpg'}" in text.stdout

    assert tree_digest(photos) == before  # Pictor never modifies a user's file
