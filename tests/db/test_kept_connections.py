"""A connection kept by each thread from one search to the next (``KeptConnections``): the same
one lent again to its thread, another to another thread; none lent again that was given up
after a failure or never given back (a search took it over); closed by ``close`` (also one
lent out at the time, once back).
On PostgreSQL: one the database ended, or that fails its ping after sitting idle, is never
lent again; one a stream took out of autocommit is not kept; nor is a transaction left open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, literal_column, select, text

from skyarchive.db.engine import make_engine
from skyarchive.db.kept_connections import KeptConnections
from skyarchive.db.streaming import stream_rows
from tests.db.test_idle_ping import _terminate
from tests.driver_trace import DriverTrace


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'kept.db'}")
    yield made
    made.dispose()


def lent_in_a_thread(kept: KeptConnections) -> Connection:
    """A connection lent to (and given back by) another thread."""
    lent: list[Connection] = []

    def search() -> None:
        conn = kept.lend()
        lent.append(conn)
        kept.give_back(conn)

    thread = threading.Thread(target=search)
    thread.start()
    thread.join()
    return lent[0]


def test_a_thread_is_lent_its_own_connection_again_and_again(engine: Engine) -> None:
    kept = KeptConnections(engine)
    first = kept.lend()
    assert first.execute(text("SELECT 1")).scalar_one() == 1  # begins SQLAlchemy's transaction
    kept.give_back(first)
    assert not first.in_transaction() and not first.closed  # ended, kept open
    again = kept.lend()
    assert again is first
    kept.give_back(again)
    other = lent_in_a_thread(kept)
    assert other is not first and not other.closed
    kept.close()  # as the app stops: every kept connection closed
    assert first.closed and other.closed
    after = kept.lend()  # a thread that searches again opens another
    assert after is not first and not after.closed
    kept.give_back(after)
    kept.close()


def test_a_connection_lent_while_they_are_closed_is_closed_once_back(engine: Engine) -> None:
    kept = KeptConnections(engine)
    lent = kept.lend()
    kept.close()
    assert not lent.closed  # its search goes on
    kept.give_back(lent)
    assert lent.closed
    fresh = kept.lend()
    assert fresh is not lent and not fresh.closed
    kept.give_up(fresh)


def test_given_up_a_connection_is_closed_and_never_given_back_it_is_not(engine: Engine) -> None:
    kept = KeptConnections(engine)
    failed = kept.lend()
    kept.give_up(failed)  # after a failed search
    assert failed.closed
    taken = kept.lend()  # and never given back: a search took it over, its own to close
    assert taken is not failed
    next_one = kept.lend()
    assert next_one is not taken and not next_one.closed
    kept.give_back(next_one)
    kept.close()
    assert not taken.closed  # not the kept connections' any more
    taken.close()


# --- PostgreSQL: what the pool checks as it hands a connection out ---


@pytest.fixture
def searches(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """The archive's engine in autocommit (as ``Archive.search_engine``), and a separate one
    to end its connections with."""
    made = make_engine(postgres_url)
    killer = create_engine(postgres_url, poolclass=None, isolation_level="AUTOCOMMIT")
    yield made.execution_options(isolation_level="AUTOCOMMIT"), killer
    made.dispose()
    killer.dispose()


def backend(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_a_kept_connection_the_database_ended_is_not_lent_again(
    searches: tuple[Engine, Engine],
) -> None:
    engine, killer = searches
    kept = KeptConnections(engine)
    conn = kept.lend()
    ended = backend(conn)
    kept.give_back(conn)
    _terminate(killer, ended)  # a restart, a failover
    fresh = kept.lend()  # within the idle time: told by the server's last message, not a ping
    assert backend(fresh) != ended
    kept.give_back(fresh)
    kept.close()


@pytest.mark.postgres
def test_a_kept_connection_idle_a_while_is_pinged_before_it_is_lent(
    searches: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _killer = searches
    monkeypatch.setattr("skyarchive.db.kept_connections.IDLE_PING_SECONDS", 0.2)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    kept = KeptConnections(engine)
    conn = kept.lend()
    pid = backend(conn)
    kept.give_back(conn)
    assert backend(again := kept.lend()) == pid and pings == []  # lent again at once: no ping
    kept.give_back(again)
    time.sleep(0.3)
    # idle past it: pinged (a connection dropped without a word would be found so)
    assert backend(pinged := kept.lend()) == pid
    assert len(pings) == 1
    kept.give_back(pinged)
    kept.close()


@pytest.mark.postgres
def test_a_connection_a_stream_took_out_of_autocommit_is_not_kept(
    searches: tuple[Engine, Engine], tmp_path: Path
) -> None:
    engine, _killer = searches
    kept = KeptConnections(engine)
    streamed = kept.lend()
    series = select(literal_column("n")).select_from(text("generate_series(1, 10) AS n"))
    assert len(list(stream_rows(streamed, series, batch=3))) == 10
    kept.give_back(streamed)
    assert streamed.closed  # the pool puts it back in autocommit
    with DriverTrace(tmp_path / "next searches", engine) as trace:
        for n in (2, 3):  # a fresh connection, then the same one kept between the two
            conn = kept.lend()
            assert conn.execute(select(literal_column(str(n)))).scalar_one() == n
            kept.give_back(conn)
    assert conn is not streamed
    assert sum("SELECT" in sent for sent in trace.sql_sent()) == 2, trace.sql_sent()
    assert trace.transaction_commands() == []  # in autocommit, as every search
    kept.close()
