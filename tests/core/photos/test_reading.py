"""core.photos.reading and core.photos.file_warnings: what Pictor opens, how much it reads,
what it logs.

The command-line view of the same faults is tests/e2e/test_hostile_files_cli.py; here are
the cases a folder cannot set up on cue (a FIFO swapped in between the check and the open,
a file growing while it is read) and the per-thread warning collection.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path

import pytest

from core.errors import ImageError
from core.photos import reading
from core.photos.file_warnings import one_line_per_file
from tests.support import odd_files


def refusal(path: Path) -> str:
    with pytest.raises(ImageError) as caught:
        reading.open_photo(path).close()
    return caught.value.reason


def test_only_regular_files_are_opened(tmp_path: Path) -> None:
    assert refusal(odd_files.fifo(tmp_path / "photo.jpg")) == "not a regular file: a named pipe"
    assert refusal(odd_files.zero_link(tmp_path / "zero.jpg")) == "not a regular file: a device"
    (tmp_path / "album.jpg").mkdir()
    assert refusal(tmp_path / "album.jpg") == "not a regular file: a folder"
    assert refusal(tmp_path / "gone.jpg") == "cannot read file: No such file or directory"


def test_a_file_over_its_kinds_cap_is_refused_unread(tmp_path: Path) -> None:
    assert refusal(odd_files.sparse(tmp_path / "big.jpg")) == (
        "file too large: 3.2 GB (the limit for images is 1.5 GB)")
    assert refusal(odd_files.sparse(tmp_path / "big.nef", 600_000_000)) == (
        "file too large: 600.0 MB (the limit for camera RAW files is 500.0 MB)")
    with reading.open_photo(odd_files.sparse(tmp_path / "fine.nef", 400_000_000)) as file:
        assert file.read(4) == b"\0" * 4


def test_a_fifo_swapped_in_after_the_check_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular = tmp_path / "regular.jpg"
    regular.write_bytes(b"x")
    pipe = odd_files.fifo(tmp_path / "photo.jpg")
    real_stat = os.stat
    # The name still looked like a regular file when it was checked.
    monkeypatch.setattr(os, "stat", lambda path, *args, **kwargs: real_stat(
        regular if str(path) == str(pipe) else path, *args, **kwargs))
    reasons: list[str] = []
    thread = threading.Thread(target=lambda: reasons.append(refusal(pipe)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "open() of a FIFO blocked"
    assert reasons == ["not a regular file: a named pipe"]


def test_reads_stop_at_the_cap_when_the_file_grows_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", 150)
    path = tmp_path / "growing.png"
    path.write_bytes(b"a" * 100)
    with reading.open_photo(path) as file:
        with open(path, "ab") as writer:
            writer.write(b"b" * 1000)
        assert file.read() == b"a" * 100 + b"b" * 50
        file.seek(140)
        assert file.read(100) == b"b" * 10


def test_the_streamed_hash_is_the_hash_of_the_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    data = os.urandom(3 * reading.CHUNK + 123)
    path.write_bytes(data)
    with reading.open_photo(path) as file:
        assert reading.content_hash(file) == hashlib.blake2b(data, digest_size=16).hexdigest()
        assert file.read(5) == data[:5]  # left at the start, for the decoder


def test_warnings_while_reading_a_file_make_one_log_line_per_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "core.photos.file_warnings")
    shown: list[str] = []  # what reaches the hook in place before (stderr, normally)

    def read(name: str) -> None:
        with one_line_per_file(name):
            for tag in range(300):
                warnings.warn(f"{name}: skipping tag {tag}", UserWarning, stacklevel=1)
                with one_line_per_file("inner"):  # a nested block adds no line of its own
                    pass

    threads = [threading.Thread(target=read, args=(f"/photos/{i}.jpg",)) for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *rest: shown.append(str(message))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        warnings.warn("outside any file", UserWarning, stacklevel=1)
    assert sorted(record.getMessage() for record in caplog.records) == [
        f"/photos/{i}.jpg: warning while reading it: UserWarning: /photos/{i}.jpg: "
        f"skipping tag 0 (and 299 more)" for i in range(4)]
    assert shown == ["outside any file"]
