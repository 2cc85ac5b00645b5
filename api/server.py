"""The API on a socket of its own, until stopped: ``serve``'s main thread (Ctrl-C or SIGTERM
stop it) or a background thread of the window's process (its ``stop()``).

uvicorn (a well-kept ASGI server, FastAPI's own choice) runs the app on one asyncio loop
in one process: the library, its model and its index are held once, by their owner's
thread (api.worker). The socket is bound and listening before api.json names it, so a
client that reads the file can connect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType

import uvicorn

from api.discovery import (
    AlreadyServing,
    discovery_path,
    live_instance,
    remove_discovery,
    write_discovery,
)
from api.guard import allowed_hosts
from api.routes import Indexing, create_app
from api.worker import LibraryWorker
from core.errors import UsageError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 3
"""Seconds a stop waits for requests in flight before it cancels them."""


class _Server(uvicorn.Server):
    """uvicorn's server, but a signal only stops it (and tells ``on_signal``): uvicorn
    raises it again once stopped (so the process dies of it), while ``serve`` exits 0
    after a clean stop. Off the main thread it takes no signals at all."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.on_signal: Callable[[], None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self.on_signal is not None:
            self.on_signal()


class ApiServer:
    """The API of one library, bound to ``host:port`` (0: a free port) at once; answering
    and named in ``<data folder>/api.json`` while :meth:`run` runs.

    Raises AlreadyServing when a live instance answers for the data folder already, and
    UsageError when the address cannot be bound."""

    def __init__(self, worker: LibraryWorker, data_dir: Path, *, host: str = LOOPBACK,
                 port: int = 0, indexing: Indexing = lambda: None) -> None:
        running = live_instance(data_dir)
        if running is not None:
            raise AlreadyServing(running[0])
        self.data_dir = data_dir
        self._sock = _listen(host, port)
        port = self._sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{port}"
        self.token = secrets.token_urlsafe(32)
        self.loopback = _is_loopback(host)
        app = create_app(worker, token=self.token, hosts=allowed_hosts(port, [url_host]),
                         indexing=indexing)
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                loop="asyncio", timeout_graceful_shutdown=STOP_GRACE_S,
                                server_header=False)
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def discovery(self) -> Path:
        return discovery_path(self.data_dir)

    def run(self, *, on_signal: Callable[[], None] | None = None) -> None:
        """Answer until :meth:`stop` (or, on the main thread, SIGINT or SIGTERM, which
        also call ``on_signal``); api.json names this server meanwhile."""
        if on_signal is not None:
            self._server.on_signal = on_signal
        try:
            write_discovery(self.data_dir, self.url, self.token, exclusive=True)
        except BaseException:
            self._sock.close()
            raise
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        finally:
            remove_discovery(self.data_dir)
            self._sock.close()

    def start(self) -> None:
        """:meth:`run` on a thread of its own, returning once api.json names it (raises
        what :meth:`run` raised before it could)."""
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self.run()
            except BaseException as error:
                failed.append(error)
                if self._server.started:  # else start() raises it to its caller
                    log.exception("the local API stopped")

        self._thread = threading.Thread(target=run, name="pictor-api", daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.01)
        if failed:
            raise failed[0]

    def stop(self, *, wait: bool = True) -> None:
        """Stop answering (from any thread): api.json goes, requests in flight get up to
        STOP_GRACE_S to finish. ``wait``: return once stopped (the thread of start())."""
        self._server.should_exit = True
        if wait and self._thread is not None:
            self._thread.join()


def warn_if_exposed(server: ApiServer) -> str | None:
    """The warning to give when the server answers more than this computer."""
    if server.loopback:
        return None
    return (f"serving on {server.url}, not only on this computer's loopback address: "
            "other machines that can reach it may try the token")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off only on sockets that say TCP, and
    # with it on, a kept-alive client waited 40 ms (a delayed ACK) for every answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
