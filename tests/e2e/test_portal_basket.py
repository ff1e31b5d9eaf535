# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The basket and delivery status pages in real headless Chromium over the demo archive.

From an "m57 r=1m" search to the basket, MRP files as a zip and as a cURL script, the
"remove completed files" option, anonymous staging asking for an e-mail address, and a
signed-in user's staging request run by a real ``skyarchive worker`` process and followed on
the status page.
"""

from __future__ import annotations

import re
import shlex
import signal
import uuid
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from skyarchive.access import users
from tests.delivery.helpers import cli
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

M57 = "/search?q=" + quote("m57 r=1m")


def add_all_rows(page, url: str) -> int:  # type: ignore[no-untyped-def]
    """Search, tick every row and add them to the basket; returns the number of rows."""
    page.goto(url)
    expect(page.locator("#results")).to_be_visible()
    rows = page.locator("#grid tbody tr").count()
    page.get_by_label("Select all rows on this page").check()
    expect(page.locator("#grid tbody tr input[type=checkbox]:checked")).to_have_count(rows)
    page.get_by_role("button", name=f"Add {rows} selected to basket").click()
    expect(page.locator("#query-display")).to_contain_text(f"Added {rows} observations")
    return rows


def basket_api(page, **params: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The basket as the page's own browser context sees it (same cookies)."""
    answer = page.request.get("/api/portal/basket", params=params)
    assert answer.ok, answer.text()
    return answer.json()


def selected_paths(basket: dict) -> set[str]:  # type: ignore[type-arg]
    return {
        f["path"]
        for mission in basket["tree"]
        for obs in mission["observations"]
        for f in obs["children"]
        if f["selected"]
    }


def download(page, button: str) -> Path:  # type: ignore[no-untyped-def]
    with page.expect_download() as started:
        page.get_by_role("button", name=button).click()
    assert started.value.failure() is None
    return Path(started.value.path())


def test_m57_basket_mrp_zip_curl_and_remove_completed(page) -> None:  # type: ignore[no-untyped-def]
    add_all_rows(page, M57)
    count = page.locator(".site-header [data-basket-count]")
    expect(count).to_have_text(re.compile(r"^ \(\d+\)$"))

    page.get_by_role("link", name=re.compile("^Basket")).click()
    expect(page.locator("#basket-body")).to_be_visible()
    mrp_box = page.get_by_role("checkbox", name=re.compile(r"^Minimum Recommended Products \("))
    expect(mrp_box).to_be_checked()  # the MRP filter is on by default
    mrp = selected_paths(basket_api(page, mrp="true"))
    everything = basket_api(page)["summary"]["files"]
    assert 0 < len(mrp) < everything
    expect(mrp_box).to_have_accessible_name(
        f"Minimum Recommended Products ({len(mrp)} of {len(mrp)})"
    )
    expect(page.locator("#selection-summary")).to_contain_text(
        f"{len(mrp)} of {everything} files selected"
    )
    category = page.get_by_role("group", name="Product category")
    science = category.get_by_role("checkbox", name=re.compile(r"^SCIENCE \(\d+ of \d+\)$"))
    expect(science).to_have_count(1)

    # zip: MANIFEST.HTML and exactly the MRP files, at <collection>/<obs_id>/<file>
    with zipfile.ZipFile(download(page, "Download zip")) as bundle:
        names = set(bundle.namelist())
    assert "MANIFEST.HTML" in names
    assert names - {"MANIFEST.HTML"} == mrp

    # cURL script: a bash script fetching the same files
    page.get_by_label("cURL script").check()
    script = download(page, "Download cURL script").read_text()
    assert script.startswith("#!/usr/bin/env bash")
    fetched = {shlex.split(line)[2] for line in script.splitlines() if line.startswith("fetch ")}
    assert fetched == mrp

    # list of URLs: one download URL a line, for the script's files, each one downloadable
    page.get_by_label("List of URLs").check()
    listing = download(page, "Download list of URLs").read_text()
    urls = [line for line in listing.splitlines() if line and not line.startswith("#")]
    script_uris = {unquote(shlex.split(line)[1]) for line in script.splitlines()
                   if line.startswith("fetch ")}  # fmt: skip
    assert {parse_qs(urlsplit(url).query)["uri"][0] for url in urls} == script_uris
    assert len(urls) == len(mrp)
    first = page.request.get(urls[0])
    assert first.ok and int(first.headers["content-length"]) > 0

    # "remove completed files": once the zip has been sent, its files leave the basket
    page.get_by_label("Zip file").check()
    page.get_by_label("Remove completed files from basket").check()
    download(page, "Download zip")
    expect(page.locator("#delivery-status")).to_contain_text("Delivery complete", timeout=20_000)
    expect(mrp_box).to_have_accessible_name("Minimum Recommended Products (0 of 0)")
    left = basket_api(page)
    assert left["summary"]["files"] == everything - len(mrp)
    assert selected_paths(basket_api(page, mrp="true")) == set()
    expect(page.locator("#selection-summary")).to_contain_text("0 of")
    expect(page.get_by_role("button", name="Download zip")).to_be_disabled()


