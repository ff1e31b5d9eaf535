"""One writer at a time per subject, for rules that record an event and then count it.

The login delays and the request limits both record an attempt first and weigh it against
the rows recorded before it. That is exact only if no two transactions about the same subject
can interleave their record and their count. SQLite gives this for free: the first write of a
transaction takes the database's single writer lock until commit. PostgreSQL lets writers run
side by side (and hands out row ids in an order that need not be the commit order), so there a
transaction-scoped advisory lock per subject key does the same; it is released at commit or
rollback, so a crashed request never leaves it held.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text


def serialise_subjects(conn: Connection, keys: Iterable[str]) -> None:
    """Wait until no other open transaction holds any of ``keys``, then hold them to the end.

    Call it first in the transaction, before its first write. Keys are taken in sorted order,
    so two transactions sharing several keys cannot deadlock.
    """
    if conn.dialect.name != "postgresql":
        return  # SQLite's writer lock serialises every writing transaction already
    for key in sorted(set(keys)):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
