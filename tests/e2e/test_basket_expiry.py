"""Anonymous baskets expire: removed by ``skyarchive basket-cleanup`` and the worker's periodic
job, users' baskets and fresh ones kept, and an expired cookie then sees an empty basket."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, select, update

from skyarchive.access import tokens, users
from skyarchive.db.tables import basket_items, baskets, observations
from skyarchive.delivery.basket import BASKET_COOKIE

DAY = 86_400


@pytest.fixture(scope="module")
def obsids(demo_archive) -> list[str]:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        found = conn.scalars(
            select(observations.c.obsid)
            .where(observations.c.proposal_id == "1366", observations.c.status == "executed")
            .order_by(observations.c.obsid)
            .limit(2)
        ).all()
    return [str(o) for o in found]


def _basket_of_cookie(archive, cookie: str) -> int | None:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    with archive.engine.connect() as conn:
        return conn.scalar(select(baskets.c.basket_id).where(baskets.c.cookie_hash == digest))


def _age(archive, basket_id: int, days: float) -> None:  # type: ignore[no-untyped-def]
    """Make a basket look last changed ``days`` ago."""
    with archive.engine.begin() as conn:
        conn.execute(
            update(baskets)
            .where(baskets.c.basket_id == basket_id)
            .values(created_at=time.time() - days * DAY, updated_at=time.time() - days * DAY)
        )


def _items(archive, basket_id: int) -> int:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        query = select(func.count()).where(basket_items.c.basket_id == basket_id)
        return int(conn.scalar(query) or 0)


def _three_baskets(live_server, archive, obsids):  # type: ignore[no-untyped-def]
    """An anonymous basket 31 days old, a fresh anonymous one, and a user's 400 days old."""
    made = {}
    for name in ("old", "fresh"):
        browser = httpx.Client(base_url=live_server.url, timeout=60)
        added = browser.post("/api/portal/basket/observations", json={"obsids": obsids})
        assert added.status_code == 200
        made[name] = browser
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"expiry-{uuid.uuid4().hex[:6]}@example.org")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=60)
    made["user"] = httpx.Client(base_url=live_server.url, timeout=60,
                                headers={"Authorization": f"token {token}"})  # fmt: skip
    assert made["user"].post("/api/portal/basket/observations",
                             json={"obsids": obsids}).status_code == 200  # fmt: skip
    ids = {name: _basket_of_cookie(archive, made[name].cookies[BASKET_COOKIE])
           for name in ("old", "fresh")}  # fmt: skip
    with archive.engine.connect() as conn:
        ids["user"] = conn.scalar(
            select(baskets.c.basket_id).where(baskets.c.user_id == user.user_id)
        )
    _age(archive, ids["old"], 31)
    _age(archive, ids["user"], 400)
    return made, ids


def _check_only_the_old_one_went(made, ids, archive) -> None:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        left = set(conn.scalars(select(baskets.c.basket_id).where(
            baskets.c.basket_id.in_(list(ids.values()))
        )))  # fmt: skip
    assert left == {ids["fresh"], ids["user"]}
    assert _items(archive, ids["old"]) == 0
    assert _items(archive, ids["fresh"]) == _items(archive, ids["user"]) == 2
    # the expired basket's cookie is not an error: it shows an empty basket
    expired = made["old"].get("/api/portal/basket")
    assert expired.status_code == 200
    assert expired.json()["summary"]["files"] == 0
    for name in ("fresh", "user"):
        kept = made[name].get("/api/portal/basket").json()["summary"]
        assert kept["observations"] >= 1 and kept["files"] > 0


def test_basket_cleanup_command_removes_only_expired_anonymous_baskets(  # type: ignore[no-untyped-def]
    live_server, demo_archive, obsids, tmp_path
) -> None:
    made, ids = _three_baskets(live_server, demo_archive, obsids)
    try:
        home = demo_archive.settings.home
        result = subprocess.run(
            [sys.executable, "-m", "skyarchive", "--home", str(home), "basket-cleanup"],
            capture_output=True, text=True, timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Removed 1 anonymous baskets unchanged for more than 30 days" in result.stderr
        _check_only_the_old_one_went(made, ids, demo_archive)
        # adding again gives the browser a new basket (and cookie)
        again = made["old"].post("/api/portal/basket/observations", json={"obsids": obsids[:1]})
        assert again.status_code == 200 and BASKET_COOKIE in again.headers["set-cookie"]
        assert made["old"].get("/api/portal/basket").json()["summary"]["observations"] == 1
    finally:
        for client in made.values():
            client.close()


def test_worker_purges_expired_baskets_periodically(live_server, demo_archive, obsids) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.jobs.queue import build_queue

    made, ids = _three_baskets(live_server, demo_archive, obsids)
    try:
        queue = build_queue(demo_archive.settings)
        due = [t for t in queue.huey.read_periodic(datetime(2026, 12, 3, 4, 41))
               if t.name == "basket-cleanup"]  # fmt: skip
        assert len(due) == 1  # scheduled hourly
        due[0].execute()
        _check_only_the_old_one_went(made, ids, demo_archive)
    finally:
        for client in made.values():
            client.close()
