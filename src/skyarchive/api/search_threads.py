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

A search is first tried on the event loop itself, within a budget of
``Archive.search_on_loop_ms`` (:meth:`SearchThreads.run_short`, :mod:`skyarchive.loop_budget`):
a short search is spared the hand-off and the GIL passed between its thread and the loop (on
PostgreSQL, where the budget is off by default, the loop waits for its statements meanwhile,
each stopped by the database at the budget: ``Archive.loop_search_engine``). One
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

The loop's thread and each search thread keep a connection from one search to the next
(``db/kept_connections.py``): taking one from the pool and giving it back cost more than a
short search's statements. A search that holds its connection past its return (an answer
streamed to its client) takes it over (:func:`take_over`), and its thread keeps another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from skyarchive import loop_budget

T = TypeVar("T")

logger = logging.getLogger(__name__)

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
        loop_connections: Lender | None = None,
        thread_connections: Lender | None = None,
    ) -> None:
        """``loop_budget_ms``: how long :meth:`run_short` may try a search on the loop (0: never
        there, always in a thread). ``loop_connections``: what it searches on there (the
        connection the loop's thread keeps of the archive's engine for that thread alone,
        whose statements a spent budget stops). ``thread_connections``: the connection each
        search thread keeps for :meth:`run_search` (none: each search opens its own)."""
        self.count = count
        self.loop_budget_ms = loop_budget_ms
        self._loop_connections = loop_connections
        self._thread_connections = thread_connections
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="skyarchive-search")
        self._threaded: dict[str, int] = {}  # service -> searches still to send to the threads
        self._overruns: dict[str, int] = {}  # service -> its tries stopped on the loop in a row
        self._in_threads = 0  # searches handed to the threads and not yet back (on the loop)
        self._told_loop_unusable = False

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

    async def run_search(self, search: Callable[[Connection | None], T]) -> T:
        """``search(conn)`` on one of the threads, ``conn`` the connection that thread keeps
        (``thread_connections``), which the search leaves open unless it takes it over
        (:func:`take_over`); ``search(None)`` without them (the search opens its own)."""
        return await self.run(self._search_on_lent, search)

    def _search_on_lent(self, search: Callable[[Connection | None], T]) -> T:
        lender = self._thread_connections
        if lender is None:
            return search(None)
        loan = _Loan(lender.lend())
        lent = _LOAN.set(loan)
        try:
            answer = search(loan.conn)
        except BaseException:
            if not loan.taken:  # whatever state the error left it in is not the next search's
                lender.give_up(loan.conn)
            raise
        finally:
            _LOAN.reset(lent)
        if not loan.taken:
            lender.give_back(loan.conn)
        return answer

    async def run_short(self, service: str, search: Callable[[Connection | None], T]) -> T:
        """A search of ``service``: ``search(conn)`` on the event loop with the connection the
        loop's thread keeps (``loop_connections``; the search leaves it open), within the loop
        budget, or, when it outgrows it (or its service's searches lately did), on one of the
        threads (:meth:`run_search`). ``search`` must only read, as its try on the loop may be
        run for nothing.
        """
        left = self._threaded.get(service, 0)
        if self.loop_budget_ms <= 0 or left:
            if left:
                self._threaded[service] = left - 1
            return await self.run_search(search)
        seconds = self.loop_budget_ms / 1000
        if self._in_threads:
            seconds *= CONTENDED_BUDGET
        lender = self._loop_connections
        assert lender is not None, "a loop budget needs the loop's connections"
        try:
            conn = lender.lend()
        except Exception as exc:  # noqa: BLE001 (whatever it is, the threads meet it too)
            # No connection for the loop (the database out of reach, a PostgreSQL connection
            # refused as the budget's timeout did not reach it): the threads search, and
            # report the error if it is theirs as well; the next searches go there at once.
            self._note_loop_unusable(exc)
            self._send_next_to_threads(service)
            return await self.run_search(search)
        with loop_budget.spending(seconds) as budget:
            try:
                answer = search(conn)
            except BaseException:
                lender.give_up(conn)  # whatever state the error left it in is not the next's
                if not budget.interrupted:  # the search's own error, not a stopped statement's
                    raise
            else:
                lender.give_back(conn)  # ending any transaction a statement SQLAlchemy ran began
        if not budget.interrupted:
            self._overruns.pop(service, None)
            return answer
        self._send_next_to_threads(service)
        return await self.run_search(search)

    def _send_next_to_threads(self, service: str) -> None:
        """After a try of ``service`` on the loop came to nothing: its next
        :data:`THREADED_AFTER_OVERRUN` searches go straight to the threads, twice as many after
        each such try in a row."""
        if len(self._overruns) >= _MOST_SERVICES_REMEMBERED:  # names come from requests
            self._threaded.clear()
            self._overruns.clear()
        in_a_row = self._overruns.get(service, 0)
        self._overruns[service] = in_a_row + 1
        sent_on = THREADED_AFTER_OVERRUN << min(in_a_row, 16)  # no huge shift: capped below
        self._threaded[service] = min(sent_on, THREADED_AT_MOST)

    def _note_loop_unusable(self, exc: Exception) -> None:
        """Log, once per app, why the loop had no connection to search on."""
        if not self._told_loop_unusable:
            self._told_loop_unusable = True
            logger.warning("searches go to the threads: no connection for the event loop (%s)",
                           exc)  # fmt: skip

    def close(self) -> None:
        """Give the connections the loop's thread and the search threads keep back to their
        pools (the next search takes another), when the app stops."""
        for lender in (self._loop_connections, self._thread_connections):
            if lender is not None:
                lender.close()


class Lender(Protocol):
    """A connection kept by each thread that asks, from one search to the next
    (``db/kept_connections.KeptConnections``, made by the archive)."""

    def lend(self) -> Connection:
        """The calling thread's connection."""

    def give_back(self, conn: Connection) -> None:
        """Keep ``conn`` for the thread's next search."""

    def give_up(self, conn: Connection) -> None:
        """Close ``conn``: the thread's next search takes another."""

    def close(self) -> None:
        """Close every kept connection."""


@dataclass
class _Loan:
    conn: Connection
    taken: bool = False


#: The connection lent to the search running in this thread (:meth:`SearchThreads.run_search`).
_LOAN: ContextVar[_Loan | None] = ContextVar("skyarchive_lent_connection", default=None)


def take_over(conn: Connection) -> Callable[[], None]:
    """Make ``conn``, lent by a search thread to the search running in it, the search's own, to
    hold past its return (an answer streamed to its client reads its rows as it goes): the
    thread keeps another. Returns what closes it, for the search to call when done with it.

    Raises
    ------
    RuntimeError
        When ``conn`` is not lent by a search thread: the event loop's connection, never to be
        held past a search (a stream goes to the threads first: ``loop_budget.must_not_wait``).
    """
    loan = _LOAN.get()
    if loan is None or loan.conn is not conn or loan.taken:
        raise RuntimeError("only a connection a search thread lent can be taken over")
    loan.taken = True  # never given back: the thread's next search is lent another
    return conn.close


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """``callback()`` on ``loop``'s thread, from any thread; nothing once the loop is closed (the
    app is gone, and its counts with it)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
