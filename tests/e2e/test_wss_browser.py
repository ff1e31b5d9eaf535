# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The "JWST WSS" collection in Chromium: a date range, the grid, OPD previews with colour
bar and RMS, the RMS-over-time plot. Screenshots are kept as test artifacts."""

from __future__ import annotations

import io
import re

import pytest
from astropy.time import Time
from PIL import Image

from skyarchive.demo.wss import DEMO_SENSINGS
from tests.e2e.test_wss import wss_dir  # noqa: F401  (fixture)
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)


def _search_june_30_to_july_6(page, form):  # type: ignore[no-untyped-def]
    """Fill From and To of ``form``, search, and check the /wss page lists the demo's
    sensings of those days; (their times, the table's rows)."""
    form.get_by_label("From").fill("2022-06-30")
    form.get_by_label("To").fill("2022-07-06")
    form.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/wss\?start=2022-06-30&end=2022-07-06$"))
    low, high = Time("2022-06-30").mjd, Time("2022-07-06").mjd
    expected = [m for m, _ap in DEMO_SENSINGS if low <= Time(m).mjd <= high]
    rows = page.get_by_role("table", name="WSS products").locator("tbody tr")
    expect(rows).to_have_count(len(expected))
    return expected, rows


def test_wss_collection_by_date_range(
    page, console, wss_dir, tmp_path_factory: pytest.TempPathFactory
) -> None:  # type: ignore[no-untyped-def]
    artifacts = tmp_path_factory.mktemp("wss-screenshots")
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="JWST WSS").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("JWST WSS")
    expected, rows = _search_june_30_to_july_6(page, page.get_by_role("main"))
    expect(page.get_by_role("status")).to_have_text(f"{len(expected)} products")
    dates = rows.locator("td:first-child").all_inner_texts()
    assert dates == [f"{m:%Y-%m-%d %H:%M:%S}" for m in expected]
    dots = page.get_by_role("img", name="RMS wavefront error over time").locator("circle")
    expect(dots).to_have_count(len(expected))

    # each preview is an image with a colour bar; it loaded (natural width > 0)
    first = rows.first.get_by_role("img")
    expect(first).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.wss-thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    source = first.get_attribute("src") or ""
    png = page.request.get(source)
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.body()))
    assert image.width > image.height  # the map and its colour bar side by side
    page.screenshot(path=str(artifacts / "wss-collection.png"), full_page=True)

    # a bad date is a clear 400 page, not a 500 (the browser logs the 400: expected here)
    console.allow("/wss?start=yesterday")
    answer = page.goto("/wss?start=yesterday")
    assert answer is not None and answer.status == 400


def test_wss_is_a_collection_of_the_search_panel(page, wss_dir) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    # the home page counts the maps among the files and says where they are
    expect(page.locator("#wss-total")).to_contain_text(f"{len(DEMO_SENSINGS)}")
    expect(page.locator("#wss-total").get_by_role("link", name="JWST WSS")).to_have_attribute(
        "href", "/wss"
    )
    panel = page.get_by_role("search", name="Search observations")
    panel.get_by_label("Collection").select_option(label="JWST WSS (wavefront sensing maps)")
    expect(panel.get_by_label("Object name or coordinates")).to_be_hidden()
    _search_june_30_to_july_6(page, panel)
