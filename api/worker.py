"""The one thread that talks to the library: it is not thread-safe, so every request's
library call queues there (core's one-writer habit) while the event loop keeps accepting.

That thread is the library owner's: ``serve --no-watch`` has a thread of its own for it;
``serve`` hands each call to its folder watcher, which runs it at once when idle and
between two batches of an index run otherwise; the window hands it to its engine's writer,
between two steps of its jobs. A call whose request is gone (the client hung up and the
server cancelled it) is skipped; one still waiting when the server stops is answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.exceptions import HTTPException

if TYPE_CHECKING:
    from core.library import Library

T = TypeVar("T")
Submit = Callable[[Callable[[], None]], None]
"""Runs a function on the library's thread, in the order given."""
STOPPING = "Pictor is stopping: ask again once it runs"
NOT_OPEN = "the library is not open yet: ask again in a moment"


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

    async def run(self, call: Callable[[Library], T]) -> T:
        """``call(library)`` on the library's thread, awaited without blocking the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        entry = (loop, future)

        def job() -> None:
            if future.done():  # cancelled: its client is gone
                return
            try:
                library = self._library()
                if library is None:
                    raise HTTPException(503, NOT_OPEN)
                result: Any = call(library)
            except Exception as error:
                _settle(loop, future, error=error)
            else:
                _settle(loop, future, result=result)

        with self._lock:
            if self._closed:
                raise HTTPException(503, STOPPING)
            self._waiting.add(entry)
        try:
            self._submit(job)
            return await future
        finally:
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
