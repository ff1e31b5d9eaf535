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
same service, whose searches have lately been too long for the loop: :data:`THREADED_AFTER_OVERRUN`
after one stopped, twice as many after each stopped again in a row (up to
:data:`THREADED_AT_MOST`). So the time a stopped try costs is paid once in many searches of a
service that never fits (a long product list: its tries on the loop would also wait there for
the GIL its threads hold), while one stopped now and then (a cold first search, one just over
the budget) is soon tried on the loop again, however busy the threads are. A try while the
threads search has :data:`CONTENDED_BUDGET` budgets: the GIL passed to and fro inflates the loop
thread's CPU time, which would otherwise send a search that fits to the threads and keep it
there as long as the load lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from skyarchive import loop_budget

T = TypeVar("T")

#: Searches of a service sent straight to the threads after one outgrew its budget on the loop
#: (doubled after each overrun in a row, up to :data:`THREADED_AT_MOST`).
THREADED_AFTER_OVERRUN = 32
THREADED_AT_MOST = 4096
#: The budget of a try on the loop while searches run in the threads, in budgets. The loop
#: thread's CPU time for the same work grows about threefold while it passes the GIL to and fro
#: with a thread running Python (a keyword query: 1.4-1.9 ms alone, 4.5 ms beside a
#: thread counting in Python), so a search that fits the budget would be stopped whenever the
#: threads are busy, and sent there, keeping them busy: the search that fits would stay on the
#: threads as long as the load lasts.
CONTENDED_BUDGET = 3
#: Services whose overruns are remembered at once (their names come from the requests).
_MOST_SERVICES_REMEMBERED = 256


class SearchThreads:
    """``count`` threads, made as they are first needed, for one app's uncached searches.

    The threads end once the app (and with it this object) is gone, as a
    :class:`~concurrent.futures.ThreadPoolExecutor`'s do.
    """

    def __init__(
        self,
        count: int,
        *,
        loop_budget_ms: float = 0.0,
        loop_engine: Engine | None = None,
    ) -> None:
        """``loop_budget_ms``: how long :meth:`run_short` may try a search on the loop (0: never
        there, always in a thread). ``loop_engine``: what it searches on there (the archive's
        engine for the loop thread alone, whose statements a spent budget stops)."""
        self.count = count
        self.loop_budget_ms = loop_budget_ms
        self._loop_engine = loop_engine
        self._loop_conn: Connection | None = None  # kept from one search on the loop to the next
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="skyarchive-search")
        self._threaded: dict[str, int] = {}  # service -> searches still to send to the threads
        self._overruns: dict[str, int] = {}  # service -> its tries stopped on the loop in a row
        self._in_threads = 0  # searches handed to the threads and not yet back (on the loop)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the threads, awaited on the running event loop."""
        loop = asyncio.get_running_loop()
        searching = self._pool.submit(function, *args)
        self._in_threads += 1
        # counted back when the search itself ends (or is dropped unstarted), not when its
        # request stops awaiting it: a cancelled request's search, once begun, runs on
        searching.add_done_callback(lambda _done: _on_loop(loop, self._back_from_a_thread))
        return await asyncio.wrap_future(searching, loop=loop)

    def _back_from_a_thread(self) -> None:
        self._in_threads -= 1

    async def run_short(self, service: str, search: Callable[[Connection | None], T]) -> T:
        """A search of ``service``: ``search(conn)`` on the event loop with the loop's
        connection (:meth:`_loop_connection`, which the search leaves open), within the loop
        budget, or, when it outgrows it (or its service's searches lately did), ``search(None)``
        on one of the threads (the search opens a connection of its own). ``search`` must only
        read, as its try on the loop may be run for nothing.
        """
        left = self._threaded.get(service, 0)
        if self.loop_budget_ms <= 0 or left:
            if left:
                self._threaded[service] = left - 1
            return await self.run(search, None)
        seconds = self.loop_budget_ms / 1000
        if self._in_threads:
            seconds *= CONTENDED_BUDGET
        conn = self._loop_connection()
        with loop_budget.spending(seconds) as budget:
            try:
                answer = search(conn)
            except BaseException:
                self.close()  # whatever state the error left it in is not the next search's
                if not budget.interrupted:  # the search's own error, not a stopped statement's
                    raise
            else:
                if conn.in_transaction():  # begun by a statement SQLAlchemy ran: ended here
                    conn.rollback()
        if not budget.interrupted:
            self._overruns.pop(service, None)
            return answer
        if len(self._overruns) >= _MOST_SERVICES_REMEMBERED:  # names come from requests
            self._threaded.clear()
            self._overruns.clear()
        in_a_row = self._overruns.get(service, 0)
        self._overruns[service] = in_a_row + 1
        sent_on = THREADED_AFTER_OVERRUN << min(in_a_row, 16)  # no huge shift: capped below
        self._threaded[service] = min(sent_on, THREADED_AT_MOST)
        return await self.run(search, None)

    def _loop_connection(self) -> Connection:
        """The loop engine's connection the searches on the loop share, one at a time, kept
        open from one to the next. Taking a pooled connection and giving it back cost a count
        or a criteria query searched on the loop about 30 µs of CPU in process, a quarter of
        the count's own work (docs/performance.md, the twenty-fourth pass): SQLAlchemy's
        connection object and what it sets up as it is first used, the pool's check-out and
        check-in and the rollback that resets it. Only the loop's thread uses it, one search
        at a time. Idle, it holds no snapshot: pysqlite begins a transaction only before a
        write, which this engine's connections refuse."""
        conn = self._loop_conn
        if conn is None or conn.closed or conn.invalidated:
            assert self._loop_engine is not None, "a loop budget needs the loop's engine"
            conn = self._loop_conn = self._loop_engine.connect()
        return conn

    def close(self) -> None:
        """Give the loop's connection back to its pool (the next search on the loop takes
        another): when the app stops, and after a search on the loop failed."""
        conn, self._loop_conn = self._loop_conn, None
        if conn is not None:
            conn.close()


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """``callback()`` on ``loop``'s thread, from any thread; nothing once the loop is closed (the
    app is gone, and its counts with it)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
