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

from sqlalchemy import Connection, Engine, delete, func, select

from skyarchive.db.subject_locks import serialise_subjects
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


def seconds_to_wait(
    conn: Connection, limit: Limit, *, now: float | None = None, before: int | None = None
) -> int:
    """Whole seconds until one more request passes ``limit`` (0: it passes now).

    With ``before``, only requests counted earlier than event ``before`` are considered.
    """
    now = time.time() if now is None else now
    recent = [rate_events.c.key == limit.key, rate_events.c.at > now - limit.window]
    if before is not None:
        recent.append(rate_events.c.event_id < before)
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


@dataclass(frozen=True)
class Admission:
    """The answer of :func:`admit`: the rows counted, or the wait and the limit that refused."""

    events: list[int]
    wait: int = 0
    refused_by: Limit | None = None


def admit(engine: Engine, limits: Sequence[Limit]) -> Admission:
    """Count one request against every one of ``limits``, or refuse it.

    The request is counted first and then checked against the requests counted before it,
    in one transaction that holds every limit's subject
    (:func:`~skyarchive.db.subject_locks.serialise_subjects`, the rule of the login delays),
    so a parallel burst admits exactly ``most`` requests: the next one of the burst counts
    only after this one has committed its row, or taken it back. A refused request's rows
    are removed in the same transaction; an admitted one's by :func:`forget`, when it fails
    later.
    """
    if not limits:
        return Admission(events=[])
    with engine.begin() as conn:
        serialise_subjects(conn, [limit.key for limit in limits])
        now = time.time()  # read under the lock: the rows before this one are older
        events = [
            int(conn.execute(
                rate_events.insert().values(key=limit.key, at=now)
                .returning(rate_events.c.event_id)
            ).scalar_one())
            for limit in limits
        ]  # fmt: skip
        conn.execute(delete(rate_events).where(rate_events.c.at < now - MEMORY_SECONDS))
        waits = [
            (seconds_to_wait(conn, limit, now=now, before=event), limit)
            for limit, event in zip(limits, events, strict=True)
        ]
        wait, worst = max(waits, key=lambda pair: pair[0])
        if not wait:
            return Admission(events=events)
        conn.execute(delete(rate_events).where(rate_events.c.event_id.in_(events)))
    return Admission(events=[], wait=wait, refused_by=worst)


def forget(engine: Engine, events: Sequence[int]) -> None:
    """Uncount the requests of ``events`` (they were refused or failed)."""
    if events:
        with engine.begin() as conn:
            conn.execute(delete(rate_events).where(rate_events.c.event_id.in_(list(events))))
