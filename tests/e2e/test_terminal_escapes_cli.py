"""File names and a photo's own words that hold control characters, through the command
line: every text output shows them escaped (``\\x1b``, ``\\r``, ``\\n``, ``\\u202e``), so a
name cannot colour the terminal, overwrite a row or split one; ``--json`` keeps them exact.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path

from cli.terminal import printable
from tests.support import toyworld
from tests.support.cli import pictor as _pictor

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b"


def pictor(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """Run the command line; its output decoded as is (text mode would turn \r into \n)."""
    return _pictor(*args, data=data, keep_newlines=True)


def raw_controls(text: str) -> list[str]:
    """The characters that drive a terminal, but the line ends that separate output lines."""
    return [ch for ch in text.replace("\n", "") if unicodedata.category(ch) == "Cc"
            or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"]


def clean(result: subprocess.CompletedProcess[str]) -> str:
    """stdout, after checking that neither stream holds a raw control character."""
    assert "Traceback" not in result.stderr, result.stderr
    assert raw_controls(result.stdout) == [], result.stdout
    assert raw_controls(result.stderr) == [], result.stderr
    return result.stdout


def test_names_and_words_with_control_characters_are_escaped(
    tmp_path: Path, tiny_clip_dir: Path
) -> None:
    library = tmp_path / f"Trip{ESC}[31m red"  # also an album name in captions
    names = ["a\rb.jpg", "two\nlines.jpg", f"c{ESC}[2Jd.jpg"]
    photos = toyworld.write_photos(library, toyworld.random_scenes(len(names), seed=3), seed=3)
    for photo, name in zip(photos, names, strict=True):
        photo.rename(library / name)
    (library / f"c{ESC}[2Jd.txt").write_text("harbour \u202egnp.exe at dusk", encoding="utf-8")
    broken = f"bad{ESC}]0;pwned\x07.jpg"  # a terminal title sequence
    (library / broken).write_bytes(b"\xff\xd8\xff\xe0 truncated")
    data = tmp_path / f"data{ESC}[1m"
    real = library.resolve()

    index = pictor("index", str(library), "--model", str(tiny_clip_dir), data=data)
    assert index.returncode == 0, index.stderr
    clean(index)

    status = clean(pictor("status", data=data))
    assert f"data folder: {printable(str(data))}\n" in status
    assert f"  {printable(str(real))}  [online]  4 photos, 1 failed\n" in status
    assert f"  {printable(str(real / broken))}: " in status
    assert "Trip\\x1b[31m red" in status and "bad\\x1b]0;pwned\\x07.jpg" in status

    table = clean(pictor("search", "harbour", "--min-score", "0", data=data))
    rows = table.splitlines()[1:]
    assert sorted(row.split("  ")[-1] for row in rows) == sorted(
        printable(str(real / name)) for name in names)
    assert any(row.endswith("/a\\rb.jpg") for row in rows)
    assert any(row.endswith("/two\\nlines.jpg") for row in rows)

    found = json.loads(pictor("search", "harbour", "--min-score", "0", "--json",
                              data=data).stdout)
    assert sorted(hit["path"] for hit in found) == sorted(str(real / n) for n in names)

    similar = clean(pictor("similar", str(library / names[0]), "--min-score", "0", data=data))
    assert printable(str(real / names[1])) in similar

    captions = clean(pictor("captions", str(library / names[2]), "-n", "3", data=data))
    assert "harbour \\u202egnp.exe at dusk" in captions
    assert "Trip\\x1b[31m red" in captions

    missing = pictor("index", str(tmp_path / f"no{ESC}[8msuch"), data=data)
    assert missing.returncode == 2
    clean(missing)
    assert f"no such file or folder: {printable(str(tmp_path))}/no\\x1b[8msuch" in missing.stderr

    watched = watch_until_indexed(library, f"new{ESC}[32m\r.jpg", data=data)
    assert f"watching {printable(str(real))}" in watched
    assert f"indexed {printable(str(real))}/new\\x1b[32m\\r.jpg\n" in watched


def watch_until_indexed(library: Path, name: str, *, data: Path) -> str:
    """Text output of ``watch`` while a photo named ``name`` is copied in, up to its
    ``indexed`` line; stopped with SIGTERM."""
    env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "watch"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # bytes: a raw \r must not end a line here
            lines.put(line.decode("utf-8", "replace"))

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while not any(line.startswith("indexed ") for line in seen):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(line)
            if line.startswith("watching "):
                photo = toyworld.render(toyworld.Scene("star", "red", "sand"), seed=5)
                photo.save(library / name, "JPEG")
    except queue.Empty:
        raise AssertionError(f"no indexed line; seen {seen}") from None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    out = "".join(seen)
    assert raw_controls(out) == [], out
    assert raw_controls(err.decode("utf-8", "replace")) == [], err
    return out
