"""The window answers the local API while it runs: real HTTP on loopback with the token of
api.json, over the library (and model) the window already holds; the Settings switch
turns it off; another instance never takes its api.json over."""

from __future__ import annotations

import http.client
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.desktop.conftest import Library
from tests.desktop.qt_helpers import wait_idle
from tests.support import toyworld
from tests.support.cli import MAIN, ROOT, env_for


def ask(url: str, token: str | None, path: str,
        query: dict[str, Any] | None = None) -> tuple[int, Any]:
    """``(status, JSON body)`` of one GET, as another program on this computer sends it."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        conn.request("GET", path + ("?" + urlencode(query) if query else ""), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def discovery(data: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((data / "api.json").read_text())
    return entry


def refused(url: str) -> bool:
    try:
        ask(url, None, "/status")
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def api_window(qtbot: Any, tmp_path: Path, toy_clip_dir: Path, library_copy: Library,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A shown window on a copy of the toy library, with its local API on."""
    from core.sync.watch_settings import WatchSettings
    from desktop.api_host import ApiHost
    from desktop.engine import Engine, EngineConfig
    from desktop.settings import Settings
    from desktop.watching import FolderWatcher
    from desktop.window import MainWindow

    monkeypatch.setenv("PICTOR_DATA_DIR", str(tmp_path / "default-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("desktop.api_host.RETRY_MS", 200)  # take over quickly (tests)
    settings = Settings.at(tmp_path / "settings.ini")
    engine = Engine(EngineConfig(library_copy.data, str(toy_clip_dir), "cpu"))
    host = ApiHost(engine, settings)
    watcher = FolderWatcher(WatchSettings(settle_s=0.3, min_age_s=0.3, tick_s=0.1,
                                          check_interval_s=0.2))
    window = MainWindow(engine, settings, data_dir=library_copy.data, watcher=watcher,
                        tray=None, api=host)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    engine.start()
    yield window
    window.quit_app()
    assert not (library_copy.data / "api.json").exists()  # quitting removes it


def answering(qtbot: Any, window: Any) -> tuple[str, str]:
    """The window's url and token, as another program finds them in api.json."""
    qtbot.waitUntil(lambda: window.api.url is not None, timeout=30_000)
    entry = discovery(window.data_dir)
    assert entry["url"] == window.api.url and entry["pid"] == os.getpid()
    return entry["url"], entry["token"]


def test_the_window_answers_with_the_token_of_api_json(qtbot: Any, api_window: Any,
                                                       library_copy: Library) -> None:
    url, token = answering(qtbot, api_window)
    assert stat.S_IMODE((library_copy.data / "api.json").stat().st_mode) == 0o600
    assert ask(url, None, "/status")[0] == 401
    assert ask(url, "wrong", "/status")[0] == 401
    wait_idle(qtbot, api_window)
    status, body = ask(url, token, "/status")
    assert status == 200 and body["photos"] == len(library_copy.paths)
    assert body["indexing"] is None

    # The API finds what the window's own search shows, in the same order.
    with qtbot.waitSignal(api_window.engine.searched, timeout=30_000):
        api_window.search_bar.edit.setText("a red circle")
        api_window.search_bar.queryChanged.emit(api_window.search_bar.query())
    qtbot.waitUntil(lambda: api_window.results.rowCount() > 0, timeout=10_000)
    shown = [hit.path for hit in api_window.results.hits()]
    status, hits = ask(url, token, "/search", {
        "q": "a red circle", "n": 500, "min_score": api_window.settings.min_score})
    assert status == 200 and [hit["path"] for hit in hits] == shown


def test_status_says_what_the_window_is_indexing(qtbot: Any, api_window: Any,
                                                 tmp_path: Path) -> None:
    url, token = answering(qtbot, api_window)
    wait_idle(qtbot, api_window)
    before = ask(url, token, "/status")[1]["photos"]
    toyworld.write_photos(tmp_path / "more", toyworld.random_scenes(70, seed=31), seed=31)
    engine = api_window.engine
    with qtbot.waitSignal(engine.indexProgress, timeout=60_000):
        api_window.add_folders([str(tmp_path / "more")])
    engine.pause_index(True)  # held mid-run: what /status says cannot race the run
    qtbot.waitUntil(lambda: api_window.api._progress is not None, timeout=5_000)
    running = ask(url, token, "/status")[1]["indexing"]
    assert running is not None and running["phase"] and running["total"] >= running["done"]
    with qtbot.waitSignal(engine.indexFinished, timeout=60_000):
        engine.pause_index(False)
    wait_idle(qtbot, api_window)
    after = ask(url, token, "/status")[1]
    assert after["indexing"] is None and after["photos"] == before + 70


def test_the_settings_switch_turns_it_off_and_on(qtbot: Any, api_window: Any) -> None:
    from desktop.settings_dialog import SettingsDialog, in_use_now

    url, _ = answering(qtbot, api_window)

    def dialog() -> SettingsDialog:
        window = api_window
        made = SettingsDialog(model="", device="cpu", data_dir="", api=window.api,
                              in_use=in_use_now(window.settings, window.engine,
                                                window.data_dir), parent=window)
        qtbot.addWidget(made)
        return made

    shown = dialog()
    assert shown.api_enabled.isChecked() and url in shown.api_address.text()
    shown.api_enabled.setChecked(False)
    shown.accept()
    assert not (api_window.data_dir / "api.json").exists()
    assert refused(url) and api_window.api.url is None
    assert api_window.settings.api_enabled is False  # remembered for the next start
    assert "Off" in dialog().api_address.text()

    again = dialog()
    assert not again.api_enabled.isChecked()
    again.api_enabled.setChecked(True)
    again.accept()
    new_url, token = answering(qtbot, api_window)
    assert ask(new_url, token, "/status")[0] == 200


def test_another_instance_leaves_the_windows_api_json_alone(qtbot: Any, api_window: Any,
                                                            library_copy: Library) -> None:
    url, token = answering(qtbot, api_window)
    before = discovery(library_copy.data)
    # `serve` on the same library: refused at once, before it opens the library.
    served = subprocess.run([sys.executable, str(MAIN), "serve"], cwd=ROOT, timeout=60,
                            env=env_for(library_copy.data), capture_output=True, text=True)
    assert served.returncode == 2
    assert f"already answers for this library at {url}" in served.stderr
    assert discovery(library_copy.data) == before
    assert ask(url, token, "/status")[0] == 200


def test_the_window_takes_over_once_serve_has_stopped(qtbot: Any, api_window: Any,
                                                      library_copy: Library) -> None:
    answering(qtbot, api_window)
    api_window.api.set_enabled(False)
    serving = subprocess.Popen([sys.executable, str(MAIN), "serve", "--no-watch"], cwd=ROOT,
                               env=env_for(library_copy.data), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (library_copy.data / "api.json").exists():
            assert serving.poll() is None and time.monotonic() < deadline, serving.stderr
            time.sleep(0.05)
        theirs = discovery(library_copy.data)
        api_window.api.set_enabled(True)  # kept out: says who answers, leaves its file
        assert api_window.api.url is None and theirs["url"] in api_window.api.describe()
        assert discovery(library_copy.data) == theirs
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(30) == 0
        ours = answering(qtbot, api_window)  # it tries again now and then
        assert ask(*ours, "/status")[0] == 200
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
