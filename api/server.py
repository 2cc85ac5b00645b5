"""``pictor serve``: the API on a socket of its own, until Ctrl-C or SIGTERM.

uvicorn (a well-kept ASGI server, FastAPI's own choice) runs the app on one asyncio loop;
the library is used from one thread (api.worker). The socket is bound and listening
before api.json names it, so a client that reads the file can connect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import signal
import socket
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn

from api.discovery import live_instance, remove_discovery, write_discovery
from api.guard import allowed_hosts
from api.routes import create_app
from api.worker import LibraryWorker
from core.errors import UsageError

if TYPE_CHECKING:
    from core.library import Library

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 3
"""Seconds a stop waits for requests in flight before it cancels them."""


class _Server(uvicorn.Server):
    """uvicorn's server, but a signal only stops it: uvicorn raises it again once stopped
    (so the process dies of it), while ``serve`` exits 0 after a clean stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(library: Library, *, host: str = LOOPBACK, port: int = 0) -> int:
    """Answer the API for ``library`` until stopped; returns the exit status (0)."""
    running = live_instance(library.data_dir)
    if running is not None:
        raise UsageError(f"Pictor already answers for this library at {running[0]}; stop "
                         "it first (one server per data folder)")
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    if not _is_loopback(host):
        print(f"pictor: warning: serving on {url_host}:{port}, not only on this computer's "
              "loopback address: other machines that can reach it may try the token",
              file=sys.stderr, flush=True)
    token = secrets.token_urlsafe(32)
    worker = LibraryWorker(library)
    app = create_app(worker, token=token, hosts=allowed_hosts(port, [url_host]))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                            loop="asyncio", timeout_graceful_shutdown=STOP_GRACE_S,
                            server_header=False)
    url = f"http://{url_host}:{port}"
    write_discovery(library.data_dir, url, token)
    print(f"pictor: serving {url} (token in {library.data_dir / 'api.json'}); Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        asyncio.run(_Server(config).serve(sockets=[sock]))
    finally:
        remove_discovery(library.data_dir)
        sock.close()
        worker.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot serve on {host}:{port}: {error.strerror}") from error
    sock.set_inheritable(True)
    return sock


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
