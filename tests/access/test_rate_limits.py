"""Counted requests in a sliding window (access/rate_limits.py), on a real SQLite database."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, event, func, select, update

from skyarchive.access import rate_limits
from skyarchive.access.rate_limits import Limit
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import rate_events


def _count(archive: Archive) -> int:
    with archive.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(rate_events)) or 0)


def test_the_wait_ends_when_the_oldest_counted_request_leaves_the_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = Archive.open(Settings(home=tmp_path))
    mine, other = Limit("mail", "a@example.org", 3), Limit("mail", "b@example.org", 3)
    try:
        admitted = [rate_limits.admit(archive.engine, [mine]) for _ in range(3)]
        assert all(a.refused_by is None and len(a.events) == 1 for a in admitted)
        refused = rate_limits.admit(archive.engine, [other, mine])
        assert refused.refused_by == mine and refused.wait > 3500 and refused.events == []
        assert _count(archive) == 3  # a refused request leaves no row, for either limit
        # ages 50, 40 and 30 minutes: one more fits once the oldest is an hour old
        now = time.time()
        with archive.engine.begin() as conn:
            for admission, minutes in zip(admitted, (50, 40, 30), strict=True):
                aged = rate_events.c.event_id == admission.events[0]
                conn.execute(update(rate_events).where(aged).values(at=now - minutes * 60))
            wait = rate_limits.seconds_to_wait(conn, mine, now=now)
            assert 10 * 60 - 1 <= wait <= 10 * 60 + 1
            assert rate_limits.seconds_to_wait(conn, other, now=now) == 0  # another subject
            assert rate_limits.seconds_to_wait(conn, mine, now=now + 11 * 60) == 0
        rate_limits.forget(archive.engine, admitted[0].events)  # a request that failed later
        assert rate_limits.admit(archive.engine, [mine]).refused_by is None
    finally:
        archive.engine.dispose()


def slow_commits(engine: Engine) -> None:
    """Every commit of ``engine`` waits a moment first, as on a loaded machine: rows become
    visible in another order than they were numbered, the order a burst must not depend on."""
    event.listen(engine, "commit", lambda _conn: time.sleep(random.uniform(0.0, 0.05)))


def test_a_parallel_burst_is_counted_before_it_is_checked(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    """Many server processes at once (threads here), on SQLite and PostgreSQL alike."""
    archive = Archive.open(Settings(home=tmp_path, database_url=database_url))
    slow_commits(archive.engine)
    try:
        for burst in range(3):  # each burst one subject; one burst alone may be lucky
            limit = Limit("mail", f"burst-{burst}@example.org", 3)
            with ThreadPoolExecutor(max_workers=12) as pool:
                answers = list(pool.map(rate_limits.admit, [archive.engine] * 24, [[limit]] * 24))
            admitted = [a for a in answers if a.refused_by is None]
            assert len(admitted) == limit.most, answers
        assert _count(archive) == 3 * limit.most
    finally:
        archive.engine.dispose()
