"""Growing delays after failed logins, per (account, client address), kept in the database.

A stranger who guesses wrong passwords slows down only their own attempts on that account
from their own address: after ``free`` failures the next attempt from that address must wait
``base`` seconds, then twice as long after each further failure, up to ``maximum``. The real
user, from another address, logs in as usual, so nobody can lock an account by failing on
purpose. Failures are rows of ``login_failures`` (the key is a hash of email and address),
so every server process sees the same counts; they are forgotten after a day or a success.
Unknown emails are counted exactly as known ones, so the delays say nothing about who exists.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select

from skyarchive.db.tables import login_failures

MEMORY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Delays:
    """How failed logins slow down the next attempt (seconds)."""

    free: int = 5
    base: float = 15.0
    maximum: float = 3600.0

    def after(self, failures: int) -> float:
        """The wait after ``failures`` recent failures (0 while they are still free)."""
        if failures < self.free:
            return 0.0
        return min(self.base * 2.0 ** (failures - self.free), self.maximum)


def _key(email: str, client: str) -> str:
    return hashlib.sha256(f"{(email or '').strip().lower()}\n{client}".encode()).hexdigest()


def seconds_to_wait(conn: Connection, *, email: str, client: str, delays: Delays) -> int:
    """Whole seconds this client must still wait before trying this email again (0: go ahead)."""
    now = time.time()
    count, last = conn.execute(
        select(func.count(), func.max(login_failures.c.at)).where(
            login_failures.c.key == _key(email, client),
            login_failures.c.at > now - MEMORY_SECONDS,
        )
    ).one()
    if not count:
        return 0
    remaining = last + delays.after(int(count)) - now
    return math.ceil(remaining) if remaining > 0 else 0


def admit_attempt(conn: Connection, *, email: str, client: str, delays: Delays) -> int:
    """0 when this client may give a password for ``email`` now, else the seconds to wait.

    An admitted attempt is recorded as a failure at once and cleared when the password proves
    right (:func:`clear_failures`), so guesses sent in parallel are counted before any of them
    is checked. Commit before checking the password, so other processes see the attempt.
    """
    wait = seconds_to_wait(conn, email=email, client=client, delays=delays)
    if not wait:
        record_failure(conn, email=email, client=client)
    return wait


def record_failure(conn: Connection, *, email: str, client: str) -> None:
    now = time.time()
    conn.execute(login_failures.insert().values(key=_key(email, client), at=now))
    conn.execute(delete(login_failures).where(login_failures.c.at < now - MEMORY_SECONDS))


def clear_failures(conn: Connection, *, email: str, client: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.key == _key(email, client)))
