"""Short searches tried on the event loop on PostgreSQL: the loop waits for their statements,
and the database stops each one that runs longer than the loop budget, so a search that does is
thrown away and answered from a thread; the answer cache's look-ups, on the loop's other
engine, are never stopped; and a connection the timeout did not reach is never searched on."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from skyarchive import loop_budget
from skyarchive.api.search_threads import SearchThreads
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db import stoppable_postgres
from skyarchive.db.engine import make_engine, make_loop_engine
from skyarchive.db.kept_connections import KeptConnections
from skyarchive.web import create_app

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
    postgres_url: str, tmp_path: Path
) -> None:
    archive = Archive.open(
        Settings(home=tmp_path, database_url=postgres_url, postgres_search_on_loop_ms=2.5),
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
        assert create_app(archive).state.search_threads.loop_budget_ms == 2.5
    finally:
        archive.close()


def test_by_default_every_postgresql_search_runs_in_a_thread(
    postgres_url: str, tmp_path: Path
) -> None:
    """SQLite's budget is not PostgreSQL's: there the loop would wait for the database, which
    costs a worker throughput where statements are long (an operator's choice)."""
    archive = Archive.open(Settings(home=tmp_path, database_url=postgres_url,
                                    search_on_loop_ms=5.0), migrate=False)  # fmt: skip
    try:
        assert create_app(archive).state.search_threads.loop_budget_ms == 0
    finally:
        archive.close()


def test_start_up_options_of_the_url_are_kept_beside_the_timeout(postgres_url: str) -> None:
    separator = "&" if "?" in postgres_url else "?"
    engine = make_loop_engine(f"{postgres_url}{separator}options=-c%20work_mem%3D7MB",
                              statement_ms=BUDGET_MS)  # fmt: skip
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW work_mem")).scalar_one() == "7MB"
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "50ms"
    finally:
        engine.dispose()


def dropping_the_timeout(url: str, milliseconds: int) -> dict[str, object]:
    """Connection arguments as a pooler that drops the start-up options leaves them."""
    return {**ASKED_FOR(url, milliseconds), "options": ""}


ASKED_FOR = stoppable_postgres.connect_args


def test_a_connection_the_timeout_did_not_reach_is_refused_and_the_threads_search(
    postgres_url: str,
    threads_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(stoppable_postgres, "connect_args", dropping_the_timeout)
    unbounded = make_loop_engine(postgres_url, statement_ms=BUDGET_MS)
    with pytest.raises(DBAPIError, match="statement_timeout is 0 ms, not 50"):
        unbounded.connect()
    tries: list[object] = []
    event.listen(unbounded, "do_connect", lambda *_args: tries.append(None))
    threads = SearchThreads(1, loop_budget_ms=BUDGET_MS,
                            loop_connections=KeptConnections(unbounded),
                            thread_connections=KeptConnections(threads_engine))  # fmt: skip
    runs: list[str] = []

    def search(conn: Connection | None) -> int:
        assert conn is not None
        runs.append(threading.current_thread().name)
        return int(conn.execute(text("SELECT 41 + 1")).scalar_one())

    async def searches() -> list[int]:
        return [await threads.run_short("count", search) for _ in range(3)]

    with caplog.at_level(logging.WARNING, logger="skyarchive.api.search_threads"):
        answers = asyncio.run(searches())
    threads.close()
    unbounded.dispose()
    assert answers == [42, 42, 42]
    assert len(runs) == 3 and all(name.startswith("skyarchive-search") for name in runs)
    assert len(tries) == 1  # the next searches of the service went straight to the threads
    told = [
        r.getMessage()
        for r in caplog.records
        if "no connection for the event loop" in r.getMessage()
    ]
    assert len(told) == 1 and "statement_timeout is 0 ms" in told[0]


@pytest.mark.parametrize("database_kind", ["postgresql"])
def test_new_connections_are_set_up_under_the_smallest_timeout(
    demo_archive_copy: Archive,
) -> None:
    """A new backend's first reads of the catalogue (SQLAlchemy's first look at the server,
    the timeout's own check) can outlast a millisecond in an archive's database: they are not
    stopped, so the loop's connections come up whatever the budget (each engine here opens a
    new backend)."""
    url = demo_archive_copy.settings.resolved_database_url
    for _ in range(20):
        engine = make_loop_engine(url, statement_ms=0.001)  # 1 ms, the least
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1ms"
        finally:
            engine.dispose()


def test_a_slow_first_look_at_the_server_is_not_stopped(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, made certain: SQLAlchemy's first look at the server (its version, read as
    each engine's first connection is set up) takes 20 times the timeout here, as a cold
    backend's first reads sometimes do, and the connection still comes up under it."""
    engine = make_loop_engine(postgres_url, statement_ms=0.001)  # 1 ms, the least
    read_version = type(engine.dialect)._get_server_version_info
    looked: list[str] = []

    def slow_version(dialect: Any, connection: Connection) -> Any:
        looked.append(connection.exec_driver_sql("SELECT pg_sleep(0.02), 'looked'").one()[1])
        return read_version(dialect, connection)

    monkeypatch.setattr(type(engine.dialect), "_get_server_version_info", slow_version)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1ms"
            with pytest.raises(OperationalError, match="statement timeout"):  # out of set-up
                conn.execute(text("SELECT pg_sleep(0.02)"))
    finally:
        engine.dispose()
    assert looked == ["looked"]  # the slow look ran, once, and was not stopped
