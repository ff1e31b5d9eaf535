"""The budget of work tried on the event loop (skyarchive.loop_budget): its checks stop work
only under a budget and only past it, SQLite's statements included, and each asyncio task has
a budget of its own."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from skyarchive import loop_budget
from skyarchive.db.engine import make_engine, make_loop_engine
from skyarchive.loop_budget import OverBudget


def count_to(n: int) -> str:
    """A statement whose VM steps grow with ``n`` and which answers ``n``."""
    return (
        "WITH RECURSIVE counter(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM counter "
        f"WHERE x < {n}) SELECT max(x) FROM counter"
    )


#: A count whose statement takes about 0.2 s: far beyond any budget, yet quick to run whole.
LONG_ENOUGH = 1_000_000


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine as the archive makes the event loop's (``Archive.loop_read_engine``), on a
    SQLite file of its own: its statements are stopped past a budget."""
    made = make_loop_engine(f"sqlite:///{tmp_path / 'budget.db'}")
    yield made
    made.dispose()


@pytest.fixture
def threads_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine as the archive makes the search threads', on a SQLite file of its own."""
    made = make_engine(f"sqlite:///{tmp_path / 'threads.db'}")
    yield made
    made.dispose()


def test_outside_a_budget_no_check_stops_anything() -> None:
    burn(0.01)
    loop_budget.check()
    loop_budget.must_not_wait()
    loop_budget.raise_if_interrupted()
    assert list(loop_budget.checked(range(100))) == list(range(100))
    assert loop_budget.sqlite_progress() == 0


def test_within_its_budget_work_goes_on_and_is_not_interrupted() -> None:
    with loop_budget.spending(10.0) as budget:
        loop_budget.check()
        loop_budget.raise_if_interrupted()
        assert list(loop_budget.checked(range(100))) == list(range(100))
        assert loop_budget.sqlite_progress() == 0
    assert not budget.interrupted


def test_within_the_clocks_budget_the_cpu_time_is_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a thread spends no more CPU time than the clock's: until the clock passes the budget,
    # the CPU time (a system call) need not be read; past it, it is
    reads: list[float] = []

    def counted_thread_time() -> float:
        reads.append(time.thread_time())
        return reads[-1]

    monkeypatch.setattr(loop_budget, "thread_time", counted_thread_time)
    with loop_budget.spending(60.0) as budget:
        for _ in range(10):
            loop_budget.check()
            assert loop_budget.sqlite_progress() == 0
        assert list(loop_budget.checked(range(100))) == list(range(100))
    assert len(reads) == 1 and not budget.interrupted  # the deadline's own reading only
    with pytest.raises(OverBudget), loop_budget.spending(0.001) as spent:
        burn(0.005)
        loop_budget.check()
    assert spent.interrupted and len(reads) > 2


def test_past_its_budget_check_raises_and_marks_the_budget_interrupted() -> None:
    with pytest.raises(OverBudget), loop_budget.spending(0.002) as budget:
        burn(0.005)
        loop_budget.check()
    assert budget.interrupted
    loop_budget.check()  # the budget ended with its block


def test_over_budget_is_not_taken_for_an_error_of_the_work() -> None:
    # code on the way that catches Exception (an error answered to the client) lets it pass
    assert not issubclass(OverBudget, Exception)
    with pytest.raises(OverBudget), loop_budget.spending(0.0):
        burn(0.001)
        try:
            loop_budget.check()
        except Exception:  # pragma: no cover - the point is that this is never reached
            pytest.fail("OverBudget was caught as an ordinary error")


def test_must_not_wait_raises_under_any_budget_however_much_is_left() -> None:
    with pytest.raises(OverBudget), loop_budget.spending(60.0) as budget:
        loop_budget.must_not_wait()
    assert budget.interrupted


def test_raise_if_interrupted_tells_a_swallowed_interruption() -> None:
    with loop_budget.spending(0.0) as budget:
        burn(0.001)
        assert loop_budget.sqlite_progress() == 1  # a statement stopped, its error swallowed
        assert budget.interrupted
        with pytest.raises(OverBudget):
            loop_budget.raise_if_interrupted()


def test_checked_looks_at_the_budget_every_few_rows() -> None:
    seen: list[int] = []

    def rows() -> Iterator[int]:
        for row in range(1000):
            seen.append(row)
            if row == 40:
                burn(0.005)  # the budget is spent here, at the 41st row
            yield row

    with pytest.raises(OverBudget), loop_budget.spending(0.002) as budget:
        for _ in loop_budget.checked(rows()):
            pass
    assert budget.interrupted
    # stopped at the next look: within ROWS_PER_CHECK rows of where the budget ran out
    assert 41 <= len(seen) <= 41 + loop_budget.ROWS_PER_CHECK


def test_a_long_statement_under_a_budget_is_interrupted_at_once(engine: Engine) -> None:
    with engine.connect() as conn:
        began = time.perf_counter()
        with pytest.raises(OperationalError, match="interrupted"), \
                loop_budget.spending(0.005) as budget:  # fmt: skip
            conn.execute(text(count_to(10**8)))  # minutes of work, unstopped
        took = time.perf_counter() - began
    assert budget.interrupted
    assert took < 1.0, f"the statement ran {took:.3f} s past a 5 ms budget"


