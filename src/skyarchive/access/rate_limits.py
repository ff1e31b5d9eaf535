"""Counted requests within a sliding window, kept in the database (table ``rate_events``).

A limit is a name and a subject (a recipient address, a client address); each admitted
request adds one row keyed by the SHA-256 of both, so every server process counts alike and
no address is stored in clear. Rows older than a day are removed as new ones come in.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select

from skyarchive.db.tables import rate_events

MEMORY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Limit:
    """At most ``most`` requests about ``subject`` within ``window`` seconds."""

    name: str
    subject: str
    most: int
    window: float = 3600.0

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.name}\n{self.subject}".encode()).hexdigest()


def seconds_to_wait(conn: Connection, limit: Limit, *, now: float | None = None) -> int:
    """Whole seconds until one more request passes ``limit`` (0: it passes now)."""
    now = time.time() if now is None else now
    recent = rate_events.c.key == limit.key, rate_events.c.at > now - limit.window
    count = conn.scalar(select(func.count()).where(*recent)) or 0
    if count < limit.most:
        return 0
    # the request that must leave the window before one more fits: the most-th newest
    oldest_counted = conn.scalar(
        select(rate_events.c.at).where(*recent).order_by(rate_events.c.at.desc())
        .offset(max(limit.most - 1, 0)).limit(1)
    )  # fmt: skip
    if oldest_counted is None:
        return 0
    return max(1, math.ceil(oldest_counted + limit.window - now))


def most_to_wait(conn: Connection, limits: Sequence[Limit]) -> tuple[int, Limit | None]:
    """The longest wait any of ``limits`` asks for, and that limit (0, None: all pass)."""
    now = time.time()
    worst: tuple[int, Limit | None] = (0, None)
    for limit in limits:
        wait = seconds_to_wait(conn, limit, now=now)
        if wait > worst[0]:
            worst = (wait, limit)
    return worst


def record(conn: Connection, limits: Sequence[Limit]) -> None:
    """Count one request against every one of ``limits``."""
    now = time.time()
    if limits:
        conn.execute(rate_events.insert(), [{"key": limit.key, "at": now} for limit in limits])
    conn.execute(delete(rate_events).where(rate_events.c.at < now - MEMORY_SECONDS))
