# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""Limits on abuse across accounts and addresses, on a real server: password spraying from one
address, staging notices mailed to any address, and expired anonymous baskets.

Connections leave from different loopback addresses (127.0.0.x), so the server sees
different clients; each test uses addresses of its own.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from skyarchive.access import tokens, users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import basket_items, baskets, delivery_requests, observations
from skyarchive.delivery.basket import BASKET_COOKIE
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import portal_login
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
ADDRESS_FREE = 4  # failures one address may give on all accounts together
ACCOUNT_FREE = 5  # failures one address may give on one account (the existing rule)
DAY = 86_400


def client(url: str, address: str, **options) -> httpx.Client:  # type: ignore[no-untyped-def]
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=60, **options)


# --- password spraying -------------------------------------------------------------------


@pytest.fixture(scope="module")
def accounts_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    settings = Settings(
        home=tmp_path_factory.mktemp("spraying-home"),
        login_free_failures=ACCOUNT_FREE,
        login_delay_seconds=60.0,
        login_address_free_failures=ADDRESS_FREE,
    )
    opened = Archive.open(settings)
    yield opened
    opened.engine.dispose()


@pytest.fixture(scope="module")
def accounts_server(accounts_archive: Archive) -> Iterator[LiveServer]:
    with LiveServer(accounts_archive) as server:
        yield server


def new_users(archive: Archive, count: int) -> list[str]:
    emails = [f"sprayed-{uuid.uuid4().hex[:8]}@example.org" for _ in range(count)]
    with archive.engine.begin() as conn:
        for email in emails:
            users.create_user(conn, email=email, password=PASSWORD)
    return emails


def test_one_address_trying_one_password_on_many_accounts_is_slowed(  # type: ignore[no-untyped-def]
    accounts_server, accounts_archive
) -> None:
    victims = new_users(accounts_archive, ADDRESS_FREE + 2)
    sprayer = client(accounts_server.url, "127.0.0.21")
    for email in victims[:ADDRESS_FREE]:  # one guess per account: each account's own rule is far
        assert portal_login(sprayer, email, "Summer2026!").status_code == 401
    refused = portal_login(sprayer, victims[ADDRESS_FREE], "Summer2026!")  # an untried account
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert "from your address" in refused.text and "try again in" in refused.text
    # even the right password of a further account waits: the address is slowed, not the guess
    assert portal_login(sprayer, victims[-1], PASSWORD).status_code == 429
    # the real users, from their own address, log in as usual
    home = client(accounts_server.url, "127.0.0.22")
    for email in (victims[0], victims[-1]):
        assert portal_login(home, email, PASSWORD).status_code == 303
        home.cookies.clear()


def test_logging_in_to_an_own_account_does_not_reset_the_address_count(  # type: ignore[no-untyped-def]
    accounts_server, accounts_archive
) -> None:
    *victims, own = new_users(accounts_archive, ADDRESS_FREE + 1)
    sprayer = client(accounts_server.url, "127.0.0.23")
    for email in victims[: ADDRESS_FREE - 1]:
        assert portal_login(sprayer, email, "Winter2026!").status_code == 401
    assert portal_login(sprayer, own, PASSWORD).status_code == 303  # a success of their own
    sprayer.cookies.clear()
    assert portal_login(sprayer, victims[-1], "Winter2026!").status_code == 401  # the last free
    assert portal_login(sprayer, victims[0], "Autumn2026!").status_code == 429


def test_the_address_count_is_shared_by_every_server_process(  # type: ignore[no-untyped-def]
    accounts_server, accounts_archive
) -> None:
    victims = new_users(accounts_archive, ADDRESS_FREE + 1)
    second = Archive.open(accounts_archive.settings.model_copy())
    try:
        with LiveServer(second) as other_server:
            for email in victims[:ADDRESS_FREE]:
                sprayer = client(accounts_server.url, "127.0.0.24")
                assert portal_login(sprayer, email, "Spring2026!").status_code == 401
            elsewhere = client(other_server.url, "127.0.0.24")
            assert portal_login(elsewhere, victims[-1], "Spring2026!").status_code == 429
    finally:
        second.engine.dispose()


# --- staging notices to any e-mail address -------------------------------------------------

PER_RECIPIENT, PER_ADDRESS = 2, 3


