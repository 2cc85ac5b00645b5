"""Qt set-up for the window's tests: offscreen, Qt warnings fail, real widgets via qtbot.

pyproject.toml is shared, so the settings qutebrowser keeps in pytest.ini are applied to
this folder here: ``qt_log_level_fail = WARNING`` as a marker on every test below it.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt
os.environ.setdefault("QT_QPA_FONTDIR", "/usr/share/fonts")

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import toyworld

HERE = Path(__file__).resolve().parent
LIBRARY_SEED = 424_242
# The offscreen platform cannot do what a window manager does; it says so, harmlessly.
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints",
                   "This plugin does not support raise",
                   "systemTrayWindowChanged")  # no tray to put an icon in


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@dataclass
class Library:
    """A toy library indexed once per session: photos (read-only) and a data folder."""

    photos: Path
    data: Path
    paths: list[Path] = field(default_factory=list)


@pytest.fixture(scope="session")
def indexed_library(tmp_path_factory: pytest.TempPathFactory, toy_clip_dir: Path) -> Library:
    from core.library import Library as CoreLibrary

    base = tmp_path_factory.mktemp("toy-library")
    paths = toyworld.write_photos(base / "photos", toyworld.all_scenes(), seed=LIBRARY_SEED)
    with CoreLibrary(base / "data", model=str(toy_clip_dir), device="cpu") as library:
        for _ in library.index([base / "photos"]):
            pass
    return Library(base / "photos", base / "data", [p.resolve() for p in paths])


@pytest.fixture
def library_copy(indexed_library: Library, tmp_path: Path) -> Library:
    """The indexed library's data folder, copied: a test may change it freely."""
    data = tmp_path / "data"
    shutil.copytree(indexed_library.data, data)
    return Library(indexed_library.photos, data, indexed_library.paths)


WindowFactory = Callable[..., Any]


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path, toy_clip_dir: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[WindowFactory]:
    """``make_window(data_dir, model=toy model, start=True)``: a shown MainWindow whose
    engine has started; ``window.opened_urls`` collects what it would open."""
    from core.sync.watch_settings import WatchSettings
    from desktop.engine import Engine, EngineConfig
    from desktop.settings import Settings
    from desktop.watching import FolderWatcher
    from desktop.window import MainWindow

    monkeypatch.setenv("PICTOR_DATA_DIR", str(tmp_path / "default-data"))  # never ~/.local
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # nor ~/.config/autostart
    windows: list[Any] = []

    def make(data_dir: Path, *, model: str | None = None, start: bool = True,
             watch_interval_s: float = 60.0, settings_file: Path | None = None,
             tray: Any = "auto") -> Any:
        settings = Settings.at(settings_file or tmp_path / "settings.ini")
        engine = Engine(EngineConfig(data_dir, model or str(toy_clip_dir), "cpu"))
        watcher = FolderWatcher(WatchSettings(
            reconcile_interval_s=watch_interval_s, settle_s=0.3, min_age_s=0.3, tick_s=0.1,
            check_interval_s=0.2))
        window = MainWindow(engine, settings, data_dir=data_dir, watcher=watcher, tray=tray)
        window.opened_urls = []
        window.open_url = lambda url: window.opened_urls.append(url.toLocalFile())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        if start:
            engine.start()
        return window

    yield make
    for window in windows:
        window.quit_app()  # not to a tray