def test_only_the_loops_engine_stops_its_statements(threads_engine: Engine) -> None:
    # SQLite calls a progress handler with the GIL, which a worker thread's statement has let
    # go of: the threads' engines have none, and run their statements whole
    with threads_engine.connect() as conn, loop_budget.spending(0.0) as budget:
        burn(0.001)
        assert conn.execute(text(count_to(LONG_ENOUGH))).scalar_one() == LONG_ENOUGH
    assert not budget.interrupted


def test_past_its_budget_no_statement_begins_and_the_connection_stays_usable(
    engine: Engine,
) -> None:
    # work of many short statements (a portal search's page, then its facets) is stopped
    # between them, though none is long enough for SQLite's progress handler
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        begun: list[int] = []
        raw.create_function("begun", 1, lambda n: begun.append(n) or n)  # type: ignore[union-attr]
        ran = conn.execute(text("SELECT begun(1)")).scalar_one()  # before the budget: begun
        with pytest.raises(OperationalError, match="interrupted"), \
                loop_budget.spending(0.0) as budget:  # fmt: skip
            burn(0.001)
            conn.execute(text("SELECT begun(2)"))
        assert budget.interrupted and begun == [1]
        # the connection is neither closed nor taken for a lost one: the next statement runs
        assert not conn.invalidated and conn.connection.dbapi_connection is raw
        assert (ran, conn.execute(text("SELECT begun(3)")).scalar_one()) == (1, 3)


def test_past_its_budget_no_statement_begins_on_the_drivers_cursor(engine: Engine) -> None:
    # the hot searches read on the driver's cursor itself (db/driver_rows.py), not through
    # SQLAlchemy's execution
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with pytest.raises(sqlite3.OperationalError, match="interrupted"), \
                loop_budget.spending(0.0) as budget:  # fmt: skip
            burn(0.001)
            cursor.execute("SELECT 2")
        assert budget.interrupted
        assert cursor.execute("SELECT 3").fetchone() == (3,)


def test_the_loops_engine_only_reads(engine: Engine) -> None:
    # it has no catalogue-write watch: a write through it would not move the generation on
    with engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.execute(text("CREATE TABLE written (x)"))
    assert not engine.dispatch.before_cursor_execute  # nothing listens to its statements


def test_the_threads_engine_begins_statements_whatever_the_budget(
    threads_engine: Engine,
) -> None:
    with threads_engine.connect() as conn, loop_budget.spending(0.0) as budget:
        burn(0.001)
        assert conn.execute(text("SELECT 2")).scalar_one() == 2
    assert not budget.interrupted


def test_a_short_statement_under_a_budget_completes(engine: Engine) -> None:
    with engine.connect() as conn, loop_budget.spending(0.005) as budget:
        assert conn.execute(text(count_to(10))).scalar_one() == 10
    assert not budget.interrupted


def test_a_long_statement_outside_a_budget_is_not_interrupted(engine: Engine) -> None:
    with engine.connect() as conn:
        began = time.thread_time()
        assert conn.execute(text(count_to(LONG_ENOUGH))).scalar_one() == LONG_ENOUGH
        spent = time.thread_time() - began
    # many times the budgets above (about 0.2 s): SQLite looked at the budget all along
    assert spent > 0.05, "the statement is too short to tell anything"


def test_each_task_has_its_budget_and_sees_no_others(engine: Engine) -> None:
    async def spent_at_once(entered: asyncio.Event, done: asyncio.Event) -> bool:
        with loop_budget.spending(0.0) as budget:
            burn(0.001)
            entered.set()
            await done.wait()  # the other task runs meanwhile, while this budget is spent
            with pytest.raises(OverBudget):
                loop_budget.check()
        return budget.interrupted

    async def without_a_budget(entered: asyncio.Event, done: asyncio.Event) -> int:
        await entered.wait()
        loop_budget.check()
        loop_budget.must_not_wait()
        with engine.connect() as conn:
            answer = conn.execute(text(count_to(LONG_ENOUGH))).scalar_one()
        with loop_budget.spending(60.0) as generous:
            loop_budget.check()
        assert not generous.interrupted
        done.set()
        return int(answer)

    async def main() -> tuple[bool, int]:
        entered, done = asyncio.Event(), asyncio.Event()
        interrupted, answer = await asyncio.gather(
            spent_at_once(entered, done), without_a_budget(entered, done)
        )
        return interrupted, answer

    assert asyncio.run(main()) == (True, LONG_ENOUGH)


def test_reading_part_of_the_checked_rows_leaves_the_rest_to_read() -> None:
    # a stream's head is read through checked(), the rest from the rows themselves: dropping
    # the wrapper must not close the rows (a generator's `yield from` would)
    def rows() -> Iterator[int]:
        yield from range(100)

    for budget_seconds in (None, 60.0):
        source = rows()
        with contextlib.ExitStack() as stack:
            if budget_seconds is not None:
                stack.enter_context(loop_budget.spending(budget_seconds))
            head = list(itertools.islice(loop_budget.checked(source), 10))
        gc.collect()
        assert head == list(range(10))
        assert list(source) == list(range(10, 100))
