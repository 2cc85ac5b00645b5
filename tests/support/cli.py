"""The command line as a user runs it, for end-to-end tests: ``main.py`` in a subprocess
on a data folder, and ``watch`` with its JSON events read as they come."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "main.py"
TIMEOUT = 60.0


def env_for(data: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``data`` as the data folder, offline."""
    return {**os.environ, "PICTOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
            **(extra or {})}


def pictor(*args: str, data: Path, timeout: float = 300, env: dict[str, str] | None = None,
           keep_newlines: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``main.py ARGS`` and wait for it. ``env`` adds to the environment;
    ``keep_newlines`` decodes the output as it is (text mode turns ``\\r`` into ``\\n``)."""
    done = subprocess.run([sys.executable, str(MAIN), *args], cwd=ROOT,
                          env=env_for(data, env), capture_output=True, timeout=timeout,
                          text=not keep_newlines)
    if not keep_newlines:
        return done
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


class WatchProcess:
    """``main.py watch ... --json`` with its stdout read line by line as JSON events; in a
    session of its own, so that :meth:`kill` ends whatever it started too."""

    def __init__(self, *args: str, data: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(MAIN), "watch", *args, "--json"], cwd=ROOT,
            env=env_for(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait_event(self, match: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event whose fields include ``match``; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"no {match} event within {timeout:.0f} s; stderr: "
                                     f"{self.stderr()}") from None
            if all(event.get(k) == v for k, v in match.items()):
                return event

    def wait_watching(self) -> None:
        while not self.wait_event({"event": "message"})["message"].startswith("watching"):
            pass

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()
