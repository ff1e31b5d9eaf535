"""A parallel burst of anonymous staging requests against the real server admits exactly the
limit, on SQLite and PostgreSQL: every request of the burst is counted before it is checked,
one subject at a time.

Each request leaves from its own loopback address (127.0.x.y), so only the per-recipient limit
is shared by the burst; the per-address limit is checked the same way by one sender's burst.
Commits are slowed down a little, as on a loaded machine, so rows become visible in another
order than they were numbered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from skyarchive.archive import Archive
from skyarchive.db.tables import delivery_requests, observations, rate_events
from tests.access.test_rate_limits import slow_commits
from tests.e2e.conftest import LiveServer

BURST = 16
BURSTS = 3
LIMIT = 3


@pytest.fixture
def limited_server(demo_archive_copy: Archive) -> Iterator[LiveServer]:
    demo_archive_copy.settings.anonymous_staging_per_recipient = LIMIT
    demo_archive_copy.settings.anonymous_staging_per_address = LIMIT
    slow_commits(demo_archive_copy.engine)
    with LiveServer(demo_archive_copy) as server:
        yield server


def _public_obsid(archive: Archive) -> str:
    with archive.engine.connect() as conn:
        query = select(observations.c.obsid).where(
            observations.c.obs_id == "jw01073-o001_t001_nircam_clear-f150w"
        )
        return str(conn.scalar(query))


def _burst(url: str, obsid: str, senders: list[str], emails: list[str]) -> list[int]:
    """Every request waits at a barrier, so they reach the server together."""
    barrier = threading.Barrier(len(senders))

    def one(sender: str, email: str) -> int:
        transport = httpx.HTTPTransport(local_address=sender)
        with httpx.Client(base_url=url, transport=transport, timeout=120) as client:
            barrier.wait()
            data = {"obsid": obsid, "mrp": "true", "email": email}
            return client.post("/api/v0.1/Download/stage", data=data).status_code

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        return list(pool.map(one, senders, emails))


def _count(archive: Archive, query) -> int:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def test_a_burst_for_one_recipient_admits_exactly_the_limit(  # type: ignore[no-untyped-def]
    limited_server, demo_archive_copy
) -> None:
    obsid = _public_obsid(demo_archive_copy)
    for burst in range(BURSTS):  # one burst alone may be lucky
        victim = f"burst-{burst}-{uuid.uuid4().hex[:8]}@example.org"
        senders = [f"127.0.{burst + 1}.{10 + n}" for n in range(BURST)]
        codes = _burst(limited_server.url, obsid, senders, [victim] * BURST)
        assert sorted(codes) == [202] * LIMIT + [429] * (BURST - LIMIT), codes
        made = select(func.count()).where(delivery_requests.c.email == victim)
        assert _count(demo_archive_copy, made) == LIMIT
    # refused requests leave no row behind: two limits per admitted request
    counted = select(func.count()).select_from(rate_events)
    assert _count(demo_archive_copy, counted) == 2 * LIMIT * BURSTS


def test_a_burst_from_one_address_admits_exactly_the_limit(  # type: ignore[no-untyped-def]
    limited_server, demo_archive_copy
) -> None:
    obsid = _public_obsid(demo_archive_copy)
    for burst in range(BURSTS):
        emails = [f"list-{n}-{uuid.uuid4().hex[:8]}@example.org" for n in range(BURST)]
        codes = _burst(limited_server.url, obsid, [f"127.0.9.{burst + 1}"] * BURST, emails)
        assert sorted(codes) == [202] * LIMIT + [429] * (BURST - LIMIT), codes
