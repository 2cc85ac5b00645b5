"""The window's folder watcher: the command line's policy (polling where events cannot be
had, observers restarted, rescans when events were lost), driven by Qt timers."""

from __future__ import annotations

import errno
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.sync.watch_settings import WatchSettings
from desktop.watching import FolderWatcher
from tests.desktop.qt_helpers import wait_idle, watch_added_folder
from tests.support import toyworld

LOST = "Inotify queue overflowed; filesystem events were lost"
"""What watchdog logs when the kernel dropped events (its only report of it)."""


FAST = WatchSettings(settle_s=0.2, min_age_s=0.2, tick_s=0.05)
"""Short settle times and ticks; the rest as the command line has them."""


def _watch_and_copy(qtbot: Any, folder: Path, source: Path) -> tuple[list[str], list[list]]:
    watcher = FolderWatcher(replace(FAST, poll_interval_s=0.5))
    messages: list[str] = []
    handed: list[list] = []
    watcher.message.connect(messages.append)
    watcher.filesChanged.connect(handed.append)
    shutil.copy(source, folder / "old.jpg")  # an empty folder counts as an unplugged drive
    watcher.set_folders([str(folder)])
    try:
        qtbot.waitUntil(lambda: str(folder) in watcher.modes(), timeout=10_000)  # observed
        shutil.copy(source, folder / "new.jpg")
        qtbot.waitUntil(lambda: any(str(folder / "new.jpg") in batch for batch in handed),
                        timeout=15_000)
    finally:
        watcher.stop()
    return messages, handed


def test_out_of_watches_falls_back_to_polling_and_says_so(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchdog.observers import Observer

    def no_watches_left(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", no_watches_left)
    folder = tmp_path / "photos"
    folder.mkdir()
    source = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(1, seed=1),
                                   seed=1)[0]
    messages, _ = _watch_and_copy(qtbot, folder, source)
    assert any("polling it instead" in m for m in messages)


def test_network_shares_are_polled(qtbot: Any, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import core.sync.watch_roots

    monkeypatch.setattr(core.sync.watch_roots, "filesystem_type", lambda path: "nfs4")
    folder = tmp_path / "share"
    folder.mkdir()
    source = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(1, seed=2),
                                   seed=2)[0]
    messages, _ = _watch_and_copy(qtbot, folder, source)
    assert any("network share (nfs4)" in m for m in messages)


def test_a_dead_observer_is_restarted_and_its_folder_rescanned(
    qtbot: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    toyworld.write_photos(folder, toyworld.random_scenes(1, seed=3), seed=3)
    source = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(1, seed=4),
                                   seed=4)[0]
    watcher = FolderWatcher(replace(FAST, check_interval_s=0.1))
    messages: list[str] = []
    rescans: list[list[str]] = []
    handed: list[list] = []
    watcher.message.connect(messages.append)
    watcher.foldersChanged.connect(rescans.append)
    watcher.filesChanged.connect(handed.append)
    watcher.set_folders([str(folder)])
    try:
        qtbot.waitUntil(lambda: watcher.modes().get(str(folder)) == "events", timeout=10_000)
        observer = watcher._policy.observers.roots[str(folder)].observer
        observer.stop()  # the observer's thread dies
        observer.join()
        qtbot.waitUntil(lambda: rescans == [[str(folder)]], timeout=10_000)
        assert any("restarting" in m for m in messages)
        shutil.copy(source, folder / "after.jpg")  # the new observer sees it
        qtbot.waitUntil(lambda: any(str(folder / "after.jpg") in b for b in handed),
                        timeout=15_000)
    finally:
        watcher.stop()



def test_a_folder_that_hangs_does_not_freeze_the_window(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead network mount blocks whoever lists it: the checks run on their own thread,
    so the GUI thread keeps handing over the other folders' changes meanwhile."""
    import threading

    import core.sync.watch_roots

    hung, fine = tmp_path / "nas", tmp_path / "local"
    for folder in (hung, fine):
        toyworld.write_photos(folder, toyworld.random_scenes(1, seed=6), seed=6)
    release = threading.Event()
    online = core.sync.watch_roots.is_online

    def is_online(path: Path) -> bool:
        if path == hung:
            release.wait(30)  # like an NFS server that went away
        return online(path)

    monkeypatch.setattr(core.sync.watch_roots, "is_online", is_online)
    watcher = FolderWatcher(replace(FAST, check_interval_s=0.1))
    handed: list[list] = []
    watcher.filesChanged.connect(handed.append)
    watcher.set_folders([str(fine)])
    try:
        qtbot.waitUntil(lambda: str(fine) in watcher.modes(), timeout=10_000)
        watcher.set_folders([str(fine), str(hung)])  # the next check hangs on the NAS
        qtbot.wait(300)
        source = next(fine.iterdir())
        shutil.copy(source, fine / "while-the-nas-hangs.jpg")
        qtbot.waitUntil(lambda: any(str(fine / "while-the-nas-hangs.jpg") in b
                                    for b in handed), timeout=10_000)
        assert str(hung) not in watcher.modes()  # still being checked
    finally:
        release.set()
        watcher.stop()


def test_the_window_watches_with_the_command_lines_policy() -> None:
    """One policy, one set of numbers: the periodic rescan included (30 min, not 5)."""
    assert FolderWatcher().settings == WatchSettings()
    assert WatchSettings().reconcile_interval_s == 1800


def test_lost_events_make_the_window_rescan_every_folder(qtbot: Any, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    toyworld.write_photos(folder, toyworld.random_scenes(1, seed=7), seed=7)
    watcher = FolderWatcher(FAST)
    rescans: list[str] = []
    watcher.changed.connect(lambda: rescans.append("every folder"))
    watcher.foldersChanged.connect(rescans.extend)
    watcher.set_folders([str(folder)])
    try:
        qtbot.waitUntil(lambda: watcher.modes().get(str(folder)) == "events", timeout=10_000)
        qtbot.wait(300)
        assert rescans == []  # nothing is due: the folder was just added (and indexed)
        with qtbot.waitSignal(watcher.changed, timeout=5_000):
            logging.getLogger("watchdog.observers.inotify_c").warning(LOST)
        assert rescans == ["every folder"]
    finally:
        watcher.stop()
    logging.getLogger("watchdog.observers.inotify_c").warning(LOST)  # no longer listening
    qtbot.wait(300)
    assert rescans == ["every folder"]


def test_photos_whose_events_were_lost_are_found_by_the_window_as_by_watch(
    qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tests/core/sync/test_watcher.py checks of ``main.py watch``: the kernel drops
    the events of three photos and says so; the window rescans and finds them."""
    from core.sync.watch_events import RootEventHandler

    folder = tmp_path / "album"
    toyworld.write_photos(folder, toyworld.random_scenes(4, seed=8), seed=8)
    staged = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(3, seed=9),
                                   seed=9)
    window = make_window(tmp_path / "data", watch_interval_s=600)  # no periodic rescan
    wait_idle(qtbot, window)
    watch_added_folder(qtbot, window, folder)
    started: list[bool] = []
    window.engine.indexStarted.connect(lambda: started.append(True))
    with monkeypatch.context() as patch:
        patch.setattr(RootEventHandler, "dispatch", lambda self, event: None)
        for path in staged:
            shutil.copy(path, folder / f"lost-{path.name}")
        qtbot.wait(1_000)  # several settle times: the events are gone
    assert started == []
    with qtbot.waitSignal(window.engine.indexFinished, timeout=30_000) as finished:
        logging.getLogger("watchdog.observers.inotify_c").warning(LOST)
    last, cancelled = finished.args
    assert not cancelled and last.indexed == 3
