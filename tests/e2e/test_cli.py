"""The command line as a user runs it: `python main.py ...` in a subprocess.

Uses the toy CLIP trained on generated shapes, so "a red circle" has a right answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support import toyworld
from tests.support.cli import pictor

ROOT = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def toy_library(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path):
    """A folder of held-out toy photos indexed once through the CLI."""
    base = tmp_path_factory.mktemp("cli")
    photos = base / "photos"
    scenes = [s for s in toyworld.all_scenes() if s.background in {"grass", "sand"}]
    toyworld.write_photos(photos / "set-a", scenes, seed=424242)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    before = tree_digest(photos)
    result = pictor("index", str(photos), "--model", str(toy_clip_dir), "--json",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    assert tree_digest(photos) == before  # Pictor never touches the user's photos
    return base, photos, json.loads(result.stdout), len(scenes)


def test_index_reports_counts_as_json(toy_library) -> None:
    _, _, report, n = toy_library
    assert report["indexed"] == n and report["failed"] == 1 and report["skipped"] == 0


def test_text_search_finds_the_described_photos_first(toy_library) -> None:
    base, _, _, _ = toy_library
    result = pictor("search", "a red circle", "-n", "3", "--min-score", "0", "--json",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    assert "red-circle" in Path(hits[0]["path"]).name
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_readable_table_without_json(toy_library) -> None:
    base, _, _, _ = toy_library
    result = pictor("search", "a red circle", "-n", "2", data=base / "data")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["#", "score", "date", "from", "path"] and len(lines) == 3
    as_json = json.loads(pictor("search", "a red circle", "-n", "2", "--json",
                                data=base / "data").stdout)
    for line, hit in zip(lines[1:], as_json, strict=True):
        _, score, day, source, path = line.split()
        assert (float(score), path) == (round(hit["score"], 1), hit["path"])
        assert (day, source) == (hit["date"][:10], hit["date_source"])


def test_similar_and_image_query_find_near_duplicates(toy_library, tmp_path: Path) -> None:
    base, photos, _, _ = toy_library
    target = sorted((photos / "set-a").glob("*-green-star-sand.jpg"))[0]
    # another photo of the same scene is alike, not a near-copy: under the default cut-off
    result = pictor("similar", str(target), "-n", "1", "--json", "--min-score", "0",
                    data=base / "data")
    assert result.returncode == 0, result.stderr
    best = json.loads(result.stdout)[0]
    assert best["path"] != str(target)
    query = tmp_path / "query.jpg"
    with Image.open(target) as im:
        toyworld.near_duplicate(im, seed=2).save(query)
    result = pictor("search", "--image", str(query), "-n", "1", "--json", data=base / "data")
    best = json.loads(result.stdout)[0]
    assert best["path"] == str(target.resolve()) and best["score"] > 80


def test_status_reports_counts_model_and_failures(toy_library, toy_clip_dir: Path) -> None:
    base, _, _, n = toy_library
    result = pictor("status", "--json", data=base / "data")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["photos"], status["indexed"], status["failed"]) == (n + 1, n, 1)
    assert status["model"] == str(toy_clip_dir.resolve())
    assert status["failures"][0]["path"].endswith("broken.jpg")
    assert status["roots"][0]["online"] is True
    text = pictor("status", data=base / "data").stdout
    assert "broken.jpg" in text and "online" in text


def test_reindex_skips_everything(toy_library) -> None:
    base, _, _, n = toy_library
    result = pictor("index", "--json", data=base / "data")
    report = json.loads(result.stdout)
    assert (report["indexed"], report["skipped"]) == (0, n + 1)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["index", "/no/such/folder"], "/no/such/folder"),
        (["similar", "/no/such/photo.jpg"], "/no/such/photo.jpg"),
        (["search", "x", "--folder", "/no/such/dir"], "/no/such/dir"),
        (["search", "x", "--after", "last tuesday"], "last tuesday"),
        (["search"], "TEXT"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_no_traceback(
    toy_library, args: list[str], needle: str
) -> None:
    base, _, _, _ = toy_library
    result = pictor(*args, data=base / "data")
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "command", "needle"),
    [
        (["frobnicate"], "pictor", "invalid choice: 'frobnicate'"),
        (["search", "x", "--min-score", "lots"], "pictor search", "invalid float value"),
        (["index", "--no-such-option"], "pictor", "unrecognized arguments"),
    ],
)
def test_arguments_argparse_refuses_get_the_usage_and_one_sentence(
    tmp_path: Path, args: list[str], command: str, needle: str
) -> None:
    """As argparse's own tools: the command's usage line, then ``COMMAND: the problem``
    (the program's name once, not ``pictor: pictor:``)."""
    result = pictor(*args, data=tmp_path / "data")
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: {command} ")
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{command}: ") and needle in last
    assert "pictor: pictor" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything opened


def test_offline_missing_model_is_a_clear_failure(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    toyworld.write_photos(tmp_path / "photos", toyworld.random_scenes(1, seed=1), seed=1)
    result = pictor("index", str(tmp_path / "photos"), "--model", "nobody/no-such-model",
                    data=tmp_path / "data")
    assert result.returncode == 1
    assert "nobody/no-such-model" in result.stderr and "--model" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = pictor("--help", data=tmp_path / "data")
    assert result.returncode == 0
    assert "index" in result.stdout and "search" in result.stdout


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path: Path,
                                                       toy_clip_dir: Path) -> None:
    import signal
    import sqlite3
    import time

    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(300, seed=5), seed=5)

    def embedded(data: Path) -> int:
        try:
            with sqlite3.connect(data / "library.db") as conn:
                return int(conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        except sqlite3.Error:
            return 0

    # A terminal's Ctrl-C reaches a process whose SIGINT is not ignored; a test run started
    # in the background (``make test &``) ignores it, and Python then installs no
    # KeyboardInterrupt at all: the child gets the default back, as from a terminal.
    data = tmp_path / "data"
    env = {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "index", str(photos), "--model",
         str(toy_clip_dir), "--batch-size", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while embedded(data) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    done_before = embedded(data)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert 0 < done_before < 300

    result = pictor("index", "--json", data=data)
    report = json.loads(result.stdout)
    assert report["indexed"] == 300 - done_before
    assert report["skipped"] == done_before
    with sqlite3.connect(data / "library.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
