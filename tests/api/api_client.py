"""A small HTTP client for the API tests: the standard library only, so a test can send
any Host header, any token, or bytes that are not HTTP at all."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.cli import MAIN, ROOT, env_for

START_TIMEOUT = 60.0


@dataclass
class Server:
    """A running ``main.py serve``."""

    proc: subprocess.Popen[str]
    data: Path
    url: str
    token: str
    log: Path
    """Its stderr: a file, never a pipe (a pipe nobody reads fills and stalls it)."""

    def log_tail(self, lines: int = 60) -> str:
        return "".join(self.log.read_text(errors="replace").splitlines(True)[-lines:])

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, *,
                token: str | None = "", host: str | None = None,
                body: bytes | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)``; ``token=""`` sends the server's, None none."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Host": host or f"127.0.0.1:{self.port}", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token or self.token}"
        target = path + ("?" + urlencode(query) if query else "")
        try:
            conn.request(method, target, body=body, headers=sent,
                         encode_chunked=not isinstance(body, bytes | None))
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, \
                response.read()
        finally:
            conn.close()

    def get_json(self, path: str, query: dict[str, Any] | None = None,
                 expect: int = 200) -> Any:
        status, _, body = self.request("GET", path, query)
        assert status == expect, body
        return json.loads(body)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout)


def index_toy_library(root: Path, model: Path, *, photos: int, seed: int) -> Path:
    """``photos`` toy photos in ``root/photos``, indexed into ``root/data`` through the
    command line; returns ``root``."""
    from tests.support import toyworld
    from tests.support.cli import pictor

    folder, data = root / "photos", root / "data"
    toyworld.write_photos(folder, toyworld.random_scenes(photos, seed=seed), seed=seed)
    done = pictor("index", str(folder), "--model", str(model), data=data)
    assert done.returncode == 0, done.stderr
    return root


def start_server(data: Path, *args: str) -> Server:
    """``main.py serve ARGS`` on ``data``, once its api.json names it."""
    log = data.parent / f"serve-{time.time_ns()}.log"  # beside the test's data folder
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(MAIN), "serve", *args], cwd=ROOT,
                                env=env_for(data), stdout=subprocess.DEVNULL, stderr=err,
                                text=True)
    found = data / "api.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: "
                                 f"{log.read_text()}")
        try:
            entry = json.loads(found.read_text())
            if entry.get("pid") == proc.pid:
                return Server(proc, data, entry["url"], entry["token"], log)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no api.json within {START_TIMEOUT:.0f} s: "
                         f"{log.read_text()}")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]
              ) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream'
                     "\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
