"""The folder watcher in-process: real watchdog observers on temporary folders, the tiny
random CLIP, short settle times. Each test waits for an outcome with a timeout (never a
long fixed sleep) and checks what a user would notice: the photo is found, keeps its
record, is not embedded twice, is never dropped while its drive is away.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import DATABASE_NAME
from core.library import Library
from core.store.catalog import STATUS_OK, Catalog
from core.sync import watch_roots
from core.sync.watch_events import RootEventHandler
from core.sync.watch_policy import Rescan, WatchPolicy
from core.sync.watcher import Change, Watcher, WatchSettings
from core.words.keywords import match_expression
from tests.support import toyworld

FAST = WatchSettings(settle_s=0.3, min_age_s=0.6, max_hold_s=5.0, check_interval_s=0.2,
                     poll_interval_s=0.3, scan_interval_s=2.0, tick_s=0.05,
                     error_backoff_s=0.2, batch_size=16)
TIMEOUT = 30.0


def wait_for(condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(0.05)


def photos(folder: Path, n: int, *, seed: int) -> list[Path]:
    return toyworld.write_photos(folder, toyworld.random_scenes(n, seed=seed), seed=seed)


class Running:
    """A watcher running in its own (writer) thread, with what it reported."""

    def __init__(self, library: Library, folders: list[Path] | None, settings: WatchSettings):
        self.changes: list[Change] = []
        self.messages: list[str] = []
        self.watcher = Watcher(library, folders=folders, settings=settings,
                               on_change=self.changes.append, on_message=self.messages.append)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.watcher.run()
        except BaseException as error:
            self.error = error

    def __enter__(self) -> Running:
        self.thread.start()
        wait_for(lambda: self.watcher.started.is_set() or self.error)
        assert self.error is None
        return self

    def __exit__(self, *exc: object) -> None:
        self.watcher.stop()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error

    def kinds(self, path: Path) -> list[str]:
        return [c.kind for c in self.changes if c.path == str(path)]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def library(data: Path, tiny_clip_dir: Path) -> Iterator[Library]:
    with Library(data, model=str(tiny_clip_dir), device="cpu") as lib:
        yield lib


@pytest.fixture
def probe(library: Library, data: Path) -> Iterator[Catalog]:
    """A second connection for the test thread: the library belongs to the watcher's."""
    with Catalog(data / DATABASE_NAME) as catalog:
        yield catalog


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    photos(folder, 4, seed=1)
    return folder.resolve()


def counts(probe: Catalog, library: Library) -> tuple[int, int, int]:
    """``(photos, photos with a vector, failed)``."""
    known = probe.known_model(library.model_name)
    return probe.counts(known[0] if known else None)


def row_id(probe: Catalog, path: Path) -> int | None:
    row = probe.photo_by_path(str(path))
    return None if row is None else row.id


def test_new_file_is_indexed_and_deleted_file_removed(
    library: Library, root: Path, probe: Catalog, tmp_path: Path
) -> None:
    new = photos(tmp_path / "staging", 1, seed=2)[0]
    with Running(library, [root], FAST) as run:
        assert probe.counts(None)[0] == 4  # the start-up reconciliation
        target = root / "sub" / new.name
        target.parent.mkdir()
        shutil.copy(new, target)
        wait_for(lambda: run.kinds(target) == ["indexed"])
        assert probe.photo_by_path(str(target)).status == STATUS_OK
        target.unlink()
        wait_for(lambda: "removed" in run.kinds(target))
        assert probe.photo_by_path(str(target)) is None
    assert probe.counts(None)[0] == 4


