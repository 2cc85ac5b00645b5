"""A disk that fills up during indexing: a sentence instead of a traceback, and nothing lost.

The database really runs out of room (SQLite's ``max_page_count`` makes it answer
SQLITE_FULL, "database or disk is full", as a full disk does); the command is run in this
process (``cli.app.main``) so that the limit can be put on its connection.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli import app
from core import errors
from core.store.catalog import Catalog
from core.store.vector_index import VectorIndex
from tests.support import toyworld


def test_indexing_onto_a_full_disk_says_so_and_resumes_once_there_is_room(
        tmp_path: Path, toy_clip_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    photos = toyworld.write_photos(tmp_path / "photos", toyworld.random_scenes(120, seed=5),
                                   seed=5)
    monkeypatch.setenv("PICTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    opened = Catalog.__init__

    def small_disk(self: Catalog, path: Path, **kwargs: object) -> None:
        opened(self, path, **kwargs)  # type: ignore[arg-type]
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # room for a batch or two

    monkeypatch.setattr(Catalog, "__init__", small_disk)
    code = app.main(["index", str(tmp_path / "photos"), "--model", str(toy_clip_dir),
                     "--batch-size", "8"])
    err = capsys.readouterr().err
    assert code == app.EXIT_FAILURE
    assert "pictor: the disk is full" in err and "Traceback" not in err, err

    monkeypatch.setattr(Catalog, "__init__", opened)  # space was freed
    assert app.main(["index", "--json"]) == app.EXIT_OK
    capsys.readouterr()
    assert app.main(["status", "--json"]) == app.EXIT_OK
    status = capsys.readouterr().out
    assert f'"photos": {len(photos)}' in status and f'"indexed": {len(photos)}' in status


def test_full_disks_are_told_apart_from_bugs(tmp_path: Path) -> None:
    with pytest.raises(OSError) as written, open("/dev/full", "wb") as full:
        full.write(b"x")
        full.flush()
    assert isinstance(errors.explain(written.value), errors.DiskFullError)

    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full_db:
        db.executemany("INSERT INTO t VALUES (?)", [[b"x" * 4000]] * 10)
    try:  # a failure while cleaning up after it still tells of the full disk
        try:
            raise full_db.value
        except sqlite3.Error:
            raise RuntimeError("Failed to serialize into stream") from None
    except RuntimeError as masked:
        assert errors.disk_full(masked.__context__)  # type: ignore[arg-type]
        assert isinstance(errors.explain(masked), errors.DiskFullError)
    assert errors.explain(ValueError("a bug")) is None
    assert errors.explain(OSError(errno.EACCES, "denied")) is None


def test_a_failed_index_write_on_a_full_disk_is_an_enospc(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = VectorIndex(4)
    index.upsert(np.array([1]), np.ones((1, 4), np.float32))

    def fail(_path: str, *_: Any) -> None:
        raise RuntimeError("Failed to serialize into stream")

    monkeypatch.setattr(index._index, "save", fail)
    monkeypatch.setattr("shutil.disk_usage", lambda _p: type("U", (), {"free": 0})())
    with pytest.raises(OSError) as error:
        index.save(tmp_path / "v.usearch", model="m", seq=1)
    assert error.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # no half-written file left
