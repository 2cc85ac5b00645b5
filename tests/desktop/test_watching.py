"""The window's folder watcher falls back to polling where events cannot be had."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import pytest

from desktop.watching import FolderWatcher
from tests.support import toyworld


def _watch_and_copy(qtbot: Any, folder: Path, source: Path) -> tuple[list[str], list[list]]:
    watcher = FolderWatcher(settle_s=0.2, tick_ms=50, poll_interval_s=0.5)
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
    watcher = FolderWatcher(settle_s=0.2, tick_ms=50, check_ms=100)
    messages: list[str] = []
    rescans: list[list[str]] = []
    handed: list[list] = []
    watcher.message.connect(messages.append)
    watcher.foldersChanged.connect(rescans.append)
    watcher.filesChanged.connect(handed.append)
    watcher.set_folders([str(folder)])
    try:
        qtbot.waitUntil(lambda: watcher.modes().get(str(folder)) == "events", timeout=10_000)
        observer = watcher._observers.roots[str(folder)].observer
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
    watcher = FolderWatcher(settle_s=0.2, tick_ms=50, check_ms=100)
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