def test_file_copied_slowly_is_indexed_once_when_complete(
    library: Library, root: Path, probe: Catalog, tmp_path: Path, embedded: list[int]
) -> None:
    data_bytes = photos(tmp_path / "staging", 1, seed=3)[0].read_bytes()
    target = root / "copied.jpg"
    with Running(library, [root], FAST) as run:
        embedded.clear()
        with target.open("wb") as out:
            for start in range(0, len(data_bytes), len(data_bytes) // 8 + 1):
                out.write(data_bytes[start:start + len(data_bytes) // 8 + 1])
                out.flush()
                time.sleep(FAST.settle_s / 2)  # slower than a disk, faster than the settle
        wait_for(lambda: run.kinds(target))
        time.sleep(FAST.settle_s * 3)  # no second hand-over may follow
    assert run.kinds(target) == ["indexed"]
    assert sum(embedded) == 1
    assert probe.failures() == []


def test_moves_keep_the_record_and_vector(
    library: Library, root: Path, probe: Catalog, tmp_path: Path, embedded: list[int]
) -> None:
    other = tmp_path / "other"
    photos(other, 2, seed=4)
    other = other.resolve()
    first, second, third = sorted(p for p in root.iterdir())[:3]
    (root / "album").mkdir()
    shutil.move(third, root / "album" / third.name)
    library.add_roots([root, other])
    with Running(library, None, FAST) as run:  # every library root
        ids = {p.name: row_id(probe, p) for p in (first, second)}
        album_id = row_id(probe, root / "album" / third.name)
        embedded.clear()

        renamed = root / "renamed.jpg"  # a rename within a root
        first.rename(renamed)
        wait_for(lambda: "moved" in run.kinds(renamed))
        assert row_id(probe, renamed) == ids[first.name]

        across = other / second.name  # a move to another root
        shutil.move(second, across)
        wait_for(lambda: row_id(probe, across) is not None and row_id(probe, second) is None)
        assert row_id(probe, across) == ids[second.name]

        (root / "album").rename(root / "album-2024")  # a whole folder
        moved = root / "album-2024" / third.name
        wait_for(lambda: row_id(probe, moved) is not None)
        assert row_id(probe, moved) == album_id
    assert embedded == []
    assert probe.counts(None)[0] == 6


def test_a_sidecar_written_or_deleted_has_its_photo_words_read_again(
    library: Library, root: Path, probe: Catalog, embedded: list[int]
) -> None:
    """A tool writes only IMG_1.jpg.txt / IMG_1.xmp: the photo's words follow, unembedded."""
    photo = sorted(root.iterdir())[0]
    note = photo.with_name(photo.name + ".txt")

    def found(word: str) -> list[int]:
        model, match = probe.known_model(library.model_name), match_expression(word)
        assert model is not None and match is not None
        return probe.word_matches(match, model[0], limit=5)

    with Running(library, [root], FAST) as run:
        embedded.clear()
        note.write_text("zanzibar ferry", encoding="utf-8")
        wait_for(lambda: run.kinds(photo) == ["words"])
        assert found("zanzibar") == [row_id(probe, photo)]
        note.unlink()
        wait_for(lambda: run.kinds(photo) == ["words", "words"])
        assert found("zanzibar") == []
    assert embedded == []


def test_unplugged_root_keeps_its_photos_and_comes_back_without_work(
    library: Library, root: Path, probe: Catalog, tmp_path: Path, embedded: list[int]
) -> None:
    with Running(library, [root], FAST) as run:
        embedded.clear()
        root.rename(tmp_path / "unplugged")
        root.mkdir()  # an empty mount point
        wait_for(lambda: run.watcher.modes()[str(root)] == "offline")
        time.sleep(FAST.settle_s * 2)
        assert probe.counts(None)[0] == 4
        assert [c for c in run.changes if c.kind == "removed"] == []
        assert [r.online for r in library.roots()] == [False]

        reconciled = len([c for c in run.changes if c.kind == "reconciled"])
        root.rmdir()
        (tmp_path / "unplugged").rename(root)
        wait_for(lambda: len([c for c in run.changes if c.kind == "reconciled"]) > reconciled)
        assert run.watcher.modes()[str(root)] == "events"
        added = photos(tmp_path / "staging", 1, seed=5)[0]
        shutil.copy(added, root / "after.jpg")  # and it is watched again
        wait_for(lambda: run.kinds(root / "after.jpg") == ["indexed"])
    assert probe.counts(None)[0] == 5
    assert sum(embedded) == 1


def test_lost_events_are_found_by_the_reconciliation_after_an_overflow(
    library: Library, root: Path, probe: Catalog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staged = photos(tmp_path / "staging", 3, seed=6)
    with Running(library, [root], FAST):
        monkeypatch.setattr(RootEventHandler, "dispatch", lambda self, event: None)
        for path in staged:
            shutil.copy(path, root / f"lost-{path.name}")
        time.sleep(FAST.min_age_s + FAST.settle_s * 2)
        assert probe.counts(None)[0] == 4  # the events were dropped
        monkeypatch.undo()
        # what watchdog logs when the kernel's inotify queue overflowed
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost")
        wait_for(lambda: probe.counts(None)[0] == 7)


def test_burst_larger_than_the_pending_limit_is_reconciled(
    library: Library, root: Path, probe: Catalog, tmp_path: Path
) -> None:
    staged = photos(tmp_path / "staging", 20, seed=7)
    with Running(library, [root], replace(FAST, max_pending=5)) as run:
        for path in staged:
            shutil.copy(path, root / f"burst-{path.name}")
        wait_for(lambda: probe.counts(None)[0] == 24)
        assert [c for c in run.changes if c.kind == "reconciled"][-1].progress.indexed > 0


def test_watch_limit_reached_falls_back_to_polling(
    library: Library, root: Path, probe: Catalog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_more_watches(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch_roots.Observer, "schedule", no_more_watches)
    added = photos(tmp_path / "staging", 1, seed=8)[0]
    with Running(library, [root], FAST) as run:
        assert run.watcher.modes() == {str(root): "polling"}
        assert any("max_user_watches" in m for m in run.messages)
        shutil.copy(added, root / "polled.jpg")
        wait_for(lambda: run.kinds(root / "polled.jpg") == ["indexed"])


def test_network_share_is_polled(
    library: Library, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_roots, "filesystem_type", lambda path: "nfs4")
    with Running(library, [root], FAST) as run:
        assert run.watcher.modes() == {str(root): "polling"}
        assert any("network file system" in m for m in run.messages)


def test_dead_observer_is_restarted_and_its_root_rescanned(
    library: Library, root: Path, probe: Catalog, tmp_path: Path
) -> None:
    staged = photos(tmp_path / "staging", 2, seed=9)
    with Running(library, [root], FAST) as run:
        observer = run.watcher._roots[str(root)].observer
        assert observer is not None
        observer.stop()  # the observer thread dies
        observer.join()
        shutil.copy(staged[0], root / "while-dead.jpg")  # missed: nobody is listening
        wait_for(lambda: any("restarting" in m for m in run.messages))
        wait_for(lambda: row_id(probe, root / "while-dead.jpg") is not None)
        shutil.copy(staged[1], root / "after-restart.jpg")
        wait_for(lambda: run.kinds(root / "after-restart.jpg") == ["indexed"])


def test_many_files_at_once_all_end_up_indexed(
    library: Library, root: Path, probe: Catalog, tmp_path: Path
) -> None:
    n = int(os.environ.get("PICTOR_WATCH_BURST", "2000"))
    base = photos(tmp_path / "staging", 1, seed=10)[0].read_bytes()
    with Running(library, [root], FAST):
        started = time.monotonic()
        for i in range(n):  # distinct files (bytes after the JPEG's end), all embedded
            folder = root / f"burst-{i // 500:03d}"
            folder.mkdir(exist_ok=True)
            (folder / f"{i:06d}.jpg").write_bytes(base + i.to_bytes(4, "big"))
        wait_for(lambda: counts(probe, library)[1] == n + 4, timeout=120)
        elapsed = time.monotonic() - started
    assert counts(probe, library) == (n + 4, n + 4, 0)
    print(f"{n} files indexed {elapsed:.1f} s after the burst began")


@pytest.mark.parametrize("code, said", [(errno.EIO, "watcher error (OSError"),
                                         (errno.ENOSPC, "the disk is full")])
def test_an_indexing_error_is_reported_and_repaired_by_a_rescan(
    library: Library, root: Path, probe: Catalog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, code: int, said: str,
) -> None:
    added = photos(tmp_path / "staging", 1, seed=14)[0]
    original = Library.index_files
    failures: list[int] = []

    def fails_once(self: Library, paths, **kwargs):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise OSError(code, "failed")
        return original(self, paths, **kwargs)

    monkeypatch.setattr(Library, "index_files", fails_once)
    with Running(library, [root], FAST) as run:
        shutil.copy(added, root / "retried.jpg")
        wait_for(lambda: row_id(probe, root / "retried.jpg") is not None)
        assert any(m.startswith(said) for m in run.messages), run.messages
        assert run.thread.is_alive()


# -- the policy alone (no library): what the command line and the window both run ----------


@pytest.fixture
def policy(tmp_path: Path) -> Iterator[WatchPolicy]:
    said: list[str] = []
    policy = WatchPolicy(WatchSettings(settle_s=0.5, max_hold_s=4.0, scan_interval_s=3.0,
                                       reconcile_interval_s=10.0),
                         say=lambda text, level: said.append(text))
    yield policy
    policy.stop()


def test_the_policy_rescans_every_folder_when_watchdog_says_events_were_lost(
    policy: WatchPolicy, root: Path, tmp_path: Path
) -> None:
    offline = tmp_path / "unplugged"
    offline.mkdir()  # empty: a mount point without its drive
    start = time.monotonic()
    policy.start(start)
    assert policy.check([str(root), str(offline)], rescan_new=False) == set()
    assert policy.rescans_due(time.monotonic()) is None
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost")
    now = time.monotonic()
    assert policy.rescans_due(now) is None  # not while events still come in
    assert policy.rescans_due(now + 0.6) == Rescan([str(root)], every=True)  # online only
    assert policy.rescans_due(now + 0.7) is None  # once


def test_the_policy_waits_for_quiet_folders_but_not_forever(
    policy: WatchPolicy, root: Path
) -> None:
    policy.start(time.monotonic())
    policy.check([str(root)])  # new here: due (the command line's watcher scans it)
    asked = time.monotonic()
    for second in range(4):  # a copy goes on and on: an event every second
        policy.pending.add(str(root / f"copying-{second}.jpg"), root=str(root))
        policy.pending.last_event_at = asked + second
        assert policy.rescans_due(asked + second + 0.1) is None
    policy.pending.last_event_at = asked + 4.0
    assert policy.rescans_due(asked + 4.1) == Rescan([str(root)], every=False)  # max_hold_s
    assert len(policy.pending) == 0  # the rescan covers the hints under the folder


def test_the_policy_rescans_periodically_and_folders_without_events_more_often(
    policy: WatchPolicy, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_more_watches(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    for kind in (watch_roots.Observer, watch_roots.PollingObserver):  # nor polling: scans
        monkeypatch.setattr(kind, "schedule", no_more_watches)
    other = tmp_path / "other"
    photos(other, 1, seed=15)
    start = time.monotonic()
    policy.start(start)
    policy.check([str(root), str(other.resolve())], rescan_new=False)
    assert set(policy.modes().values()) == {"scans"}
    assert policy.rescans_due(start + 1.0) is None
    due = policy.rescans_due(start + 4.1)
    assert due is not None and not due.every and len(due.roots) == 2
    assert policy.rescans_due(start + 5.0) is None
    due = policy.rescans_due(start + 10.1)
    assert due is not None and due.every
