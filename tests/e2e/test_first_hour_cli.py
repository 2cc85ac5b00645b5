"""What a new user trips over in the first hour on the command line, through main.py:
a read-only command never switches the library's model, commands that need no model do
not load one (and refused arguments are refused before it loads), a pipe closed early is
no error, and argparse's refusals read once, with the command's usage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from tests.support import toyworld
from tests.support.cli import MAIN, ROOT, env_for, pictor


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path):
    """Six photos indexed with a copy of a tiny model; the copy can be taken away."""
    base = tmp_path_factory.mktemp("first-hour")
    model = base / "model"
    shutil.copytree(tiny_clip_dir, model)
    photos = base / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(5, seed=3), seed=3)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:07:14 10:30:00"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(photos / "dated.jpg", exif=exif)
    (photos / "notes.txt").write_text("not a photo")
    done = pictor("index", str(photos), "--model", str(model), "--json", data=base / "data")
    assert done.returncode == 0, done.stderr
    return base, model, photos


def _status(base: Path) -> dict:
    done = pictor("status", "--json", data=base / "data")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_searching_with_a_model_the_library_never_used_is_refused_and_switches_nothing(
        library, tiny_clip_dir: Path) -> None:
    base, model, _ = library
    before = _status(base)
    done = pictor("search", "a dog", "--model", "someone/other-clip", data=base / "data")
    assert done.returncode == 2
    assert "pictor use someone/other-clip" in done.stderr
    assert str(model) in done.stderr  # the model the library is indexed with
    after = _status(base)
    assert after["model"] == before["model"] == str(model)
    assert after["models"] == before["models"]  # nothing registered, nothing embedded


def test_a_model_the_library_has_vectors_of_answers(library) -> None:
    base, model, _ = library
    done = pictor("search", "a dog", "--model", str(model), "--min-score", "0", "--json",
                  data=base / "data")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 6


@pytest.fixture
def without_model(library):
    """The library, with its model's folder gone for the length of a test: whatever works
    now never loaded the model."""
    base, model, photos = library
    away = model.with_name("model-away")
    model.rename(away)
    try:
        yield base, photos
    finally:
        away.rename(model)


def test_index_with_nothing_new_to_do_loads_no_model(without_model) -> None:
    base, _ = without_model
    done = pictor("index", "--json", data=base / "data")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["indexed"], report["skipped"]) == (0, 6)


@pytest.mark.parametrize("args", [
    ["search", "a dog", "--min-score", "150"],
    ["search", "a dog", "-n", "0"],
    ["search", "--image", "{photos}/notes.txt"],
    ["captions", "{photos}/notes.txt"],
    ["similar", "{photos}/notes.txt"],
])
def test_bad_arguments_are_refused_before_the_model_loads(without_model,
                                                          args: list[str]) -> None:
    base, photos = without_model
    done = pictor(*[a.format(photos=photos) for a in args], data=base / "data")
    assert done.returncode == 2, done.stderr  # a model load would have failed: exit 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_reader_that_leaves_early_gets_no_traceback(library) -> None:
    """``pictor status | head -1``: the reader is gone before Pictor writes."""
    base, _, _ = library
    proc = subprocess.Popen([sys.executable, str(MAIN), "status"], cwd=ROOT,
                            env=env_for(base / "data"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `head` does once it has its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # as a program SIGPIPE ends: git, coreutils
    assert err == ""


def test_piping_into_head_is_quiet(library) -> None:
    base, _, _ = library
    done = subprocess.run(f"'{sys.executable}' '{MAIN}' status | head -1", shell=True,
                          cwd=ROOT, env=env_for(base / "data"), capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.startswith("data folder:")
    assert done.stderr == ""


def test_each_hit_says_which_date_the_filters_use_and_where_it_came_from(library) -> None:
    base, _, _ = library
    done = pictor("search", "a photo", "--min-score", "0", "--json", data=base / "data")
    hits = {Path(h["path"]).name: h for h in json.loads(done.stdout)}
    assert hits["dated.jpg"]["date"].startswith("2019-07-14")
    assert hits["dated.jpg"]["date_source"] == "exif"
    undated = next(h for name, h in hits.items() if name != "dated.jpg")
    assert undated["taken_at"] is None and undated["date_source"] == "file"
    assert undated["date"][:10] == _file_day(Path(undated["path"]))
    # the filters use the same date: 2019 finds only the dated photo
    done = pictor("search", "a photo", "--before", "2020", "--min-score", "0", "--json",
                  data=base / "data")
    assert [Path(h["path"]).name for h in json.loads(done.stdout)] == ["dated.jpg"]
    table = pictor("search", "a photo", "--min-score", "0", data=base / "data").stdout
    row = next(line for line in table.splitlines() if line.endswith("dated.jpg"))
    assert "2019-07-14  exif" in row


def _file_day(path: Path) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()


def test_a_folder_outside_the_library_is_named_as_such(library, tmp_path: Path) -> None:
    base, _, photos = library
    done = pictor("search", "a dog", "--folder", str(tmp_path), data=base / "data")
    assert done.returncode == 2
    assert "is not in the library" in done.stderr and str(photos) in done.stderr


def test_verbose_says_what_pictor_does(tmp_path: Path, tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(2, seed=5), seed=5)
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    done = pictor("index", str(photos), "--model", str(tiny_clip_dir), "-v",
                  data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    log = done.stderr
    for needle in ("model", "loaded in", "device cpu", "precision", "found 3 photo files",
                   "broken.jpg: not an image", "indexed 2, failed 1"):
        assert needle in log, (needle, log)
    done = pictor("search", "a dog", "-v", data=tmp_path / "data")
    assert "search: " in done.stderr and " ms" in done.stderr


def test_a_terminal_hears_that_the_model_is_loading(library) -> None:
    """Seconds pass while a model loads: a terminal is told, a pipe or a script is not."""
    import os
    import pty

    base, _, _ = library
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(MAIN), "search", "a dog", "--json"],
                            cwd=ROOT, env=env_for(base / "data"), stdout=subprocess.PIPE,
                            stderr=follower)
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    said = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end has closed
            break
        if not chunk:
            break
        said += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"loading the model" in said
    json.loads(out)  # stdout stays clean JSON
    piped = pictor("search", "a dog", "--json", data=base / "data")
    assert "loading the model" not in piped.stderr


def test_global_options_may_come_before_the_command(library, tmp_path: Path) -> None:
    """``main.py --data-dir D status``, as the window's options are written."""
    base, model, _ = library
    done = subprocess.run([sys.executable, str(MAIN), "--data-dir", str(base / "data"),
                           "--json", "status"], cwd=ROOT, env=env_for(tmp_path / "elsewhere"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == str(model)
