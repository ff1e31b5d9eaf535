"""DriverRows gives the rows SQLAlchemy would, and fails as SQLAlchemy would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from skyarchive.db.driver_rows import DriverRows, ReadBySqlAlchemy
from skyarchive.db.engine import make_engine

metadata = MetaData()
things = Table(
    "things", metadata,
    Column("thing_id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("weight", Float),
    Column("shiny", Boolean, nullable=False),
)  # fmt: skip

BY_NAME = (
    select(things.c.thing_id, things.c.name, things.c.weight, things.c.shiny.label("is_shiny"))
    .where(things.c.name == bindparam("name"), things.c.weight < bindparam("below"))
    .order_by(things.c.thing_id)
)
# one parameter used twice, and a literal SQLAlchemy binds itself (1)
TWICE = union_all(
    select(things.c.thing_id).where(things.c.name == bindparam("name")),
    select(things.c.thing_id).where(things.c.name == bindparam("name"), things.c.thing_id > 1),
)
EXPANDING = select(things.c.thing_id).where(things.c.thing_id.in_(bindparam("ids", expanding=True)))


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [
            {"thing_id": 1, "name": "ring", "weight": 1.5, "shiny": True},
            {"thing_id": 2, "name": "ring", "weight": 0.25, "shiny": False},
            {"thing_id": 3, "name": "rock", "weight": None, "shiny": False},
        ])  # fmt: skip
    yield engine
    engine.dispose()


@contextmanager
def told_if_expanding(statement: Any, first: bool) -> Iterator[None]:
    """A statement the driver's cursor cannot take is read through SQLAlchemy, and said so
    (a warning, which the suite turns into an error) when DriverRows first reads it."""
    if statement is not EXPANDING or not first:
        yield
        return
    with pytest.warns(ReadBySqlAlchemy, match="read through SQLAlchemy: SELECT"):
        yield


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (BY_NAME, {"name": "ring", "below": 2.0}),
        (BY_NAME, {"name": "ring", "below": 1}),  # an int where the column is a float
        (BY_NAME, {"name": "none such", "below": 2.0}),
        (TWICE, {"name": "ring"}),
        (EXPANDING, {"ids": [1, 3]}),  # left to SQLAlchemy: rendered per execution
    ],
)
def test_the_rows_are_sqlalchemys(engine, statement, params) -> None:  # type: ignore[no-untyped-def]
    rows = DriverRows(statement)
    with engine.connect() as conn:
        expected = conn.execute(statement, params).all()
        for first in (True, False):  # the first execution learns the result's types
            with told_if_expanding(statement, first):
                found = rows.all(conn, params)
            assert [tuple(r) for r in found] == [tuple(r) for r in expected]
            assert [[type(v) for v in r] for r in found] == [[type(v) for v in r] for r in expected]
            assert [r._fields for r in found] == [r._fields for r in expected]
    if expected and statement is BY_NAME:
        assert isinstance(found[0].is_shiny, bool) and found[0].name == "ring"  # SQLite: 0/1


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (BY_NAME, {"name": "ring", "below": 2.0}),  # SQLite's 0/1 made booleans
        (TWICE, {"name": "ring"}),
        (EXPANDING, {"ids": [1, 3]}),
    ],
)
def test_tuples_are_sqlalchemys_rows_by_position(engine, statement, params) -> None:  # type: ignore[no-untyped-def]
    rows = DriverRows(statement)
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement, params).all()]
        for first in (True, False):  # the first execution learns the result's types
            with told_if_expanding(statement, first):
                found = rows.tuples(conn, params)
            assert [tuple(r) for r in found] == expected
            assert [[type(v) for v in r] for r in found] == [[type(v) for v in r] for r in expected]


# two columns named thing_id: no named tuple, but rows by position
SAME_NAMES = select(things.c.thing_id, things.c.name, things.c.thing_id, things.c.shiny).order_by(
    things.c.thing_id
)


@pytest.mark.parametrize("statement", [SAME_NAMES, EXPANDING])
def test_at_most_so_many_rows_are_read(engine, statement) -> None:  # type: ignore[no-untyped-def]
    rows = DriverRows(statement)
    params = {"ids": [1, 2, 3]} if statement is EXPANDING else {}
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement, params).all()]
        for most in (1, 2, 5, None):
            with told_if_expanding(statement, most == 1):
                found = rows.tuples(conn, params, most=most)
            assert [tuple(r) for r in found] == expected[:most]
            assert [[type(v) for v in r] for r in found] == [
                [type(v) for v in r] for r in expected[:most]
            ]


def test_columns_sharing_a_name_are_read_by_position_or_as_sqlalchemys_rows(engine) -> None:  # type: ignore[no-untyped-def]
    rows = DriverRows(SAME_NAMES)
    with engine.connect() as conn:
        expected = conn.execute(SAME_NAMES).all()
        assert [tuple(r) for r in rows.tuples(conn, {})] == [tuple(r) for r in expected]
        named = rows.all(conn, {})  # no named tuple of them: SQLAlchemy's own rows
        assert [r._fields for r in named] == [r._fields for r in expected]
        assert [tuple(r) for r in named] == [tuple(r) for r in expected]
        assert isinstance(rows.tuples(conn, {})[0][3], bool)  # SQLite's 0/1 made booleans


def test_a_failing_statement_raises_sqlalchemys_error(engine) -> None:  # type: ignore[no-untyped-def]
    missing = Table("no_such_table", MetaData(), Column("x", Integer))
    rows = DriverRows(select(missing.c.x).where(missing.c.x == bindparam("x")))
    with engine.connect() as conn, pytest.raises(DBAPIError):
        rows.all(conn, {"x": 1})


@pytest.mark.postgres
def test_a_dropped_connection_is_found_out_and_replaced(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    metadata.create_all(engine)
    rows = DriverRows(select(things.c.thing_id).where(things.c.name == bindparam("name")))
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with killer.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):
            if not conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar():
                break
            time.sleep(0.02)
    # The pooled connection is dead: the read fails as SQLAlchemy's own would, once...
    with engine.connect() as conn, pytest.raises(OperationalError):
        rows.all(conn, {"name": "ring"})
    # ...and the pool, told of the disconnect, hands out a live one next.
    with engine.connect() as conn:
        assert rows.all(conn, {"name": "ring"}) == []
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    engine.dispose()
    killer.dispose()


def test_the_engines_statement_events_hear_each_read(engine) -> None:  # type: ignore[no-untyped-def]
    """An operator's SQL log or tracing, and the tests that explain plans, see these reads."""
    heard: list[tuple[str, str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        heard.append(("before", statement, parameters))

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        heard.append(("after", statement, parameters))

    rows = DriverRows(BY_NAME)
    with engine.connect() as conn:
        rows.all(conn, {"name": "ring", "below": 2.0})
    assert [when for when, _, _ in heard] == ["before", "after"]
    (_, sql, arguments), _ = heard
    with engine.connect() as conn:  # the driver's own statement and arguments give the rows
        assert [row[0] for row in conn.exec_driver_sql(sql, arguments)] == [1, 2]


def test_an_unlabelled_expression_is_read_by_position_or_as_sqlalchemys_rows(engine) -> None:  # type: ignore[no-untyped-def]
    statement = select(things.c.thing_id, things.c.thing_id + 1).order_by(things.c.thing_id)
    rows = DriverRows(statement)
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement).all()]
        assert [tuple(r) for r in rows.tuples(conn, {})] == expected
        assert [tuple(r) for r in rows.all(conn, {})] == expected
