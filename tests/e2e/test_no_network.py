"""Pictor never touches the network unless it is asked to download a model.

The commands run in a subprocess whose socket layer records and refuses every outbound
connection and name lookup. The Hugging Face offline switches are deliberately *not* set
here (the test conftest sets them for everything else): with a local model folder, Pictor
must not even try.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import toyworld

ROOT = Path(__file__).resolve().parents[2]

GUARD = """
import json, socket, sys
attempts = []
def refuse(kind):
    def call(*args, **kwargs):
        attempts.append([kind, repr(args)[:200]])
        raise OSError("network blocked by test")
    return call
socket.socket.connect = refuse("connect")
socket.socket.connect_ex = refuse("connect_ex")
socket.create_connection = refuse("create_connection")
socket.getaddrinfo = refuse("getaddrinfo")
sys.path.insert(0, {root!r})
from cli.app import main
try:
    code = main(sys.argv[1:])
finally:
    with open({log!r}, "a") as log:
        log.write(json.dumps(attempts) + "\\n")
sys.exit(code)
"""


def _guarded(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The socket-blocking wrapper script, its attempts log, and an environment without
    the offline switches and with an empty Hugging Face cache."""
    log = tmp_path / "attempts.jsonl"
    script = tmp_path / "guarded.py"
    script.write_text(GUARD.format(root=str(ROOT), log=str(log)))
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    env["PICTOR_DATA_DIR"] = str(tmp_path / "data")
    env["HF_HOME"] = str(tmp_path / "hf-home")
    return script, log, env


def test_index_search_and_status_make_no_network_connection(tmp_path: Path,
                                                             tiny_clip_dir: Path) -> None:
    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(6, seed=2), seed=2)
    script, log, env = _guarded(tmp_path)
    commands = [
        ["index", str(photos), "--model", str(tiny_clip_dir)],
        ["search", "a red circle", "--json"],
        ["status", "--json"],
    ]
    for args in commands:
        result = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (args, result.stderr)
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(attempts) == len(commands)
    assert attempts == [[]] * len(commands), attempts


def test_watch_makes_no_network_connection(tmp_path: Path, tiny_clip_dir: Path) -> None:
    import queue
    import shutil
    import signal
    import threading

    photos = tmp_path / "photos"
    toyworld.write_photos(photos, toyworld.random_scenes(2, seed=3), seed=3)
    extra = toyworld.write_photos(tmp_path / "staging", toyworld.random_scenes(1, seed=4),
                                  seed=4)[0]
    script, log, env = _guarded(tmp_path)
    process = subprocess.Popen(
        [sys.executable, str(script), "watch", str(photos), "--model", str(tiny_clip_dir),
         "--json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()

    def wait_for(word: str) -> None:
        while word not in lines.get(timeout=120):
            pass

    try:
        wait_for("watching")
        shutil.copy(extra, photos / "new.jpg")
        wait_for("new.jpg")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert json.loads(log.read_text().splitlines()[-1]) == []
