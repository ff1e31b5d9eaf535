# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""Subscribing where one meets a program, and the account menu's notices, in headless Chromium."""

from __future__ import annotations

import re
import time
import uuid

from skyarchive.access import users
from skyarchive.db.tables import notification_events
from tests.e2e.test_access_security import PASSWORD
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

ROWS = "#grid tbody tr"


def test_subscribe_from_a_row_and_its_details_then_read_notices(  # type: ignore[no-untyped-def]
    page, console, demo_archive
) -> None:
    # Program 4567 is in its exclusive-access period: its preview is refused to this follower
    # (the details panel asks for it anyway; noted, not this test's subject).
    console.allow(
        "/api/v0.1/Download/file?uri=mast:JWST/product/jw04567-o001_t001_miri_f770w_i2d.jpg"
    )
    email = f"follower-{uuid.uuid4().hex[:6]}@example.org"
    with demo_archive.engine.begin() as conn:
        users.create_user(conn, email=email, display_name="Follower", password=PASSWORD)

    # A results row of program 4567 offers to follow it; anonymous, one logs in first.
    page.goto("/search?collection=program&q=4567")
    expect(page.locator(ROWS).first).to_be_visible()
    follow = page.get_by_role("link", name=re.compile(r"^Subscribe to JWST program 4567")).first
    expect(follow).to_be_visible()
    follow.click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Follow JWST program 4567")).to_be_visible()
    expect(page.get_by_label("Program ID")).to_have_value("4567")
    page.get_by_role("checkbox", name="First").uncheck()
    page.get_by_role("checkbox", name="Reprocessed").uncheck()
    page.get_by_label("Frequency").select_option("weekly")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_have_text(
        "Subscribed to JWST program 4567: New, Public; weekly"
    )

    # Back where one was: the same results, now signed in; the details panel offers it too.
    page.get_by_role("link", name="Back").click()
    expect(page).to_have_url(re.compile(r"/search\?collection=program&q=4567$"))
    expect(page.locator(ROWS).first).to_be_visible()
    page.get_by_role("button", name="Details of").first.click()
    in_details = page.locator("#details").get_by_role("link", name="Subscribe to JWST program 4567")
    expect(in_details).to_be_visible()
    in_details.click()
    expect(page.get_by_text("You already follow this program")).to_be_visible()
    expect(page.get_by_label("Frequency")).to_have_value("weekly")

    # Files of the program arrive (the events ingest writes): the menu counts and lists them.
    now = time.time()
    with demo_archive.engine.begin() as conn:
        conn.execute(notification_events.insert(), [
            {"event_id": str(uuid.uuid4()), "obs_collection": "JWST", "proposal_id": "4567",
             "kind": "New", "filename": name, "fileset": name[:25], "version": uuid.uuid4().hex,
             "archived_date": None, "release_mjd": None, "arrival_checked": True,
             "created_at": now}
            for name in ("jw04567001001_02101_00001_mirimage_cal.fits",
                         "jw04567001001_02101_00001_mirimage_rate.fits")
        ])  # fmt: skip
    page.goto("/search?collection=program&q=4567")
    menu = page.locator(".notices-menu")
    expect(menu.locator("summary")).to_have_accessible_name("Notices: 1 unread")
    menu.locator("summary").click()
    expect(menu.get_by_role("heading", name=re.compile("JWST program 4567: New"))).to_be_visible()
    expect(menu.get_by_text("jw04567001001_02101_00001_mirimage_cal.fits")).to_be_visible()
    expect(menu.get_by_text("Observations: jw04567001001_02101_00001_mirimage")).to_be_visible()
    menu.get_by_role("button", name="Mark as read").click()
    expect(page).to_have_url(re.compile(r"/search\?collection=program&q=4567$"))  # stays put
    expect(page.locator(".notices-menu summary")).to_have_accessible_name("Notices: 0 unread")