@pytest.fixture
def staging_limits(demo_archive, monkeypatch) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Small limits; the requests the test queues are closed afterwards, so a worker started
    by a later test over the same archive has no work left of this one."""
    monkeypatch.setattr(demo_archive.settings, "anonymous_staging_per_recipient", PER_RECIPIENT)
    monkeypatch.setattr(demo_archive.settings, "anonymous_staging_per_address", PER_ADDRESS)
    started = time.time()
    yield
    with demo_archive.engine.begin() as conn:
        conn.execute(
            update(delivery_requests)
            .where(delivery_requests.c.created_at >= started,
                   delivery_requests.c.status == "queued")
            .values(status="failed", error="closed by the test that made it")
        )  # fmt: skip


@pytest.fixture(scope="module")
def public_obsid(demo_archive) -> str:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        return str(
            conn.scalar(
                select(observations.c.obsid).where(
                    observations.c.obs_id == "jw01073-o001_t001_nircam_clear-f150w"
                )
            )
        )


def stage(browser: httpx.Client, obsid: str, email: str | None) -> httpx.Response:
    data = {"obsid": obsid, "mrp": "true", **({"email": email} if email else {})}
    return browser.post("/api/v0.1/Download/stage", data=data)


def _requests_to(archive: Archive, email: str) -> int:
    with archive.engine.connect() as conn:
        query = select(func.count()).where(delivery_requests.c.email == email)
        return int(conn.scalar(query) or 0)


def assert_too_many(answer: httpx.Response, about: str) -> None:
    assert answer.status_code == 429, answer.text
    assert 0 < int(answer.headers["retry-after"]) <= 3600
    error = answer.json()["error"]
    assert error["status"] == 429 and error["type"] == "TooManyRequests"
    assert about in error["message"] and "try again in" in error["message"]


def test_anonymous_staging_is_bounded_per_recipient(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, staging_limits
) -> None:
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.org"
    for n in range(PER_RECIPIENT):  # each from another address: the recipient's own count
        sender = client(live_server.url, f"127.0.0.{31 + n}")
        assert stage(sender, public_obsid, victim).status_code == 202
    fresh = client(live_server.url, "127.0.0.39")
    assert_too_many(stage(fresh, public_obsid, victim), "this e-mail address")
    assert_too_many(stage(fresh, public_obsid, victim.upper()), "this e-mail address")
    assert _requests_to(demo_archive, victim) == PER_RECIPIENT  # nothing more to mail
    # the same address may still stage for another recipient
    other = f"other-{uuid.uuid4().hex[:8]}@example.org"
    assert stage(fresh, public_obsid, other).status_code == 202


def test_anonymous_staging_is_bounded_per_client_address(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, staging_limits
) -> None:
    sender = client(live_server.url, "127.0.0.41")
    for _ in range(PER_ADDRESS):  # a new recipient each time
        made = stage(sender, public_obsid, f"list-{uuid.uuid4().hex[:8]}@example.org")
        assert made.status_code == 202, made.text
    assert_too_many(stage(sender, public_obsid, "one-more@example.org"), "your address")
    # refused input does not count: a request without an e-mail is still a 400 elsewhere
    neighbour = client(live_server.url, "127.0.0.42")
    assert stage(neighbour, public_obsid, None).status_code == 400
    assert stage(neighbour, public_obsid, "neighbour@example.org").status_code == 202
    # the portal's basket delivery is the same request, bounded the same way
    basket = {"obsids": [public_obsid]}
    assert sender.post("/api/portal/basket/observations", json=basket).status_code == 200
    delivered = sender.post("/api/portal/basket/deliveries", json={
        "method": "staging", "filters": {"mrp": True}, "email": "basket@example.org"})  # fmt: skip
    assert_too_many(delivered, "your address")


def test_the_basket_page_says_why_staging_is_refused(  # type: ignore[no-untyped-def]
    page, console, live_server, public_obsid, staging_limits
) -> None:
    """In Chromium: the basket page shows the 429's message, and nothing is queued."""
    victim = f"browser-{uuid.uuid4().hex[:8]}@example.org"
    for n in range(PER_RECIPIENT):  # someone else has already used this recipient's hour
        assert stage(client(live_server.url, f"127.0.0.{71 + n}"), public_obsid,
                     victim).status_code == 202  # fmt: skip
    console.allow("429")  # the browser logs the refused request
    added = page.request.post("/api/portal/basket/observations", data={"obsids": [public_obsid]})
    assert added.ok, added.text()
    page.goto("/basket")
    expect(page.locator("#basket-body")).to_be_visible()
    page.get_by_role("radio", name=re.compile("^Batch staging")).check()
    page.get_by_label("E-mail for the notice").fill(victim)
    page.get_by_role("button", name="Request staging").click()
    status = page.locator("#delivery-status")
    expect(status).to_contain_text("Too many staging requests for this e-mail address")
    expect(status).to_contain_text(re.compile(r"try again in \d+ seconds"))
    expect(status).not_to_contain_text("queued")


