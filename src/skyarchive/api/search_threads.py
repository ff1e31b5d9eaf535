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

On SQLite a search is first tried on the event loop itself, within a budget of
``settings.search_on_loop_ms`` (:meth:`SearchThreads.run_short`, :mod:`skyarchive.loop_budget`):
a short search is spared the hand-off and the GIL passed between its thread and the loop. One
that outgrows the budget is stopped, thrown away and run in a thread; so are the next few of the
same service, whose searches have lately been too long for the loop (the time spent on a try
that fails is then paid once in :data:`THREADED_AFTER_OVERRUN` + 1 searches, not by each), and
every search that comes while the threads are searching: a search on the loop would then wait
for the GIL at each of its SQLite steps, and the loop with it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from skyarchive import loop_budget

T = TypeVar("T")

#: Searches of a service sent straight to the threads after one outgrew its budget on the loop.
THREADED_AFTER_OVERRUN = 32
#: Services whose overruns are remembered at once (their names come from the requests).
_MOST_SERVICES_REMEMBERED = 256


class SearchThreads:
    """``count`` threads, made as they are first needed, for one app's uncached searches.

    The threads end once the app (and with it this object) is gone, as a
    :class:`~concurrent.futures.ThreadPoolExecutor`'s do.
    """

    def __init__(self, count: int, *, loop_budget_ms: float = 0.0) -> None:
        """``loop_budget_ms``: how long :meth:`run_short` may try a search on the loop (0: never
        there, always in a thread)."""
        self.count = count
        self.loop_budget_ms = loop_budget_ms
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="skyarchive-search")
        self._threaded: dict[str, int] = {}  # service -> searches still to send to the threads
        self._lock = threading.Lock()
        self._busy = 0  # searches handed to the threads and not yet ended (or dropped)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the threads, awaited on the running event loop."""
        with self._lock:
            self._busy += 1
        future = self._pool.submit(function, *args)
        future.add_done_callback(self._ended)  # run, failed, or dropped before it started
        return await asyncio.wrap_future(future)

    def _ended(self, _future: Future) -> None:
        with self._lock:
            self._busy -= 1

    async def run_short(
        self, service: str, on_loop: Callable[[], T], in_thread: Callable[[], T]
    ) -> T:
        """A search of ``service``: ``on_loop()`` on the event loop within the loop budget, or,
        when it outgrows it (or its service's searches lately did), ``in_thread()`` on one of
        the threads. The two compute the same answer, each with the resources of its place
        (the loop's own engine, say); ``on_loop`` must only read, as it may be run for nothing.
        """
        left = self._threaded.get(service, 0)
        if left:
            self._threaded[service] = left - 1
        # Not while the threads search: SQLite's steps let go of the GIL, which a thread would
        # then hold for up to the interpreter's switch interval each time, and the loop with it.
        if self.loop_budget_ms <= 0 or left or self._busy:
            return await self.run(in_thread)
        budget = None
        try:
            with loop_budget.spending(self.loop_budget_ms / 1000) as budget:
                answer = on_loop()
        except BaseException:
            # an error raised by a statement the budget stopped is not the search's own
            if budget is None or not budget.interrupted:
                raise
        else:
            if not budget.interrupted:
                return answer
        if len(self._threaded) >= _MOST_SERVICES_REMEMBERED:  # names come from requests
            self._threaded.clear()
        self._threaded[service] = THREADED_AFTER_OVERRUN
        return await self.run(in_thread)
