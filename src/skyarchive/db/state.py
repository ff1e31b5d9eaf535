"""Named facts about the archive itself (``archive_state``), shared by every process."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, update

from skyarchive.db.tables import archive_state
from skyarchive.db.upsert import insert_ignore


def read_state(conn: Connection, name: str) -> str | None:
    return conn.scalar(select(archive_state.c.value).where(archive_state.c.name == name))


def write_state(conn: Connection, name: str, value: str, *, now: float) -> None:
    """Set ``name`` to ``value`` (inserted or replaced)."""
    insert_ignore(conn, archive_state, [{"name": name, "value": value, "updated_at": now}])
    conn.execute(
        update(archive_state)
        .where(archive_state.c.name == name)
        .values(value=value, updated_at=now)
    )


def state_or_create(conn: Connection, name: str, make: Callable[[], str], *, now: float) -> str:
    """The value of ``name``; the first caller stores ``make()``, and concurrent first callers
    all get the one value that was stored."""
    found = read_state(conn, name)
    if found is not None:
        return found
    insert_ignore(conn, archive_state, [{"name": name, "value": make(), "updated_at": now}])
    return read_state(conn, name) or ""
