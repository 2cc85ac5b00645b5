"""The one thread that talks to the library: it is not thread-safe, so every request's
library call queues here (core's one-writer habit) while the event loop keeps accepting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from core.library import Library

T = TypeVar("T")


class LibraryWorker:
    def __init__(self, library: Library) -> None:
        self._library = library
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pictor-library")

    async def run(self, call: Callable[[Library], T]) -> T:
        """``call(library)`` on the library's thread, awaited without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call,
                                                                self._library)

    def close(self) -> None:
        """Drop queued calls and wait for the one running (a search: a second at most)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
