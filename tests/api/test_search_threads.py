"""The uncached searches' threads: off the event loop, a bounded few at once, errors raised;
and a search tried on the loop first within its budget (run_short), else in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from skyarchive import loop_budget
from skyarchive.api.search_threads import (
    _MOST_SERVICES_REMEMBERED,
    CONTENDED_BUDGET,
    THREADED_AFTER_OVERRUN,
    THREADED_AT_MOST,
    SearchThreads,
    take_over,
)
from skyarchive.db.engine import make_loop_engine
from skyarchive.db.kept_connections import KeptConnections
from skyarchive.errors import BadQuery

T = TypeVar("T")


def test_a_search_runs_on_one_of_the_threads_not_the_loop() -> None:
    threads = SearchThreads(2)

    async def main() -> tuple[str, str]:
        loop_thread = threading.current_thread().name
        return loop_thread, await threads.run(lambda: threading.current_thread().name)

    loop_thread, search_thread = asyncio.run(main())
    assert search_thread != loop_thread
    assert search_thread.startswith("skyarchive-search")


def test_no_more_searches_run_at_once_than_there_are_threads() -> None:
    threads = SearchThreads(2)
    running = 0
    most = 0
    lock = threading.Lock()

    def search(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*(threads.run(search, n) for n in range(6)))

    assert asyncio.run(main()) == [n * n for n in range(6)]
    assert most == 2


def test_a_searchs_error_reaches_the_request() -> None:
    threads = SearchThreads(1)

    def failing() -> None:
        raise ValueError("bad criteria")

    with pytest.raises(ValueError, match="bad criteria"):
        asyncio.run(threads.run(failing))


def held_search(
    started: threading.Event, release: threading.Event, answer: str
) -> Callable[[], str]:
    """A search that tells it has started, then holds its thread until ``release`` is set."""

    def search() -> str:
        started.set()
        release.wait(10)
        return answer

    return search


def test_the_loop_stays_free_while_a_search_runs() -> None:
    threads = SearchThreads(1)
    started, release = threading.Event(), threading.Event()
    slow = held_search(started, release, "done")

    async def main() -> tuple[str, bool]:
        search = asyncio.ensure_future(threads.run(slow))
        while not started.is_set():
            await asyncio.sleep(0.001)
        ticked = False
        for _ in range(3):  # the loop still runs other work
            await asyncio.sleep(0)
            ticked = True
        release.set()
        return await search, ticked

    assert asyncio.run(main()) == ("done", True)


# --- run_short: a search tried on the event loop under its budget, else in a thread ---

BUDGET_MS = 1.0


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


#: The loop's engine the searches on the loop are given a connection of (in a thread, none).
LOOP_ENGINE = make_loop_engine("sqlite://")


def short_searches(budget_ms: float = BUDGET_MS) -> SearchThreads:
    return SearchThreads(1, loop_budget_ms=budget_ms,
                         loop_connections=KeptConnections(LOOP_ENGINE))  # fmt: skip


class Places:
    """A search noting where each of its runs was (the thread, and the connection it was
    given: the loop's, or none in a thread)."""

    def __init__(self, on_loop: Callable[[], str] = lambda: "short") -> None:
        self.loop_runs: list[str] = []
        self.thread_runs: list[str] = []
        self._on_loop = on_loop

    def search(self, conn: Connection | None) -> str:
        if conn is not None:
            assert conn.engine.pool is LOOP_ENGINE.pool
            self.loop_runs.append(threading.current_thread().name)
            return self._on_loop()
        self.thread_runs.append(threading.current_thread().name)
        return "from a thread"


def overrun() -> str:
    burn(5 * BUDGET_MS / 1000)
    loop_budget.check()
    return "never answered"


def run_on_a_loop(work: Callable[[], Awaitable[T]]) -> tuple[T, str]:
    """``work()`` awaited on a fresh event loop, and the name of the loop's thread."""

    async def main() -> tuple[T, str]:
        return await work(), threading.current_thread().name

    return asyncio.run(main())


def test_a_short_search_runs_on_the_loop_and_never_in_a_thread() -> None:
    threads = short_searches()
    places = Places()
    answer, loop_thread = run_on_a_loop(lambda: threads.run_short("Mast.Caom.Cone", places.search))
    assert answer == "short"
    assert places.loop_runs == [loop_thread] and places.thread_runs == []


def test_a_search_over_its_budget_runs_again_in_a_thread_as_do_the_next_of_its_service() -> None:
    threads = short_searches()
    long = Places(overrun)
    other = Places()

    async def searches() -> list[str]:
        answers = [await threads.run_short("cone", long.search)]
        for _ in range(THREADED_AFTER_OVERRUN):
            answers.append(await threads.run_short("cone", long.search))
            # another service's searches are still tried on the loop meanwhile
            answers.append(await threads.run_short("lookup", other.search))
        return answers

    answers, loop_thread = run_on_a_loop(searches)
    assert answers[0] == "from a thread"
    assert answers[1::2] == ["from a thread"] * THREADED_AFTER_OVERRUN
    assert answers[2::2] == ["short"] * THREADED_AFTER_OVERRUN
    assert long.loop_runs == [loop_thread]  # tried once, then straight to the threads
    assert len(long.thread_runs) == THREADED_AFTER_OVERRUN + 1
    assert all(name.startswith("skyarchive-search") for name in long.thread_runs)
    assert other.loop_runs == [loop_thread] * THREADED_AFTER_OVERRUN and other.thread_runs == []

    # the next one is tried on the loop again, where it now fits
    short_again = Places()
    answer, loop_thread = run_on_a_loop(lambda: threads.run_short("cone", short_again.search))
    assert answer == "short"
    assert short_again.loop_runs == [loop_thread] and short_again.thread_runs == []


def test_a_searchs_own_error_on_the_loop_reaches_the_request_with_no_second_run() -> None:
    threads = short_searches()

    def bad_criteria() -> str:
        raise BadQuery("Unknown column 'instrumnt_name'")

    places = Places(bad_criteria)
    with pytest.raises(BadQuery, match="instrumnt_name"):
        run_on_a_loop(lambda: threads.run_short("filtered", places.search))
    assert len(places.loop_runs) == 1 and places.thread_runs == []
    # nor is its service sent to the threads: the error was the search's, not the budget's
    again = Places()
    run_on_a_loop(lambda: threads.run_short("filtered", again.search))
    assert len(again.loop_runs) == 1 and again.thread_runs == []


def on_the_loop(given: list[Connection], conn: Connection | None) -> Connection:
    """``conn``, the connection a search on the loop was given, noted in ``given``."""
    assert conn is not None  # a search in a thread is given none
    given.append(conn)
    return conn


#: A budget no search of these tests outgrows: their first statement, compiled then, may
#: take more than :data:`BUDGET_MS`.
AMPLE_MS = 10_000.0


def test_the_searches_on_the_loop_share_one_connection_kept_open_between_them() -> None:
    threads = short_searches(AMPLE_MS)
    given: list[Connection] = []

    def search(conn: Connection | None) -> int:
        return (
            on_the_loop(given, conn).execute(text("SELECT 41 + 1")).scalar_one()
        )  # begins SQLAlchemy's transaction

    async def two_searches() -> list[int]:
        return [await threads.run_short("count", search), await threads.run_short("cone", search)]

    answers, _loop = run_on_a_loop(two_searches)
    assert answers == [42, 42]
    kept = given[0]
    assert given == [kept, kept]
    assert not kept.closed and not kept.in_transaction()  # open, with the transaction ended
    threads.close()  # as the app stops
    assert kept.closed


def test_a_search_that_fails_on_the_loop_leaves_the_next_a_connection_of_its_own() -> None:
    threads = short_searches(AMPLE_MS)
    given: list[Connection] = []

    def failing(conn: Connection | None) -> str:
        on_the_loop(given, conn).execute(text("SELECT 1"))
        raise BadQuery("bad criteria")

    def fine(conn: Connection | None) -> str:
        on_the_loop(given, conn)
        return "answered"

    with pytest.raises(BadQuery):
        run_on_a_loop(lambda: threads.run_short("filtered", failing))
    assert given[0].closed  # whatever the error left it in is given back to the pool
    assert run_on_a_loop(lambda: threads.run_short("filtered", fine))[0] == "answered"
    assert given[1] is not given[0] and not given[1].closed
    threads.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_loop_engine(f"sqlite:///{tmp_path / 'budget.db'}")  # the loop's
    yield made
    made.dispose()


#: Minutes of SQLite's work, far past any budget.
TOO_LONG_A_STATEMENT = (
    "WITH RECURSIVE counter(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM counter "
    "WHERE x < 100000000) SELECT max(x) FROM counter"
)


def test_an_answer_built_on_an_interrupted_statement_is_thrown_away(engine: Engine) -> None:
    threads = short_searches()

    def swallowing() -> str:  # as code that takes a failed read for "nothing found"
        try:
            with engine.connect() as conn:
                conn.execute(text(TOO_LONG_A_STATEMENT))
        except OperationalError:
            return "nothing found"
        return "the count"

    places = Places(swallowing)
    answer, _loop_thread = run_on_a_loop(lambda: threads.run_short("cone", places.search))
    assert answer == "from a thread"
    assert len(places.loop_runs) == 1 and len(places.thread_runs) == 1


def test_an_error_raised_after_an_interrupted_statement_is_thrown_away(engine: Engine) -> None:
    threads = short_searches()

    def failing() -> str:  # as code that answers a failed read as the client's error
        try:
            with engine.connect() as conn:
                conn.execute(text(TOO_LONG_A_STATEMENT))
        except OperationalError as exc:
            raise BadQuery("the search failed") from exc
        return "the count"

    places = Places(failing)
    answer, _loop_thread = run_on_a_loop(lambda: threads.run_short("cone", places.search))
    assert answer == "from a thread"
    assert len(places.loop_runs) == 1 and len(places.thread_runs) == 1


def test_with_no_budget_every_search_runs_in_a_thread() -> None:
    threads = short_searches(0)
    places = Places()

    async def searches() -> list[str]:
        return [await threads.run_short("cone", places.search)
                for _ in range(3)]  # fmt: skip

    answers, _loop_thread = run_on_a_loop(searches)
    assert answers == ["from a thread"] * 3
    assert places.loop_runs == [] and len(places.thread_runs) == 3


def test_services_remembered_are_forgotten_past_a_bound() -> None:
    threads = short_searches()

    async def overrun_each(names: list[str]) -> None:
        for name in names:
            await threads.run_short(name, Places(overrun).search)

    names = [f"service {n}" for n in range(_MOST_SERVICES_REMEMBERED + 1)]
    run_on_a_loop(lambda: overrun_each(names))
    assert len(threads._threaded) <= _MOST_SERVICES_REMEMBERED
    first = Places()
    run_on_a_loop(lambda: threads.run_short(names[0], first.search))
    assert len(first.loop_runs) == 1  # forgotten: tried on the loop again


def test_a_service_stopped_again_and_again_is_tried_on_the_loop_ever_more_rarely() -> None:
    # a long search tried on the loop costs its budget for nothing, and meanwhile waits there
    # for the GIL the threads' searches hold: each stop in a row doubles the searches sent
    # straight to the threads, up to a bound; one that fits again resets it
    threads = short_searches()
    long = Places(overrun)

    async def tries_between(stops: int) -> list[int]:
        gaps, since = [], 0
        while len(gaps) < stops:
            before = len(long.loop_runs)
            await threads.run_short("products", long.search)
            since += 1
            if len(long.loop_runs) > before:
                gaps.append(since)
                since = 0
        return gaps

    gaps, _loop = run_on_a_loop(lambda: tries_between(4))
    expected = [THREADED_AFTER_OVERRUN << n for n in range(3)]
    assert gaps == [1, *(gap + 1 for gap in expected)]
    assert len(long.thread_runs) == sum(gaps)  # every search answered, from a thread

    # once it fits again the next stop sends only the first few to the threads
    fits = Places()
    while not fits.loop_runs:  # the searches still sent to the threads, then one that fits
        run_on_a_loop(lambda: threads.run_short("products", fits.search))
    run_on_a_loop(lambda: threads.run_short("products", long.search))
    assert threads._threaded["products"] == THREADED_AFTER_OVERRUN


def test_the_searches_sent_to_the_threads_after_stops_are_bounded() -> None:
    threads = short_searches()
    threads._overruns["products"] = 10**6  # stopped a million times in a row
    long = Places(overrun)
    run_on_a_loop(lambda: threads.run_short("products", long.search))
    assert threads._threaded["products"] == THREADED_AT_MOST


def test_a_try_while_the_threads_search_has_a_larger_budget() -> None:
    # the loop thread's CPU time for the same work grows while it passes the GIL to and fro
    # with a searching thread: a search that fits alone must not be stopped for it, else it
    # goes to the threads and keeps them busy
    threads = short_searches()
    spent = (1 + CONTENDED_BUDGET) / 2 * BUDGET_MS / 1000  # over a budget, within the larger

    def fitting_when_contended() -> str:
        burn(spent)
        loop_budget.check()
        return "short"

    alone = Places(fitting_when_contended)
    answer, _loop = run_on_a_loop(lambda: threads.run_short("keywords", alone.search))
    assert answer == "from a thread" and len(alone.loop_runs) == 1  # stopped: threads idle

    threads = short_searches()
    release = threading.Event()
    beside = Places(fitting_when_contended)

    async def while_a_thread_searches() -> str:
        held = asyncio.ensure_future(threads.run(release.wait, 10))
        await asyncio.sleep(0.01)  # the thread's search has begun
        try:
            return await threads.run_short("keywords", beside.search)
        finally:
            release.set()
            await held

    answer, loop_thread = run_on_a_loop(while_a_thread_searches)
    assert answer == "short" and beside.loop_runs == [loop_thread] and beside.thread_runs == []


def test_a_cancelled_requests_search_still_counts_while_its_thread_runs_it() -> None:
    # a client gone does not stop a search begun on a thread: the loop's tries beside it are
    # contended as before, and the count comes back only when that search ends
    threads = short_searches()
    spent = (1 + CONTENDED_BUDGET) / 2 * BUDGET_MS / 1000  # over a budget, within the larger
    begun, release = threading.Event(), threading.Event()
    held = held_search(begun, release, "late")

    def fitting_when_contended() -> str:
        burn(spent)
        loop_budget.check()
        return "short"

    beside, after = Places(fitting_when_contended), Places(fitting_when_contended)

    async def after_a_cancelled_request() -> tuple[str, str]:
        request = asyncio.ensure_future(threads.run(held))
        while not begun.is_set():
            await asyncio.sleep(0.001)
        request.cancel()  # the client went away; its search runs on in the thread
        with pytest.raises(asyncio.CancelledError):
            await request
        contended = await threads.run_short("keywords", beside.search)
        release.set()
        while threads._in_threads:  # the thread's search ends, and is counted back
            await asyncio.sleep(0.001)
        return contended, await threads.run_short("criteria", after.search)

    (contended, alone), loop_thread = run_on_a_loop(after_a_cancelled_request)
    assert contended == "short" and beside.loop_runs == [loop_thread]
    assert alone == "from a thread" and after.loop_runs == [loop_thread]  # idle: one budget


# --- run_search: a search on a thread, on the connection that thread keeps ---


def kept_on_threads(engine: Engine, count: int = 1) -> SearchThreads:
    return SearchThreads(count, thread_connections=KeptConnections(engine))


def in_a_thread(given: list[Connection], conn: Connection | None) -> Connection:
    """``conn``, the connection a search on a thread was given, noted in ``given``."""
    assert conn is not None
    assert threading.current_thread().name.startswith("skyarchive-search")
    given.append(conn)
    return conn


def test_the_searches_on_a_thread_share_its_connection_kept_open_between_them(
    engine: Engine,
) -> None:
    threads = kept_on_threads(engine)
    given: list[Connection] = []

    def search(conn: Connection | None) -> int:
        # begins SQLAlchemy's transaction, ended as the connection is given back
        return in_a_thread(given, conn).execute(text("SELECT 41 + 1")).scalar_one()

    async def two_searches() -> list[int]:
        return [await threads.run_search(search), await threads.run_search(search)]

    assert run_on_a_loop(two_searches)[0] == [42, 42]
    kept = given[0]
    assert given == [kept, kept]
    assert not kept.closed and not kept.in_transaction()
    threads.close()  # as the app stops
    assert kept.closed


def test_a_search_that_fails_on_a_thread_leaves_the_next_a_connection_of_its_own(
    engine: Engine,
) -> None:
    threads = kept_on_threads(engine)
    given: list[Connection] = []

    def failing(conn: Connection | None) -> str:
        in_a_thread(given, conn).execute(text("SELECT 1"))
        raise BadQuery("bad criteria")

    with pytest.raises(BadQuery):
        run_on_a_loop(lambda: threads.run_search(failing))
    assert given[0].closed  # whatever the error left it in is given back to the pool
    assert run_on_a_loop(lambda: threads.run_search(lambda conn: in_a_thread(given, conn)))
    assert given[1] is not given[0] and not given[1].closed
    threads.close()


def test_a_search_that_takes_its_connection_over_holds_it_and_the_thread_keeps_another(
    engine: Engine,
) -> None:
    threads = kept_on_threads(engine)
    given: list[Connection] = []

    def streamed(conn: Connection | None) -> Callable[[], None]:
        return take_over(in_a_thread(given, conn))  # as an answer streamed to its client

    async def stream_then_search() -> Callable[[], None]:
        close = await threads.run_search(streamed)
        await threads.run_search(lambda conn: in_a_thread(given, conn))
        return close

    close, _loop = run_on_a_loop(stream_then_search)
    stream, after = given
    assert after is not stream and not stream.closed  # the stream's until it ends
    threads.close()
    assert after.closed and not stream.closed
    close()  # the stream ended
    assert stream.closed


def test_only_a_connection_a_search_thread_lent_can_be_taken_over(engine: Engine) -> None:
    threads = SearchThreads(1, loop_budget_ms=AMPLE_MS,
                            loop_connections=KeptConnections(LOOP_ENGINE))  # fmt: skip
    with pytest.raises(RuntimeError, match="only a connection a search thread lent"):
        run_on_a_loop(lambda: threads.run_short("cone", take_over))  # the loop's: never held
    with engine.connect() as own, pytest.raises(RuntimeError):
        take_over(own)
    threads.close()
