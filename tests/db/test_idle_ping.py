"""PostgreSQL pool connections are pinged before use only after sitting idle over a second,
and one the database has ended is replaced whenever, without a ping.

The outcome is seen by ending the server process behind a pooled connection: after more than
:data:`IDLE_PING_SECONDS` idle, the ping finds it dead and the pool hands out a fresh one (the
request succeeds); within the second no ping is made, but the connection's socket holds the
server's last message, so the pool replaces it all the same. A connection dropped without a
word (a proxy, a firewall) would fail one request within the second: the trade-off documented
in docs/deployment.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

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


def test_a_connection_idle_over_a_second_is_pinged(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = engines
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    pid = _backend_pid(engine)
    assert _backend_pid(engine) == pid and pings == []  # used again at once: no ping
    time.sleep(IDLE_PING_SECONDS + 0.3)
    # Idle over the second: pinged (a connection dropped without a word would be found so)
    assert _backend_pid(engine) == pid
    assert len(pings) == 1


def test_a_connection_ended_while_idle_is_replaced(engines: tuple[Engine, Engine]) -> None:
    engine, killer = engines
    pid = _backend_pid(engine)
    _terminate(killer, pid)
    time.sleep(IDLE_PING_SECONDS + 0.3)
    assert _backend_pid(engine) != pid


def test_a_connection_ended_within_the_idle_time_is_replaced_without_a_ping(
    engines: tuple[Engine, Engine], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, killer = engines
    # The same rule with 30 s instead of 1: ending the backend may take over a second on a
    # busy machine, which must not turn this into the idle case.
    engine = create_engine(postgres_url)
    ping_when_idle(engine, idle_seconds=30.0)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection))
    pid = _backend_pid(engine)
    assert _backend_pid(engine) == pid  # the pool hands the same connection out again
    _terminate(killer, pid)
    # No ping within the idle time, but the server's last message is on the connection's
    # socket: the pool replaces it, and the request is served on a fresh one.
    assert _backend_pid(engine) != pid
    assert pings == []
    engine.dispose()
