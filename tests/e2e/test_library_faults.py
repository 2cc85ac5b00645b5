"""The library database under faults that are not damage: another program's lock, a
read-only folder, an empty file beside backups, a permissive umask. Through the command
line, as a user meets them: nothing is lost, rolled back or exposed, and every refusal is
one sentence."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import toyworld
from tests.support.cli import pictor

ROOT = Path(__file__).resolve().parents[2]
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
if sys.argv[3] == "exclusive":  # nobody else may even read
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")  # in WAL mode without the pragma: writers wait
conn.execute("UPDATE settings SET value = value WHERE 0")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def photo_count(data: Path) -> int:
    result = pictor("status", "--json", data=data, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["photos"])


def hold_lock(db: Path, seconds: float, *, mode: str = "exclusive") -> subprocess.Popen[str]:
    """Another program holding the database locked for ``seconds``: ``exclusive`` (no
    reader either) or ``write`` (other writers wait)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds), mode],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def library_with_backup(tmp_path: Path, tiny_clip_dir: Path) -> Iterator[tuple[Path, Path]]:
    """A library of 9 photos whose only backup holds 6 (taken after the first run)."""
    data, photos = tmp_path / "data", tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(6, seed=5), seed=5)
    first = pictor("index", str(photos), "--model", str(tiny_clip_dir), "--json", data=data)
    assert first.returncode == 0, first.stderr
    assert len(list((data / "backups").glob("*.db"))) == 1
    toyworld.write_photos(photos / "more", toyworld.random_scenes(3, seed=6), seed=6)
    second = pictor("index", "--json", data=data)
    assert second.returncode == 0, second.stderr
    assert photo_count(data) == 9
    yield data, photos


def test_a_locked_library_is_waited_for_never_rolled_back(
        library_with_backup: tuple[Path, Path]) -> None:
    data, _ = library_with_backup
    holder = hold_lock(data / "library.db", 300)  # killed below, once both commands gave up
    try:
        started = time.monotonic()
        for command in (["status"], ["search", "a red circle"]):
            result = pictor(*command, data=data, env={"PICTOR_BUSY_WAIT_S": "2"})
            assert result.returncode == 1, result.stderr
            assert "another program is using the library; waiting" in result.stderr
            assert "busy" in result.stderr and "Traceback" not in result.stderr
        assert time.monotonic() - started < 50  # gave up after 2 s each, not 30 s or more
    finally:
        holder.kill()
        holder.wait()
    assert not list(data.glob("library.db.damaged-*"))
    assert photo_count(data) == 9  # the healthy database, not the 6-photo backup


