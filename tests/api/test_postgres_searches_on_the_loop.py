"""Short searches tried on the event loop on PostgreSQL: the loop waits for their statements,
and the database stops each one that runs longer than the loop budget, so a search that does is
thrown away and answered from a thread; the answer cache's look-ups, on the loop's other
engine, are never stopped."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from skyarchive import loop_budget
from skyarchive.api.search_threads import SearchThreads
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.engine import make_engine, make_loop_engine
from skyarchive.db.kept_connections import KeptConnections

pytestmark = pytest.mark.postgres

#: The loop budget of these tests, and so the statement timeout of the loop's search engine.
BUDGET_MS = 50.0
#: A statement far longer than the budget (seconds of the database's time).
SLEEP_SECONDS = 2.0
SLEEPING = f"SELECT pg_sleep({SLEEP_SECONDS}), 'slept'"
#: CPU seconds no test's work on the loop comes near: only the database stops a statement.
AMPLE_SECONDS = 60.0


@pytest.fixture
def loop_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine as the archive makes the loop's searches' on PostgreSQL."""
    made = make_loop_engine(postgres_url, statement_ms=BUDGET_MS)
    yield made
    made.dispose()


@pytest.fixture
def threads_engine(postgres_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_url)
    yield made
    made.dispose()


def test_a_statement_longer_than_the_budget_is_stopped_and_marks_the_budget(
    loop_engine: Engine,
) -> None:
    with loop_engine.connect() as conn, loop_budget.spending(AMPLE_SECONDS) as budget:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            conn.execute(text(SLEEPING))
        waited = time.monotonic() - started
        assert budget.interrupted
        assert waited < SLEEP_SECONDS / 2  # the loop waited for the budget, not the statement
        # nothing more of the stopped work reaches the database
        with pytest.raises(OperationalError, match="not begun"):
            conn.execute(text("SELECT 1"))


def test_a_statement_within_the_budget_runs_and_marks_nothing(loop_engine: Engine) -> None:
    with loop_engine.connect() as conn, loop_budget.spending(AMPLE_SECONDS) as budget:
        assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
    assert not budget.interrupted


def test_the_timeout_outlives_the_connections_returns_to_its_pool(loop_engine: Engine) -> None:
    for _ in range(3):  # the pool's rollback as each comes back must not undo the setting
        with loop_engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "50ms"


def test_a_search_stopped_by_the_database_on_the_loop_is_answered_from_a_thread(
    loop_engine: Engine, threads_engine: Engine
) -> None:
    threads = SearchThreads(1, loop_budget_ms=BUDGET_MS,
                            loop_connections=KeptConnections(loop_engine),
                            thread_connections=KeptConnections(threads_engine))  # fmt: skip
    runs: list[str] = []

    def search(conn: Connection | None, sql: str) -> str:
        assert conn is not None
        runs.append(threading.current_thread().name)
        try:
            return str(conn.execute(text(sql)).one()[-1])
        except OperationalError:  # as code that takes a failed read for "nothing found"
            return "nothing found"

    async def searches() -> tuple[str, str, str]:
        short = await threads.run_short("count", lambda conn: search(conn, "SELECT 'counted'"))
        long = await threads.run_short("cone", lambda conn: search(conn, SLEEPING))
        return short, long, threading.current_thread().name

    short, long, loop_thread = asyncio.run(searches())
    threads.close()
    assert short == "counted" and long == "slept"
    assert runs[:2] == [loop_thread, loop_thread]  # the short one, then the long one's try
    assert len(runs) == 3 and runs[2].startswith("skyarchive-search")


def test_the_archive_stops_its_loop_searches_statements_and_not_its_cache_look_ups(
    postgres_url: str, tmp_path: object
) -> None:
    archive = Archive.open(
        Settings(home=tmp_path, database_url=postgres_url, search_on_loop_ms=2.5),
        migrate=False,
    )
    try:
        shown = {}
        for name, engine in (("searches", archive.loop_search_engine),
                             ("cache", archive.loop_read_engine)):  # fmt: skip
            with engine.connect() as conn:
                shown[name] = conn.execute(text("SHOW statement_timeout")).scalar_one()
        assert shown == {"searches": "3ms", "cache": "0"}  # whole milliseconds, rounded up
        assert archive.loop_connections.engine is archive.loop_search_engine
    finally:
        archive.close()