def test_signed_in_staging_is_not_bounded_by_the_anonymous_limits(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, staging_limits
) -> None:
    with demo_archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"stager-{uuid.uuid4().hex[:8]}@example.org")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=60)
    me = client(live_server.url, "127.0.0.43", headers={"Authorization": f"token {token}"})
    for _ in range(PER_ADDRESS + 1):
        assert stage(me, public_obsid, None).status_code == 202


def test_staging_limits_are_shared_by_every_server_process(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, staging_limits
) -> None:
    victim = f"shared-{uuid.uuid4().hex[:8]}@example.org"
    second = Archive.open(demo_archive.settings.model_copy())
    try:
        with LiveServer(second) as other_server:
            for n in range(PER_RECIPIENT):
                sender = client(live_server.url, f"127.0.0.{51 + n}")
                assert stage(sender, public_obsid, victim).status_code == 202
            elsewhere = client(other_server.url, "127.0.0.59")
            assert_too_many(stage(elsewhere, public_obsid, victim), "this e-mail address")
    finally:
        second.engine.dispose()


# --- expired anonymous baskets -------------------------------------------------------------


def _basket_of(archive: Archive, cookie: str) -> int | None:
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    with archive.engine.connect() as conn:
        return conn.scalar(select(baskets.c.basket_id).where(baskets.c.cookie_hash == digest))


@pytest.fixture
def aged(demo_archive) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    """Baskets a test ages; removed afterwards, so other tests' purges count only their own."""
    ids: list[int] = []
    yield ids
    with demo_archive.engine.begin() as conn:
        for table in (basket_items, baskets):
            conn.execute(delete(table).where(table.c.basket_id.in_(ids)))


def _age(archive: Archive, basket_id: int, days: float) -> None:
    then = time.time() - days * DAY
    with archive.engine.begin() as conn:
        conn.execute(
            update(baskets)
            .where(baskets.c.basket_id == basket_id)
            .values(created_at=then, updated_at=then)
        )


def test_an_expired_anonymous_basket_is_absent_before_any_purge(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, aged
) -> None:
    days = demo_archive.settings.anonymous_basket_days
    browser = client(live_server.url, "127.0.0.61")
    assert browser.post("/api/portal/basket/observations",
                        json={"obsids": [public_obsid]}).status_code == 200  # fmt: skip
    old_cookie = browser.cookies[BASKET_COOKIE]
    old_id = _basket_of(demo_archive, old_cookie)
    assert old_id is not None
    aged.append(old_id)
    _age(demo_archive, old_id, days - 1)  # not yet expired: still there
    assert browser.get("/api/portal/basket").json()["summary"]["observations"] == 1
    _age(demo_archive, old_id, days + 1)  # expired; no purge job has run
    assert browser.get("/api/portal/basket").json()["summary"]["files"] == 0
    added = browser.post("/api/portal/basket/observations", json={"obsids": [public_obsid]})
    assert added.status_code == 200 and BASKET_COOKIE in added.headers["set-cookie"]
    new_cookie = browser.cookies[BASKET_COOKIE]
    assert new_cookie != old_cookie
    new_id = _basket_of(demo_archive, new_cookie)
    assert new_id is not None and new_id != old_id
    assert browser.get("/api/portal/basket").json()["summary"]["observations"] == 1


def test_logging_in_does_not_take_over_an_expired_anonymous_basket(  # type: ignore[no-untyped-def]
    live_server, demo_archive, public_obsid, aged
) -> None:
    browser = client(live_server.url, "127.0.0.62")
    assert browser.post("/api/portal/basket/observations",
                        json={"obsids": [public_obsid]}).status_code == 200  # fmt: skip
    expired = _basket_of(demo_archive, browser.cookies[BASKET_COOKIE])
    assert expired is not None
    aged.append(expired)
    _age(demo_archive, expired, demo_archive.settings.anonymous_basket_days + 1)
    with demo_archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"late-{uuid.uuid4().hex[:8]}@example.org")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=60)
    browser.headers["Authorization"] = f"token {token}"
    assert browser.get("/api/portal/basket").json()["summary"]["observations"] == 0
    # a change opens the user's own basket; the expired one's observations are not merged
    other = {"obsids": [public_obsid]}
    assert browser.post("/api/portal/basket/observations", json=other).status_code == 200
    with demo_archive.engine.connect() as conn:
        mine = conn.scalar(select(baskets.c.basket_id).where(baskets.c.user_id == user.user_id))
        still = conn.scalar(select(baskets.c.basket_id).where(baskets.c.basket_id == expired))
    assert mine is not None and mine != expired
    assert still == expired  # left for the purge job, not merged into the user's basket
