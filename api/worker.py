"""The one thread that talks to the library: it is not thread-safe, so every request's
library call queues there (core's one-writer habit) while the event loop keeps accepting.

That thread is the library owner's: ``serve --no-watch`` has a thread of its own for it;
``serve`` hands each call to its folder watcher, which runs it at once when idle and
between two batches of an index run otherwise; the window hands it to its engine's writer,
between two steps of its jobs. A call whose client has hung up before its turn is skipped
(a client that sends a search and leaves, again and again, must not fill the library's
queue with work nobody reads); one still waiting when the server stops is answered 503.

A request runs its model on one torch thread (``threads``), then gives the index run its
threads back: a query's text is too small to share out, and on two busy cores the second
thread only waits for CPU time. With the toy model on this 2-core machine, while other
work kept both cores busy (load 4.3), one query text took a median of 1.7 ms and 10 ms at
the 95th percentile on one thread, 10-16 ms and 130-150 ms on two.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import Receive

from core.models.hardware import torch_threads

if TYPE_CHECKING:
    from core.library import Library

T = TypeVar("T")
Submit = Callable[[Callable[[], None]], None]
"""Runs a function on the library's thread, in the order given."""
STOPPING = "Pictor is stopping: ask again once it runs"
NOT_OPEN = "the library is not open yet: ask again in a moment"
GONE = 499
"""The status of an answer skipped because its client left (nginx's; nobody reads it)."""


class LibraryWorker:
    def __init__(self, library: Library | Callable[[], Library | None], *,
                 submit: Submit | None = None) -> None:
        """``library``: the library, or a function that gives the one open now (None while
        none is, on its thread). ``submit``: the owner's thread; None: one of its own."""
        self._library = library if callable(library) else (lambda: library)
        self._pool = None if submit is not None else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pictor-library")
        self._submit: Submit = submit or self._on_own_thread
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = set()
        self._closed = False

    def _on_own_thread(self, job: Callable[[], None]) -> None:
        assert self._pool is not None
        with contextlib.suppress(RuntimeError):  # shut down: close() answers the request
            self._pool.submit(job)

    async def run(self, call: Callable[[Library], T], *, threads: int | None = 1,
                  gone: Awaitable[object] | None = None) -> T:
        """``call(library)`` on the library's thread, awaited without blocking the loop,
        with torch on ``threads`` threads (None: as they are, for heavy work). ``gone``
        completes when the client hangs up: the call is skipped if it has not begun."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        entry = (loop, future)
        left = threading.Event()
        listener = None if gone is None else asyncio.ensure_future(gone)
        if listener is not None:
            listener.add_done_callback(lambda _: left.set())

        def job() -> None:
            if future.done():  # answered already (the server is stopping)
                return
            if left.is_set():
                _settle(loop, future, error=HTTPException(GONE, "the client has gone"))
                return
            try:
                library = self._library()
                if library is None:
                    raise HTTPException(503, NOT_OPEN)
                with torch_threads(threads):
                    result: Any = call(library)
            except Exception as error:
                _settle(loop, future, error=error)
            else:
                _settle(loop, future, result=result)

        try:
            with self._lock:
                if self._closed:
                    raise HTTPException(503, STOPPING)
                self._waiting.add(entry)
            self._submit(job)
            return await future
        finally:
            if listener is not None:
                listener.cancel()
            with self._lock:
                self._waiting.discard(entry)

    def close(self) -> None:
        """Refuse new calls, answer the waiting ones 503, and wait for the one running
        on a thread of its own (a search: a second at most)."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = list(self._waiting), set()
        for loop, future in waiting:
            _settle(loop, future, error=HTTPException(503, STOPPING))
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


async def disconnected(receive: Receive) -> None:
    """Returns once the client has hung up (or its answer is sent): what the server hands
    the app after a request's body says so."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], *,
            result: Any = None, error: BaseException | None = None) -> None:
    """Give ``future`` its outcome on its loop's thread (from any thread), once."""
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
        loop.call_soon_threadsafe(settle)
