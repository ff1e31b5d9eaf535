"""The few threads a server process runs its uncached searches on.

A search is blocking work (SQL, the exact footprint test, rows to JSON), so it leaves the event
loop; but the hand-off itself is paid by every search. anyio's ``to_thread.run_sync`` costs
~0.19 ms of the process's CPU a call under 16 connections on this project's benchmark machine
(a cancel scope, a capacity limiter, a worker-thread queue per call), as much as the framework's
whole request; the event loop's own ``run_in_executor`` over a standard thread pool costs
~0.06 ms (docs/performance.md, issue 20's eighth pass).

The pool also bounds the searches that run at once: more wait in its queue, in the order they
came, as with a capacity limiter. A search that has not started when its request is cancelled
is dropped; one that has started runs to its end (its connection goes back to the pool) and its
answer is discarded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class SearchThreads:
    """``count`` threads, made as they are first needed, for one app's uncached searches.

    The threads end once the app (and with it this object) is gone, as a
    :class:`~concurrent.futures.ThreadPoolExecutor`'s do.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="skyarchive-search")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the threads, awaited on the running event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
