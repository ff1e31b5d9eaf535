"""Rows read through a server-side cursor, on a connection in a transaction or in autocommit.

PostgreSQL keeps a cursor (psycopg's named cursor, SQLAlchemy's ``yield_per``) only inside a
transaction block: ``DECLARE`` in autocommit fails. The faces' searches run in autocommit
(``Archive.search_engine``) and stream only the rest of a long page, so the stream opens the
transaction it needs, and only then: the ROLLBACK that closes the connection ends it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, CursorResult, Executable

_AUTOCOMMIT = "AUTOCOMMIT"


def stream_rows(
    conn: Connection, statement: Executable, params: Any = None, *, batch: int
) -> CursorResult[Any]:
    """``statement``'s rows fetched ``batch`` at a time from a server-side cursor (SQLite:
    from its own cursor, which streams anyway). ``conn`` in autocommit is moved to the
    database's default isolation level for the rest of its use; SQLAlchemy puts it back when
    the pool takes it back."""
    if conn.get_execution_options().get("isolation_level") == _AUTOCOMMIT:
        # SQLAlchemy's own Transaction object (begun by the first statement) must end before
        # the level changes; in autocommit psycopg has nothing to send for its commit.
        conn.commit()
        conn.execution_options(isolation_level=conn.default_isolation_level)
    return conn.execute(statement, params, execution_options={"yield_per": batch})
