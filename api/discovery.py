"""Finding a running instance: ``<data folder>/api.json`` holds its URL, token and pid.

Kept free of FastAPI and uvicorn so that the command line can ask it in milliseconds.
The file is the owner's only (mode 600: the token is a password) and is written
atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import UsageError

DISCOVERY_NAME = "api.json"
PROBE_TIMEOUT_S = 0.5
"""How long a live instance may take to accept a connection on loopback."""


def discovery_path(data_dir: Path | str) -> Path:
    return Path(data_dir).expanduser() / DISCOVERY_NAME


class AlreadyServing(UsageError):
    """Another live instance answers for this data folder (its api.json is left alone)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"Pictor already answers for this library at {url}; stop it first "
                         "(one server per data folder)")
        self.url = url


def write_discovery(data_dir: Path | str, url: str, token: str, *,
                    exclusive: bool = False) -> Path:
    """Write api.json for this process: a private temp file renamed over the old one.
    ``exclusive``: never over a live instance's (AlreadyServing), only a stale one; of two
    instances that start at once, one wins."""
    path = discovery_path(data_dir)
    tmp = path.with_name(f".{DISCOVERY_NAME}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"url": url, "token": token, "pid": os.getpid()}, out)
            out.flush()
            os.fsync(out.fileno())
        if not (exclusive and _link_new(tmp, path)):
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _link_new(tmp: Path, path: Path) -> bool:
    """Name ``tmp`` ``path`` if there is no ``path`` (atomically); False when there is a
    stale one to replace; AlreadyServing when a live instance's is there."""
    try:
        os.link(tmp, path)
    except OSError:  # there is one (or no hard links here: some network or FAT folders)
        running = live_instance(path.parent)
        if running is not None:
            raise AlreadyServing(running[0]) from None
        return False
    tmp.unlink()
    return True


def remove_discovery(data_dir: Path | str) -> None:
    """Remove api.json if it is still this process's (another instance may have taken over)."""
    path = discovery_path(data_dir)
    entry = _read(path)
    if entry is not None and entry.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def live_instance(data_dir: Path | str) -> tuple[str, str] | None:
    """``(url, token)`` of the instance serving this data folder, or None when there is
    none: no file, an unreadable one, or a stale one (its process is gone, or nothing
    answers on its port: a crash, or a pid reused by another program)."""
    entry = _read(discovery_path(data_dir))
    if entry is None:
        return None
    url, token, pid = entry.get("url"), entry.get("token"), entry.get("pid")
    if not (isinstance(url, str) and isinstance(token, str) and isinstance(pid, int)):
        return None
    if not _process_alive(pid) or not _port_answers(url):
        return None
    return url, token


def _read(path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: its port check decides
        return True
    except OSError:
        return False
    return True


def _port_answers(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if host is None or port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
