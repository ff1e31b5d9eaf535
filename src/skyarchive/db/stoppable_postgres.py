"""The PostgreSQL connections of the searches tried on the event loop
(``db/engine.make_loop_engine``).

The loop waits for each of their statements, so the database stops one that runs longer than
the loop budget: ``statement_timeout``, asked for in each connection's start-up parameters
(:func:`connect_args`). Not a ``SET``: behind a pooler in transaction mode (PgBouncer) a
session's setting stays with the server connection and would stop the statements of whichever
client is handed it next, an ingest's writes among them. A pooler that drops the start-up
parameter instead leaves the statements unbounded: such a connection is refused as it is made
(:func:`check_timeout`), and the searches run in threads, as they would with no loop budget.

The cursor (:class:`StoppableCursor`) tells the budget when the database stops a statement
(:func:`skyarchive.loop_budget.statement_stopped`), whatever the search then makes of the
error, and begins no statement once the budget is spent or a statement was stopped: the search
is thrown away and runs again in a thread (``api/search_threads.py``). Imported only for a
PostgreSQL archive.
"""

from __future__ import annotations

from typing import Any, Self

import psycopg
from psycopg.errors import QueryCanceled
from sqlalchemy import make_url

from skyarchive import loop_budget


class StoppableCursor(psycopg.Cursor[Any]):
    """A cursor that begins no statement past the loop budget and marks it for one stopped."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Self:  # fmt: skip
        if loop_budget.statement_refused():
            # the error the database gives a stopped statement: a database error, so
            # SQLAlchemy keeps the connection, as for one the timeout stopped
            raise QueryCanceled("not begun: the search outgrew its budget on the event loop")
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except QueryCanceled:
            loop_budget.statement_stopped()
            raise


def connect_args(url: str, milliseconds: int) -> dict[str, Any]:
    """psycopg's arguments for a connection of ``url`` whose statements the database stops
    after ``milliseconds``, with :class:`StoppableCursor` as its cursor. Start-up ``options``
    the URL gives are kept (the argument replaces the URL's)."""
    given = make_url(url).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    options = f"{given} -c statement_timeout={int(milliseconds)}".strip()
    return {"options": options, "cursor_factory": StoppableCursor}


class TimeoutNotApplied(psycopg.OperationalError):
    """A connection for the loop's searches whose ``statement_timeout`` is not the one asked for
    (a pooler dropped the start-up parameter): the searches run in threads instead."""


def unbounded_while_set_up(dbapi_connection: Any, _record: Any) -> None:
    """The pool's first ``connect`` listener: a new connection's setting-up reads (SQLAlchemy's
    first look at the server, :func:`check_timeout`'s) run in a transaction that lifts the
    timeout (``SET LOCAL``, ended with the transaction): a new backend's first reads of the
    catalogue can outlast a millisecond or two, and a connection refused for it would send
    the searches to the threads."""
    dbapi_connection.execute("SET LOCAL statement_timeout = 0")


def check_timeout(dbapi_connection: Any, _record: Any, *, milliseconds: int) -> None:
    """The pool's last ``connect`` listener: refuse a connection whose statements the database
    would not stop after ``milliseconds`` (its session's own value: ``reset_val``, which a
    ``SET LOCAL`` does not change)."""
    try:
        unbounded_while_set_up(dbapi_connection, _record)  # SQLAlchemy's first look ended one
        row = dbapi_connection.execute(
            "SELECT reset_val FROM pg_settings WHERE name = 'statement_timeout'"
        ).fetchone()
    finally:
        dbapi_connection.rollback()  # the read's transaction, before the pool hands it out
    if row is None or int(row[0]) != int(milliseconds):
        dbapi_connection.close()
        raise TimeoutNotApplied(
            f"statement_timeout is {row[0] if row else 'unknown'} ms, not {milliseconds}: "
            "a connection pooler may drop start-up options; searches run in threads"
        )
