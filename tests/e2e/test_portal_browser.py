# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The portal in real headless Chromium over the demo archive: the seed's tutorials, end to end."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from skyarchive.access import grants, users
from skyarchive.db.tables import observations
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

ROWS = "#grid tbody tr"


def search_from_home(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Object name or coordinates").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_be_visible()


def column_texts(page, label: str) -> list[str]:  # type: ignore[no-untyped-def]
    headers = page.locator("#grid thead th").all_text_contents()
    index = next(i for i, h in enumerate(headers) if h.strip().startswith(label))
    return page.locator(f"{ROWS} td:nth-child({index + 1})").all_text_contents()


def test_m57_then_facets_mission_jwst_and_miri_ifu(page) -> None:  # type: ignore[no-untyped-def]
    search_from_home(page, "m57 r=1m")
    expect(page.locator("#query-display")).to_have_text("MESSIER 057, radius: 0.01667°")
    expect(page.locator("#row-count")).to_have_text(
        re.compile(r"Displaying (\d+) of \1 Total Rows")
    )
    total = int(re.search(r"of (\d+)", page.locator("#row-count").inner_text()).group(1))
    assert page.locator(ROWS).count() == total

    mission = page.get_by_role("group", name="Mission")
    jwst = mission.get_by_role("checkbox", name="JWST")
    drawn = jwst.element_handle()
    jwst.check()
    page.get_by_role("group", name="Instrument").get_by_role("checkbox", name="MIRI/IFU").check()
    expect(page.locator("#row-count")).to_have_text(f"Displaying 7 of {total} Total Rows")
    # the new counts went into the boxes drawn before (a box drawn anew as a key went down on
    # the old one would take the key's release only: the key would toggle nothing)
    assert drawn.evaluate("box => box.isConnected && box.checked")
    assert set(column_texts(page, "Instrument")) == {"MIRI/IFU"}
    expect(mission.locator("label", has_text="HST")).to_contain_text("(0 of 3)")
    expect(page.get_by_role("group", name="Instrument").locator("label", has_text="MIRI/IFU")
           ).to_contain_text("(7 of 7)")  # fmt: skip

    # sky view: one footprint per shown row; hovering links rows and footprints both ways
    expect(page.locator("#sky .footprint")).to_have_count(7)
    first = page.locator(ROWS).first
    obsid = first.get_attribute("data-obsid")
    first.hover()
    expect(page.locator(f'#sky .footprint[data-obsid="{obsid}"]')).to_have_class(
        re.compile("hover")
    )
    page.locator(f'#sky .footprint[data-obsid="{obsid}"]').dispatch_event("click")
    expect(first).to_have_class(re.compile("selected"))
    expect(page.get_by_role("button", name=re.compile("Add 1 selected"))).to_be_enabled()


def test_a_search_renders_in_under_a_second(page) -> None:  # type: ignore[no-untyped-def]
    search_from_home(page, "m57 r=1m")  # the first search in a process also loads the catalogue
    page.get_by_label("Object name or coordinates").fill("NGC 6720 r=2m")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#query-display")).to_contain_text("radius: 0.03333°")
    assert int(page.locator("#results").get_attribute("data-render-ms")) < 1000


def test_advanced_search_mission_instrument_target_wildcards(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search")
    page.get_by_role("button", name="Advanced Search").click()
    dialog = page.get_by_role("dialog", name="Advanced Search")
    dialog.get_by_label("Mission").fill("JWST")
    dialog.get_by_label("Instrument", exact=True).fill("MIRI*")
    dialog.get_by_label("Target Name").fill("NGC6720*")
    expect(dialog.locator("#advanced-count")).to_have_text(re.compile(r"^\d+ observations match"))
    count = int(dialog.locator("#advanced-count").inner_text().split()[0])
    dialog.locator('[aria-controls="adv-filters-values"]').click()  # value list with counts
    expect(dialog.locator("#adv-filters-values")).to_contain_text("F1000W")
    dialog.get_by_role("button", name="Search").click()
    expect(page.locator("#query-display")).to_have_text(
        "Mission: JWST; Instrument: MIRI*; Target Name: NGC6720*"
    )
    expect(page.locator("#row-count")).to_have_text(f"Displaying {count} of {count} Total Rows")
    assert all(text.startswith("MIRI") for text in column_texts(page, "Instrument"))
    assert "collection=filters" in page.url  # a permalink


def test_program_search(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Collection").select_option(label="Observations by Program ID")
    page.get_by_label("Program IDs").fill("1073,1558")
    page.keyboard.press("Enter")
    expect(page.locator("#query-display")).to_have_text("Programs 1073, 1558")
    programs = page.get_by_role("group", name="Proposal ID")
    expect(programs.locator("label")).to_have_count(2)
    page.get_by_label("Rows per page").select_option("250")
    assert set(column_texts(page, "Proposal ID")) == {"1073", "1558"}


def test_direct_download_of_a_row(page, live_server) -> None:  # type: ignore[no-untyped-def]
    search_from_home(page, "m57 r=1m")
    row = page.locator(f"{ROWS}.row-public", has_text="jw01558-o002").first
    link = row.get_by_role("link", name=re.compile("Download recommended files"))
    obsid = row.get_attribute("data-obsid")
    assert link.get_attribute("href") == f"/api/v0.1/Download/mrp?obsid={obsid}"
    if httpx.head(f"{live_server.url}/api/v0.1/Download/mrp?obsid={obsid}").status_code != 404:
        with page.expect_download() as bundle:
            link.click()
        assert bundle.value.suggested_filename.endswith((".zip", ".tar.gz"))
    # one file from the observation's details
    row.get_by_role("button", name=re.compile("Details of")).click()
    details = page.get_by_role("dialog")
    files = details.locator(".products-table tbody a")
    expect(files.first).to_be_visible()
    name = files.first.inner_text()
    with page.expect_download() as download:
        files.first.click()
    assert download.value.suggested_filename == name
    assert download.value.failure() is None
    assert details.locator(".preview img").evaluate("img => img.complete && img.naturalWidth > 0")


def test_exclusive_access_row_shows_padlock_and_asks_for_login(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?collection=program&q=4567")
    expect(page.locator("#query-display")).to_have_text("Program 4567")
    locked = page.locator(f"{ROWS}.row-exclusive").first
    expect(locked.get_by_role("img", name="Exclusive access period")).to_be_visible()
    planned = page.locator(f"{ROWS}.row-planned").first
    expect(planned.get_by_role("img", name="Planned, not yet executed")).to_be_visible()
    locked.get_by_role("link", name=re.compile("Download recommended files")).click()
    notice = page.get_by_role("dialog", name="Exclusive access")
    expect(notice).to_contain_text("exclusive-access period of program 4567")
    expect(notice.get_by_role("link", name="Log in")).to_have_attribute(
        "href", re.compile(r"^/login\?next=")
    )
    assert page.url.startswith(f"{live_server.url}/search")  # no download started
    # and the server agrees: the file needs a login
    obsid = locked.get_attribute("data-obsid")
    details = httpx.get(f"{live_server.url}/api/portal/observations/{obsid}").json()
    answer = httpx.get(live_server.url + details["products"][0]["download"])
    assert answer.status_code == 401


def test_details_of_exclusive_data_show_a_padlock_not_a_refused_preview(  # type: ignore[no-untyped-def]
    page, demo_archive
) -> None:
    """Anonymous: a padlock and no request for the preview (the console stays clean); the PI
    logged in: the preview image itself."""
    with demo_archive.engine.begin() as conn:
        obsid = conn.execute(
            select(observations.c.obsid)
            .where(observations.c.proposal_id == "4567", observations.c.jpegURL.is_not(None))
            .limit(1)
        ).scalar_one()
        email = f"pi-preview-{obsid}@example.org"
        user_id = users.create_user(conn, email=email, password="a long enough password").user_id
        grants.set_pi(conn, "4567", user_id=user_id)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/search?collection=program&q=4567")
    row = page.locator(f'{ROWS}[data-obsid="{obsid}"]')
    row.get_by_role("button", name=re.compile("Details of")).click()
    details = page.get_by_role("dialog")
    locked = details.locator(".preview.locked")
    expect(locked).to_contain_text("exclusive-access period of program 4567")
    expect(details.locator(".preview img")).to_have_count(0)
    assert not [url for url in asked if "Download/file" in url]

    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    page.goto("/search?collection=program&q=4567")
    row.get_by_role("button", name=re.compile("Details of")).click()
    image = details.locator(".preview img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    expect(details.locator(".preview.locked")).to_have_count(0)


def test_unresolvable_name_and_keyword_collection_panel(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("status of 400")  # the search API answers the unknown name with 400
    assert page.goto("/search?q=nosuchobject").ok
    expect(page.get_by_role("alert")).to_contain_text("Could not resolve 'nosuchobject'")
    page.get_by_role("button", name="283.396 33.029 r=0.02d").click()
    expect(page.get_by_label("Object name or coordinates")).to_have_value("283.396 33.029 r=0.02d")
    page.get_by_label("Collection").select_option(label="JWST Instrument Keywords")
    # the keyword collection (tests/e2e/test_keyword_portal_browser.py): its own panel
    panel = page.get_by_role("search")
    expect(panel.get_by_label("Instrument", exact=True)).to_be_visible()
    expect(panel.get_by_role("button", name="Keyword filters")).to_be_visible()
    expect(panel.get_by_role("button", name="Advanced Search")).to_be_hidden()
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_enabled()


def test_sorting_columns_and_keyboard(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?q=m57%20r%3D1m")
    expect(page.locator("#results")).to_be_visible()
    header = page.locator('#grid th[data-name="instrument_name"]')
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    values = column_texts(page, "Instrument")
    assert values == sorted(values)
    page.get_by_role("button", name="Edit Columns").click()
    page.get_by_role("dialog", name="Edit Columns").get_by_label("Principal Investigator").check()
    page.get_by_role("dialog", name="Edit Columns").get_by_role("button", name="Done").click()
    expect(page.locator('#grid th[data-name="proposal_pi"]')).to_be_visible()
    # keyboard: tab to the first row's checkbox and select it with the space bar
    page.locator(f"{ROWS} input[type=checkbox]").first.focus()
    page.keyboard.press("Space")
    expect(page.locator(ROWS).first).to_have_class(re.compile("selected"))


def test_phone_width(page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    search_from_home(page, "m57 r=1m")
    expect(page.locator("#query-display")).to_have_text("MESSIER 057, radius: 0.01667°")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"


def test_select_all_rows_on_the_page(page) -> None:  # type: ignore[no-untyped-def]
    search_from_home(page, "m57 r=1m")
    rows = page.locator(ROWS).count()
    assert rows > 1
    page.get_by_label("Select all rows on this page").check()
    expect(page.locator(f"{ROWS} input[type=checkbox]:checked")).to_have_count(rows)
    expect(page.get_by_role("button", name=re.compile(f"Add {rows} selected"))).to_be_enabled()
    page.get_by_label("Select all rows on this page").uncheck()
    expect(page.locator(f"{ROWS} input[type=checkbox]:checked")).to_have_count(0)
