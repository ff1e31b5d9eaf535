"""Counted requests in a sliding window (access/rate_limits.py), on a real SQLite database."""

from __future__ import annotations

import time

from sqlalchemy import update

from skyarchive.access import rate_limits
from skyarchive.access.rate_limits import Limit
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import rate_events


def test_the_wait_ends_when_the_oldest_counted_request_leaves_the_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = Archive.open(Settings(home=tmp_path))
    mine, other = Limit("mail", "a@example.org", 3), Limit("mail", "b@example.org", 3)
    try:
        with archive.engine.begin() as conn:
            for _ in range(3):
                assert rate_limits.seconds_to_wait(conn, mine) == 0
                rate_limits.record(conn, [mine])
            # ages 50, 40 and 30 minutes: one more fits once the oldest is an hour old
            now = time.time()
            ids = sorted(conn.scalars(rate_events.select().with_only_columns(
                rate_events.c.event_id)))  # fmt: skip
            for event_id, minutes in zip(ids, (50, 40, 30), strict=True):
                conn.execute(update(rate_events).where(rate_events.c.event_id == event_id)
                             .values(at=now - minutes * 60))  # fmt: skip
            wait = rate_limits.seconds_to_wait(conn, mine, now=now)
            assert 10 * 60 - 1 <= wait <= 10 * 60 + 1
            assert rate_limits.most_to_wait(conn, [other, mine])[1] == mine
            assert rate_limits.seconds_to_wait(conn, other) == 0  # another subject: free
            assert rate_limits.seconds_to_wait(conn, mine, now=now + 11 * 60) == 0
    finally:
        archive.engine.dispose()
