"""PostgreSQL pool connections are pinged before use only after sitting idle over a second.

The outcome is seen by killing the server process behind a pooled connection: after more than
:data:`IDLE_PING_SECONDS` idle, the ping finds it dead and the pool hands out a fresh one (the
request succeeds); within the second no ping is made, so the request fails once (the trade-off
documented in docs/deployment.md), and the next one gets a fresh connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from skyarchive.db.engine import IDLE_PING_SECONDS, make_engine, ping_when_idle

pytestmark = pytest.mark.postgres


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """The archive's engine, and a separate one to end its connections with."""
    engine = make_engine(postgres_url)
    # autocommit: pg_stat_activity is read once per transaction, so each check of
    # _terminate's wait must be a transaction of its own to see the backend go
    killer = create_engine(postgres_url, poolclass=None, isolation_level="AUTOCOMMIT")
    yield engine, killer
    engine.dispose()
    killer.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(killer: Engine, pid: int) -> None:
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        # Wait until the server process is gone, so the pooled socket is certainly dead.
        for _ in range(500):  # up to 10 s on a busy machine
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if not alive:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} still alive")


def test_a_connection_idle_over_a_second_is_pinged_and_replaced(
    engines: tuple[Engine, Engine],
) -> None:
    engine, killer = engines
    pid = _backend_pid(engine)
    _terminate(killer, pid)
    time.sleep(IDLE_PING_SECONDS + 0.3)
    # The pooled connection is dead; the ping on checkout finds it and the pool replaces it.
    assert _backend_pid(engine) != pid


def test_a_connection_used_within_the_idle_time_is_not_pinged(
    engines: tuple[Engine, Engine], postgres_url: str
) -> None:
    _, killer = engines
    # The same rule with 30 s instead of 1: ending the backend may take over a second on a
    # busy machine, which must not turn this into the idle case.
    engine = create_engine(postgres_url)
    ping_when_idle(engine, idle_seconds=30.0)
    pid = _backend_pid(engine)
    _terminate(killer, pid)
    # No ping within the idle time: this one request meets the dead connection (the trade-off)...
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    # ...and SQLAlchemy, seeing a disconnect, replaced it: the next request is served.
    assert _backend_pid(engine) != pid
    engine.dispose()
