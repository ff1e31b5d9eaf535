"""Growing delays after failed logins, per (account, client address), kept in the database.

A stranger who guesses wrong passwords slows down only their own attempts on that account
from their own address: after ``free`` failures the next attempt from that address must wait
``base`` seconds, then twice as long after each further failure, up to ``maximum``. The real
user, from another address, logs in as usual, so nobody can lock an account by failing on
purpose. Failures are rows of ``login_failures`` (the key is a hash of email and address),
so every server process sees the same counts; they are forgotten after a day or a success.
Unknown emails are counted exactly as known ones, so the delays say nothing about who exists.

One address trying one password on many accounts (password spraying) is slowed down too:
every failure is also counted under a key of the address alone, and after ``address_free``
failures from that address within ``address_window`` seconds, its next attempt on any account
waits as above (``base``, doubling, up to ``maximum``). A success removes only its own row of
that count, so logging in to an account of one's own does not reset it.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select

from skyarchive.db.subject_locks import serialise_subjects
from skyarchive.db.tables import login_failures

MEMORY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Delays:
    """How failed logins slow down the next attempt (seconds)."""

    free: int = 5
    base: float = 15.0
    maximum: float = 3600.0
    address_free: int = 50
    address_window: float = 3600.0

    def after(self, failures: int, *, free: int | None = None) -> float:
        """The wait after ``failures`` recent failures (0 while they are still ``free``)."""
        free = self.free if free is None else free
        if failures < free:
            return 0.0
        return min(self.base * 2.0 ** (failures - free), self.maximum)


def _key(email: str, client: str) -> str:
    return hashlib.sha256(f"{(email or '').strip().lower()}\n{client}".encode()).hexdigest()


def _address_key(client: str) -> str:
    # no newline, so never equal to a key of _key (an email and an address)
    return hashlib.sha256(f"address {client}".encode()).hexdigest()


def _wait(
    conn: Connection, key: str, *, since: float, free: int, delays: Delays, before: int | None
) -> float:
    """Seconds still to wait after the failures under ``key`` (those older than ``before``)."""
    now = time.time()
    earlier = [login_failures.c.key == key, login_failures.c.at > since]
    if before is not None:
        earlier.append(login_failures.c.failure_id < before)
    count, last = conn.execute(
        select(func.count(), func.max(login_failures.c.at)).where(*earlier)
    ).one()
    return last + delays.after(int(count), free=free) - now if count else 0.0


def _remaining(
    conn: Connection, *, email: str, client: str, delays: Delays, before: dict[str, int]
) -> int:
    now = time.time()
    account, address = _key(email, client), _address_key(client)
    remaining = max(
        _wait(conn, account, since=now - MEMORY_SECONDS, free=delays.free, delays=delays,
              before=before.get(account)),
        _wait(conn, address, since=now - min(delays.address_window, MEMORY_SECONDS),
              free=delays.address_free, delays=delays, before=before.get(address)),
    )  # fmt: skip
    return math.ceil(remaining) if remaining > 0 else 0


def seconds_to_wait(conn: Connection, *, email: str, client: str, delays: Delays) -> int:
    """Whole seconds this client must still wait before trying this email again (0: go ahead).

    The longer of two waits: that of this client's failures on this account, and that of
    this client's failures on all accounts together.
    """
    return _remaining(conn, email=email, client=client, delays=delays, before={})


def admit_attempt(conn: Connection, *, email: str, client: str, delays: Delays) -> int:
    """0 when this client may give a password for ``email`` now, else the seconds to wait.

    The attempt is recorded as a failure first and only then weighed against the failures
    recorded before it; a refused attempt takes its rows back, an admitted one keeps them
    until the password proves right (:func:`clear_failures`). Recording before counting is
    what makes a burst of parallel guesses count each other: SQLite serialises the writing
    transactions, and on PostgreSQL a transaction lock per client address does the same
    (:func:`skyarchive.db.subject_locks.serialise_subjects`, as for the request limits).
    Commit before checking the password, so other processes see the attempt.
    """
    serialise_subjects(conn, [_address_key(client)])
    own = record_failure(conn, email=email, client=client)
    wait = _remaining(conn, email=email, client=client, delays=delays, before=own)
    if wait:
        conn.execute(delete(login_failures).where(login_failures.c.failure_id.in_(own.values())))
    return wait


def record_failure(conn: Connection, *, email: str, client: str) -> dict[str, int]:
    """Count one failure of this client on this account; the new rows' ids by key."""
    now = time.time()
    conn.execute(delete(login_failures).where(login_failures.c.at < now - MEMORY_SECONDS))
    ids = {}
    for key in (_key(email, client), _address_key(client)):
        new_row = login_failures.insert().values(key=key, at=now)
        ids[key] = conn.execute(new_row.returning(login_failures.c.failure_id)).scalar_one()
    return ids


def clear_failures(conn: Connection, *, email: str, client: str) -> None:
    """Forget this client's failures on this account after a right password.

    Of the address's count only this attempt's own row goes (it was recorded on admission),
    so a sprayer cannot reset it by logging in to an account of their own.
    """
    conn.execute(delete(login_failures).where(login_failures.c.key == _key(email, client)))
    own = conn.scalar(
        select(func.max(login_failures.c.failure_id)).where(
            login_failures.c.key == _address_key(client)
        )
    )
    if own is not None:
        conn.execute(delete(login_failures).where(login_failures.c.failure_id == own))
