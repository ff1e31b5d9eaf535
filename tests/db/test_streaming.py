"""``stream_rows`` streams a statement's rows on a connection in a transaction or in
autocommit (``Archive.search_engine`` on PostgreSQL, where a server-side cursor needs a
transaction): the rows all arrive, and the connection goes back to the pool as it came, so
the next search sends no BEGIN and the next transactional use still gets its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, literal_column, select

from skyarchive.db.engine import make_engine
from skyarchive.db.streaming import stream_rows
from tests.driver_trace import DriverTrace

ROWS = 4321  # more than one batch, not a whole number of them


def _series(count: int):  # type: ignore[no-untyped-def]
    return select(literal_column("n")).select_from(func.generate_series(1, count).alias("n"))


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_url)
    yield made
    made.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("read_first", [False, True], ids=["stream first", "after a read"])
def test_rows_stream_on_an_autocommit_connection_in_a_transaction_of_their_own(
    engine: Engine, tmp_path: Path, read_first: bool
) -> None:
    searches = engine.execution_options(isolation_level="AUTOCOMMIT")
    with DriverTrace(tmp_path / "stream", engine) as trace, searches.connect() as conn:
        if read_first:
            assert conn.execute(select(literal_column("1"))).scalar_one() == 1
        rows = [n for (n,) in stream_rows(conn, _series(ROWS), batch=1000)]
    assert rows == list(range(1, ROWS + 1))
    sent = trace.sql_sent()
    assert any("DECLARE" in message for message in sent), sent  # a server-side cursor
    assert trace.transaction_commands() == ["BEGIN", "ROLLBACK"]

    with DriverTrace(tmp_path / "next search", engine) as trace, searches.connect() as conn:
        assert conn.execute(select(literal_column("2"))).scalar_one() == 2
    assert trace.sql_sent(), "nothing traced"
    assert trace.transaction_commands() == []

    with DriverTrace(tmp_path / "next transaction", engine) as trace, engine.connect() as conn:
        assert conn.execute(select(literal_column("3"))).scalar_one() == 3
    assert trace.transaction_commands() == ["BEGIN", "ROLLBACK"]


@pytest.mark.postgres
def test_rows_stream_on_a_connection_in_a_transaction_within_it(
    engine: Engine, tmp_path: Path
) -> None:
    with DriverTrace(tmp_path / "stream", engine) as trace, engine.connect() as conn:
        assert conn.execute(select(literal_column("1"))).scalar_one() == 1
        rows = [n for (n,) in stream_rows(conn, _series(ROWS), batch=1000)]
    assert rows == list(range(1, ROWS + 1))
    assert trace.transaction_commands() == ["BEGIN", "ROLLBACK"]


def test_rows_stream_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'stream.db'}")
    try:
        numbers = select(literal_column("value")).select_from(
            func.json_each(str(list(range(1, ROWS + 1)))).alias("numbers")
        )
        with engine.connect() as conn:
            rows = [n for (n,) in stream_rows(conn, numbers, batch=1000)]
        assert rows == list(range(1, ROWS + 1))
    finally:
        engine.dispose()
