"""The command line through a running instance: the same output as in-process (tables and
--json), without torch, and in-process again when the instance is gone.

One server for the module on a small library indexed with the tiny model; the tests that
kill it come last."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.discovery import write_discovery
from cli import remote
from cli.parser import build_parser
from tests.api.api_client import Server, index_toy_library, start_server
from tests.support.cli import ROOT, env_for

QUERY = "a red circle on grass"
HEAVY = ("torch", "transformers", "core.library")
# main.py as a user runs it, then which heavy modules it imported, on a last stderr line.
RUN = f"""import json, sys
from main import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("LOADED " + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)
sys.exit(code)
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    loaded: list[str]
    seconds: float


def cli(data: Path, *args: str, in_process: bool = False) -> Run:
    extra = {remote.NO_INSTANCE_ENV: "1"} if in_process else {}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, timeout=300,
                          env=env_for(data, extra), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    err, _, last = done.stderr.rstrip("\n").rpartition("\n")
    if not last.startswith("LOADED "):
        err, last = done.stderr, "LOADED null"
    return Run(done.returncode, done.stdout, err, json.loads(last[7:]) or [], seconds)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Path:
    return index_toy_library(tmp_path_factory.mktemp("remote"), tiny_clip_dir, photos=6,
                             seed=7)


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[Server]:
    running = start_server(library / "data")
    assert running.get_json("/search", {"q": QUERY}) is not None  # loads its model
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def photo(library: Path, index: int = 0) -> str:
    return str(sorted((library / "photos").iterdir())[index])


def commands(library: Path) -> dict[str, list[str]]:
    one = photo(library)
    return {
        "status": ["status"],
        "search": ["search", QUERY, "-n", "4", "--min-score", "0"],
        "search-filters": ["search", "a green square", "--folder", str(library / "photos"),
                           "--no-words", "--not", "blue", "--min-score", "0"],
        "search-image": ["search", "--image", photo(library, 2), "-n", "3",
                         "--min-score", "0"],
        "search-image-more": ["search", "a red circle", "--image", photo(library, 2),
                              "--region", "0,0,48,36", "--folder", str(library / "photos"),
                              "--not", "blue", "--no-words", "--min-score", "0"],
        "search-copies": ["search", QUERY, "-n", "4", "--min-score", "0", "--copies"],
        "similar": ["similar", one, "-n", "3", "--min-score", "0"],
        "similar-copies": ["similar", one, "-n", "3", "--min-score", "0", "--copies"],
        "captions": ["captions", one, "-n", "3"],
        "text": ["text", one],
        "explain": ["explain", one, QUERY, "--method", "gradient"],
    }


@pytest.mark.parametrize("name", ["status", "search", "search-filters", "search-image",
                                  "search-image-more", "search-copies",
                                  "similar", "similar-copies", "captions", "text", "explain"])
def test_the_instance_answers_as_the_command_line(server: Server, library: Path,
                                                  name: str) -> None:
    args = commands(library)[name]
    for form in ([], ["--json"]):
        served = cli(server.data, *args, *form)
        here = cli(server.data, *args, *form, in_process=True)
        assert served.code == here.code == 0, (served.err, here.err)
        assert served.loaded == [], served.loaded  # no torch, no library on this path
        assert "core.library" in here.loaded
        if name == "status":  # the instance has loaded its model: it knows its device
            here.out = here.out.replace("(device auto)", "(device cpu)").replace(
                '"device": "auto"', '"device": "cpu"')
        assert served.out == here.out
        assert served.out.strip()


def test_what_the_api_cannot_answer_runs_in_process(server: Server, library: Path) -> None:
    # No good match: the instance says what its cut-off hid (headers), so it answers too.
    args = ["search", "a zebra", "--min-score", "100"]
    served, here = cli(server.data, *args), cli(server.data, *args, in_process=True)
    assert served.code == here.code == 0 and served.out == here.out
    assert "no good match" in served.out or "no matching photos" in served.out
    assert "core.library" not in served.loaded
    # Errors are the command line's own, with its exit status.
    missing = str(library / "nope.jpg")
    served = cli(server.data, "similar", missing)
    assert served.code == 2 and "nope.jpg" in served.err
    assert "core.library" in served.loaded


def test_an_instance_gone_since_discovery_is_skipped(library: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setattr("api.discovery.live_instance", lambda data: (url, "token"))
    monkeypatch.delenv(remote.NO_INSTANCE_ENV, raising=False)
    args = build_parser().parse_args(["--data-dir", str(library / "data"), "status"])
    assert isinstance(args, argparse.Namespace)
    assert remote.ask(args) is None


def test_a_remote_search_answers_quickly(server: Server) -> None:
    # --min-score 0: nothing in this toy library scores 50, and an empty list runs
    # in-process (see test_what_the_api_cannot_answer_runs_in_process).
    times = []
    for _ in range(5):
        run = cli(server.data, "search", "a red circle", "--min-score", "0")
        assert run.code == 0 and run.loaded == [], run.err
        times.append(run.seconds)
    local = [cli(server.data, "search", "a red circle", "--min-score", "0",
                 in_process=True).seconds for _ in range(3)]
    median = statistics.median(times)
    print(f"\nsearch through the instance: median {median:.3f} s of {len(times)} runs; "
          f"in-process: median {statistics.median(local):.3f} s of {len(local)}")
    assert median < 3.0


def test_a_killed_instance_falls_back(server: Server, library: Path) -> None:
    args = ["search", QUERY, "-n", "3", "--min-score", "0", "--json"]
    expected = cli(server.data, *args, in_process=True).out
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    assert (server.data / "api.json").exists()  # left behind by the crash
    run = cli(server.data, *args)
    assert run.code == 0 and run.out == expected and "core.library" in run.loaded
    # A stale file whose process is gone: the same.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_discovery(server.data, server.url, server.token)
    entry = json.loads((server.data / "api.json").read_text())
    (server.data / "api.json").write_text(json.dumps({**entry, "pid": gone.pid}))
    os.chmod(server.data / "api.json", 0o600)
    run = cli(server.data, *args)
    assert run.code == 0 and run.out == expected and "core.library" in run.loaded


def waiting_on(port: int) -> bool:
    """Whether a connection to ``port`` is open and waiting (Linux: /proc/net/tcp); the
    instance's stopped process has not accepted it, a probe would have closed it."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.rsplit(":", 1)[1], 16) == port and state == "01":  # ESTABLISHED
            return True
    return False


def test_an_instance_that_dies_mid_request_falls_back(library: Path) -> None:
    """The instance answers nothing (stopped), then dies while the command waits for it:
    the command runs in-process and prints what it would have printed anyway."""
    args = ["search", QUERY, "-n", "3", "--min-score", "0", "--json"]
    expected = cli(library / "data", *args, in_process=True).out
    server = start_server(library / "data")  # the module's server was killed before
    try:
        server.proc.send_signal(signal.SIGSTOP)
        waiting = subprocess.Popen([sys.executable, "-c", RUN, *args], cwd=ROOT,
                                   env=env_for(library / "data"), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not waiting_on(server.port):  # it found the instance and is waiting for it
            assert waiting.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGKILL)
        out, err = waiting.communicate(timeout=300)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait()
    assert waiting.returncode == 0, err
    assert out == expected and '"core.library"' in err.rsplit("LOADED ", 1)[1]