def test_anonymous_staging_asks_an_email_locked_files_remove_and_clear(page) -> None:  # type: ignore[no-untyped-def]
    add_all_rows(page, "/search?collection=program&q=1073,4567")  # 4567: exclusive access
    page.goto("/basket")
    expect(page.locator("#basket-body")).to_be_visible()

    # anonymous callers may stage public files: choosing staging asks for the notice's address
    email = page.get_by_label("E-mail for the notice")
    expect(email).to_be_hidden()
    page.get_by_role("radio", name=re.compile("^Batch staging")).check()
    expect(email).to_be_visible()
    expect(email).to_have_attribute("required", "")
    expect(page.locator("#staging-login")).to_contain_text("only public files are staged")
    expect(page.locator("#staging-login").get_by_role("link", name="log in")).to_have_attribute(
        "href", "/login?next=/basket"
    )
    page.get_by_role("radio", name="Zip file").check()
    expect(email).to_be_hidden()

    # files of the exclusive-access period: padlock, cannot be ticked, counted as excluded
    excluded = page.locator("#excluded-summary")
    expect(excluded).to_contain_text(re.compile(r"\d+ files? matching the filters (is|are) exclu"))
    expect(excluded).to_contain_text("exclusive-access period")
    page.get_by_role("button", name="Expand all").click()
    locked = page.locator(".tree-file.locked")
    assert locked.count() > 0
    expect(locked.first.get_by_role("img", name=re.compile("Exclusive-access"))).to_be_visible()
    expect(locked.first.get_by_role("checkbox")).to_be_disabled()

    # filters work from the keyboard; focus stays on the box while the tree reloads
    other = page.get_by_role("checkbox", name=re.compile(r"^Other products \("))
    body = page.locator("#basket-body")
    other.focus()
    pressed = other.element_handle()
    page.keyboard.press("Space")
    expect(other).to_be_checked()
    expect(other).to_be_focused()
    expect(body).not_to_have_attribute("aria-busy", "true")
    expect(other).to_be_checked()
    expect(other).to_be_focused()
    # The reload's answer updates the boxes in place: a box drawn anew as a key went down on
    # the old one would take the key's release only, and the key would toggle nothing.
    assert pressed.evaluate("box => box.isConnected && box === document.activeElement")
    page.keyboard.press("Space")
    expect(other).not_to_be_checked()
    # the tree is rebuilt once the reload is answered: only then is it the tree to act on
    expect(body).not_to_have_attribute("aria-busy", "true")
    expect(other).not_to_be_checked()

    # remove one observation, with the keyboard (its members' files, if the members are in the
    # basket too, are then listed under the members)
    first = page.locator(".tree-observation .obs-label").first.inner_text()
    remove = page.get_by_role("button", name=f"Remove {first} from the basket")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".obs-label", has_text=re.compile(f"^{re.escape(first)}$"))).to_have_count(
        0
    )
    expect(page.locator("#delivery-status")).to_contain_text(f"{first} was removed")
    assert page.evaluate("document.activeElement.id") == "tree-title"  # focus not lost

    # clear the basket (after confirming)
    page.get_by_role("button", name="Clear basket").click()
    page.get_by_role("dialog").get_by_role("button", name="Clear basket").click()
    expect(page.locator("#basket-empty")).to_be_visible()
    assert basket_api(page)["summary"]["files"] == 0

    # the status page keeps requests for signed-in users
    page.goto("/deliveries")
    expect(page.get_by_role("link", name="Log in").last).to_have_attribute(
        "href", "/login?next=/deliveries"
    )


def test_phone_width_basket_is_usable(page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    add_all_rows(page, "/search?collection=program&q=1073")
    page.goto("/basket")
    expect(page.locator("#basket-body")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    expect(page.get_by_role("button", name="Download zip")).to_be_visible()


def test_signed_in_staging_runs_in_a_worker_and_shows_on_the_status_page(
    page, demo_archive, live_server
) -> None:  # type: ignore[no-untyped-def]
    email = f"basket-{uuid.uuid4().hex[:8]}@example.org"
    password = "a long enough password"
    with demo_archive.engine.begin() as conn:
        users.create_user(conn, email=email, display_name="Basket Tester", password=password)
    page.goto("/login?next=/basket")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Basket Tester")).to_be_visible()

    add_all_rows(page, "/search?collection=program&q=1073")
    page.goto("/basket")
    expect(page.locator("#staging-login")).to_have_count(0)
    page.get_by_role("radio", name=re.compile("^Batch staging")).check()
    page.get_by_role("button", name="Request staging").click()
    status = page.locator("#delivery-status")
    expect(status).to_contain_text("is queued")
    status.get_by_role("link", name=re.compile("delivery status page")).click()

    expect(page.get_by_role("heading", name="Delivery request")).to_be_visible()
    row = page.locator(".deliveries-table tbody tr")
    expect(row).to_have_attribute("data-status", "queued")
    expect(page.locator("#deliveries-status")).to_contain_text("Refreshing")

    env = {"SKYARCHIVE_BASE_URL": live_server.url, "SKYARCHIVE_STAGING_PAUSE": "0"}
    worker = cli(demo_archive.settings.home, "worker", env=env)
    try:
        # the page refreshes itself until the worker has staged every file
        expect(row).to_have_attribute("data-status", "done", timeout=30_000)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=20)
            except Exception:  # noqa: BLE001
                worker.kill()
                worker.wait(timeout=10)
    expect(row.get_by_role("link", name="Staged files")).to_be_visible()
    progress = row.get_by_role("progressbar")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    expect(page.locator("#deliveries-status")).not_to_contain_text("Refreshing")
    request_id = row.get_attribute("data-request")

    # the list of the user's requests, newest first
    page.get_by_role("link", name="All your requests").click()
    first = page.locator(".deliveries-table tbody tr").first
    expect(first).to_have_attribute("data-request", request_id)
    expect(first).to_contain_text("Batch staging")
    expect(first.locator(".delivery-state")).to_have_text("done")
    expires = first.locator("td").nth(5)
    expect(expires).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
