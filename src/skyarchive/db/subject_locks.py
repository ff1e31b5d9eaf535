"""One writer at a time per subject, for rules that read, decide and write in one step.

The login delays and the request limits both record an attempt first and weigh it against
the rows recorded before it; a HiPS build and a change of release period each check what the
other wrote before they write. That is exact only if no two transactions about the same subject
can interleave. On SQLite a transaction's first write takes the database's single writer lock
until commit, so the lock is a write that changes nothing, taken first (reads before it would
see the database as it was before a concurrent writer committed). PostgreSQL lets writers run
side by side (and hands out row ids in an order that need not be the commit order), so there a
transaction-scoped advisory lock per subject key does the same. Either is released at commit
or rollback, so a crashed request never leaves it held.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text


def serialise_subjects(conn: Connection, keys: Iterable[str]) -> None:
    """Wait until no other open transaction holds any of ``keys``, then hold them to the end.

    Call it first in the transaction, before it reads what it decides on. Keys are taken in
    sorted order, so two transactions sharing several keys cannot deadlock.
    """
    if conn.dialect.name != "postgresql":
        # SQLite has one writer lock for every subject; a write of no row takes it
        conn.execute(text("UPDATE archive_state SET value = value WHERE 0"))
        return
    for key in sorted(set(keys)):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
