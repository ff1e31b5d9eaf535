"""A statement's time limit: it stops what runs too long and nothing after it has been lifted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from skyarchive.db.deadline import statement_deadline, timed_out

ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"


def test_a_statement_past_its_deadline_is_stopped_and_the_next_one_is_not(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        with pytest.raises(OperationalError) as raised, statement_deadline(conn, 0.2):
            conn.execute(text(ENDLESS)).scalar()
        assert timed_out(raised.value)
        # a quick statement under a short deadline, then a wait past that deadline: the
        # lifted deadline must not interrupt what the connection runs next
        with statement_deadline(conn, 0.05):
            assert conn.execute(text("SELECT 1")).scalar() == 1
        time.sleep(0.15)
        count = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
        assert conn.execute(text(count + "SELECT count(*) FROM n")).scalar() == 300_000
    engine.dispose()


def test_a_statement_begun_after_the_deadline_is_stopped_too(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        with pytest.raises(OperationalError) as raised, statement_deadline(conn, 0.05):
            time.sleep(0.2)  # the time went on something else, such as parsing the query
            conn.execute(text(ENDLESS)).scalar()
        assert timed_out(raised.value)
    engine.dispose()
