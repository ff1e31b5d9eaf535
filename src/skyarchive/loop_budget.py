"""Work tried on the event loop's own thread under a time budget, and moved to a worker thread
when it outgrows it.

On SQLite a search is all CPU work of this very process: its statements run in the process,
like the Python that turns their rows into an answer. Handed to a worker thread, a short search
costs more than itself: the hand-off, and above all the GIL passed back and forth between the
worker and the event loop, which serves other requests meanwhile (docs/performance.md, issue 20's
twelfth pass). So a short search is first tried on the loop (``api/search_threads.py``), within
a budget of a millisecond or two; one that outgrows it is stopped and run again in a thread.
On PostgreSQL the hand-off costs the same, and a short search's statements take a fraction of a
millisecond of the database's time: with ``postgres_search_on_loop_ms`` set (off by default:
the loop serves no one while it waits) it is tried on the loop too (the thirty-third pass),
the loop waiting for its statements, each of which the database stops at the budget.

What stops it, all through this module's one budget (a context variable: the loop runs each
request in a task of its own):

* **its statements**: SQLite calls :func:`sqlite_progress` every :data:`SQLITE_STEPS` virtual
  machine steps of every statement on the loop's own engine (``db/engine.py``,
  ``make_loop_engine``); past the deadline it stops the statement, which raises
  "interrupted". PostgreSQL stops a statement of that engine's that runs longer than the
  budget itself (its ``statement_timeout``: the time the loop waits for it is no CPU of the
  loop's thread), and its cursor tells the budget (:func:`statement_stopped`). That engine's
  cursors also ask before each statement begins (:func:`statement_refused`), and fail the
  same way once the budget is spent or a statement was stopped, so work of many short
  statements stops between them;
* **its rows**: code whose work grows with its rows calls :func:`check` between them (or reads
  them through :func:`checked`);
* **a wait**: code about to wait for another thread or the network (a name index being read, an
  online resolver, a streamed answer) calls :func:`must_not_wait` first, since no deadline can
  cut a wait short.

Each of these marks the budget :attr:`Budget.interrupted`: whatever the work then answered, an
error or a result, is thrown away and it runs again in a thread. :class:`OverBudget` is a
``BaseException``, as asyncio's ``CancelledError`` is, so that no ``except Exception`` on the way
takes it for the search's own error. Outside a budget (a worker thread, the CLI) every check is
a context-variable read and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter, thread_time
from typing import TypeVar

T = TypeVar("T")

#: SQLite virtual machine steps between two looks at the deadline: 0.2-0.3 ms of a statement
#: here (60-100 million steps a second), so a statement outlives its budget by no more than
#: that, and a short search's statements (a few thousand steps) are never looked at. Each
#: look takes the GIL, which the statement let go of, and may wait for a thread holding it.
SQLITE_STEPS = 20_000
#: Rows between two looks at the deadline in :func:`checked`.
ROWS_PER_CHECK = 32


class OverBudget(BaseException):  # noqa: N818 (a signal, as CancelledError is, not an error)
    """The work outgrew its budget on the event loop: run it again in a worker thread."""


@dataclass
class Budget:
    """The deadline of work on the loop, in the loop thread's CPU time (``time.thread_time``),
    and whether it was stopped.

    CPU time, not the clock: when the search lets go of the GIL (SQLite does, in each step) a
    worker thread's search may take it for the switch interval (5 ms). That wait is not the
    search's work, and the loop would have waited for the GIL all the same; counted, it
    would stop searches that fit the budget and send them to the threads, which then make the
    next ones wait the more.

    The thread's CPU time is a system call to read (about 0.6 µs here; a short search read
    it four or five times, a product list forty), the clock a few dozen nanoseconds; and the
    CPU time a thread spends is never more than the clock's time meanwhile. So until the
    clock reaches ``clock_deadline`` the budget is known to be left without reading the CPU
    time."""

    deadline: float
    clock_deadline: float = 0.0
    interrupted: bool = False

    def spent(self) -> bool:
        """Whether the deadline has passed (the CPU time read only once the clock says it
        may have)."""
        return perf_counter() > self.clock_deadline and thread_time() > self.deadline


_current: ContextVar[Budget | None] = ContextVar("skyarchive_loop_budget", default=None)


@contextmanager
def spending(seconds: float) -> Iterator[Budget]:
    """Run the block under a budget of ``seconds`` from now; the :class:`Budget` it yields
    tells afterwards whether the block was stopped (and its outcome is to be thrown away)."""
    clock = perf_counter()  # read first: the CPU time from here on is within the clock's
    budget = Budget(thread_time() + seconds, clock + seconds)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def check() -> None:
    """Between steps of work that grows with its input: :class:`OverBudget` once the budget
    is spent (nothing outside a budget)."""
    budget = _current.get()
    if budget is not None and budget.spent():
        budget.interrupted = True
        raise OverBudget


def must_not_wait() -> None:
    """Before waiting for another thread or the network: :class:`OverBudget` under a budget,
    whatever is left of it (nothing outside a budget)."""
    budget = _current.get()
    if budget is not None:
        budget.interrupted = True
        raise OverBudget


def raise_if_interrupted() -> None:
    """:class:`OverBudget` if the budget stopped anything so far: before an answer is kept,
    in case a stopped statement's error was taken on the way for an empty or partial result."""
    budget = _current.get()
    if budget is not None and budget.interrupted:
        raise OverBudget


def checked(rows: Iterable[T]) -> Iterator[T]:
    """``rows``, with :func:`check` every :data:`ROWS_PER_CHECK` of them under a budget;
    outside one, or when ``rows`` is a list (nothing left to do to read it), ``rows``' own
    iterator.

    Reading part of it leaves the rest of ``rows`` to be read on (a stream's head, then the
    rest): it never closes ``rows`` (``yield from`` would, once the wrapper is dropped).
    """
    if isinstance(rows, list) or _current.get() is None:  # a list: read (made) already
        return iter(rows)
    return _checking(iter(rows))


def _checking(rows: Iterator[T]) -> Iterator[T]:
    for count, row in enumerate(rows):
        if count % ROWS_PER_CHECK == 0:
            check()
        yield row


def statement_refused() -> bool:
    """Before a statement begins on the loop's engine: whether it must not, as the budget is
    spent or one of the work's statements was stopped already (the budget is marked); never
    outside a budget."""
    budget = _current.get()
    if budget is not None and (budget.interrupted or budget.spent()):
        budget.interrupted = True
        return True
    return False


def statement_stopped() -> None:
    """The database stopped a statement on the loop's engine (PostgreSQL's
    ``statement_timeout``): the budget, if any, is marked, so that what the work makes of the
    error is thrown away and the work runs again in a thread."""
    budget = _current.get()
    if budget is not None:
        budget.interrupted = True


def sqlite_progress() -> int:
    """SQLite's progress handler: nonzero stops the running statement once a budget is spent
    (sqlite3 then raises ``OperationalError: interrupted``), by the rule a statement about to
    begin meets (:func:`statement_refused`)."""
    return 1 if statement_refused() else 0
