# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The unsubscribe pages in Chromium, under the page policy (no console error): the link from
an e-mail shows the subscription and a button, the button unsubscribes without a log-in, and a
changed link explains itself."""

from __future__ import annotations

import time
import uuid

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.unsubscribe import LINK_DAYS, unsubscribe_token
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)


def test_the_unsubscribe_page_in_chromium(page, console, demo_archive: Archive) -> None:  # type: ignore[no-untyped-def]
    email = f"reader-{uuid.uuid4().hex[:6]}@example.org"
    with demo_archive.engine.begin() as conn:
        user = users.create_user(conn, email=email, display_name="Reader",
                                 password="a long enough password")  # fmt: skip
        [sub] = subs.subscribe(conn, user_id=user.user_id, program_ids=["1558"],
                               kinds=["New", "Public"], frequency="monthly")  # fmt: skip
        token = unsubscribe_token(conn, sub, now=time.time())
        old = unsubscribe_token(conn, sub, now=time.time() - (LINK_DAYS + 1) * 86400)

    changed = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    console.allow("status of 400")  # the refused link's own answer, provoked on purpose
    answer = page.goto(f"/unsubscribe/{changed}")
    assert answer is not None and answer.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    console.allow("status of 410")  # the expired link's own answer, provoked on purpose
    answer = page.goto(f"/unsubscribe/{old}")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(page.get_by_role("alert")).to_contain_text("has expired")
    expect(page.get_by_role("link", name="Your subscriptions")).to_have_attribute(
        "href", "/account#subscriptions"
    )

    answer = page.goto(f"/unsubscribe/{token}")
    assert answer is not None and answer.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from JWST program 1558?")
    expect(page.locator("main")).to_contain_text("New, Public")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribed")
    expect(page.get_by_role("status")).to_contain_text(f"program 1558 at {email}")
    with demo_archive.engine.connect() as conn:
        assert subs.list_subscriptions(conn, user_id=user.user_id) == []