def test_a_library_locked_during_an_index_run_stops_with_a_sentence_and_resumes(
        tmp_path: Path, tiny_clip_dir: Path) -> None:
    data, photos = tmp_path / "data", tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(400, seed=7), seed=7)
    run = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "index", str(photos), "--model",
         str(tiny_clip_dir), "--batch-size", "1", "--data-dir", str(data)],
        env={**os.environ, "PICTOR_BUSY_WAIT_S": "2"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    db = data / "library.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # lock it once the run has committed some photos
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                if conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] >= 3:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    holder = hold_lock(db, 15, mode="write")
    try:
        _, stderr = run.communicate(timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 1, stderr
    assert "busy" in stderr and "run the command again" in stderr
    assert "Traceback" not in stderr and "OperationalError" not in stderr
    again = pictor("index", "--json", data=data)
    assert again.returncode == 0, again.stderr
    assert photo_count(data) == 400
    hits = pictor("search", "a red circle", "--min-score", "0", "-n", "500", "--json",
                  "--no-words", "--copies", data=data)  # every photo, copies of one included
    assert len(json.loads(hits.stdout)) == 400


def test_an_empty_database_beside_backups_is_restored_and_the_user_told(
        library_with_backup: tuple[Path, Path]) -> None:
    data, _ = library_with_backup
    (data / "library.db").write_bytes(b"")
    result = pictor("status", "--json", data=data)
    assert result.returncode == 0, result.stderr
    assert "was empty and has been restored from the backup" in result.stderr
    status = json.loads(result.stdout)
    assert status["photos"] == 6 and len(status["roots"]) == 1  # the folders are remembered
    again = pictor("index", "--json", data=data)  # and what came after is indexed again
    assert again.returncode == 0, again.stderr
    assert photo_count(data) == 9


def test_a_missing_database_beside_backups_is_restored(
        library_with_backup: tuple[Path, Path]) -> None:
    data, _ = library_with_backup
    (data / "library.db").unlink()
    result = pictor("search", "a red circle", "--min-score", "0", "--json", data=data)
    assert result.returncode == 0, result.stderr
    assert "was missing and has been restored" in result.stderr
    assert len(json.loads(result.stdout)) == 6


def _as_another_user(folder: Path) -> tuple[list[str], dict[str, str]]:
    """A command prefix under which ``folder`` (owned by this user) is read-only, and the
    environment for it: root ignores permissions, so root runs it as ``nobody``."""
    if os.geteuid() != 0:
        return [], {}
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root needs setpriv (util-linux) to test a read-only library")
    home = Path(tempfile.mkdtemp(prefix="pictor-nobody-"))
    home.chmod(0o777)
    return ([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"],
            {"HOME": str(home), "PICTOR_CACHE_DIR": str(home / "cache")})


def test_a_read_only_library_searches_and_says_why_it_cannot_index(
        tiny_clip_dir: Path) -> None:
    # Not under pytest's tmp_path, which only its owner may enter.
    base = Path(tempfile.mkdtemp(prefix="pictor-ro-"))
    try:
        base.chmod(0o755)
        data, photos, model = base / "data", base / "photos", base / "model"
        toyworld.write_photos(photos, toyworld.random_scenes(5, seed=8), seed=8)
        shutil.copytree(tiny_clip_dir, model)  # readable by the other user too
        made = pictor("index", str(photos), "--model", str(model), data=data)
        assert made.returncode == 0, made.stderr
        for path in [data, model, *data.rglob("*"), *model.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)  # only writing is denied
        prefix, env = _as_another_user(data)
        command = [*prefix, sys.executable, str(ROOT / "main.py")]
        run_env = {**os.environ, **env}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*command, *args, "--data-dir", str(data)],
                                  capture_output=True, text=True, timeout=300, env=run_env,
                                  cwd=base)

        before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
        found = run("search", "a red circle", "--min-score", "0", "--json")
        assert found.returncode == 0, found.stderr
        assert len(json.loads(found.stdout)) == 5
        status = run("status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["photos"] == 5
        for args in (["index"], ["index", str(photos)]):
            refused = run(*args)
            assert refused.returncode == 1, refused.stderr
            assert "read-only" in refused.stderr and "indexing needs" in refused.stderr
            assert "Traceback" not in refused.stderr
        assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before
        assert not list(data.glob("library.db.damaged-*"))
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base, ignore_errors=True)


def test_the_data_folder_is_private_whatever_the_umask(tmp_path: Path,
                                                       tiny_clip_dir: Path) -> None:
    data, photos = tmp_path / "data", tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(4, seed=9), seed=9)
    env = {k: v for k, v in os.environ.items() if k != "PICTOR_CACHE_DIR"}
    for args in (["index", str(photos), "--model", str(tiny_clip_dir)],
                 ["search", "a red circle"]):
        result = subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--data-dir",
                                 str(data)], capture_output=True, text=True, timeout=300,
                                env=env, preexec_fn=lambda: os.umask(0))
        assert result.returncode == 0, result.stderr
    exposed = {str(p.relative_to(data)): oct(stat.S_IMODE(p.stat().st_mode))
               for p in [data, *data.rglob("*")] if p.stat().st_mode & 0o077}
    assert exposed == {}
    assert (data / "backups").is_dir() and (data / "vectors").is_dir()
