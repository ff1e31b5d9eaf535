# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""Issue 17 in Chromium: shared links, back/forward, Album View with previews, exports read
back by astropy, and the 1280 px and 390 px layouts. Screenshots are kept as test artifacts
(``$SKYARCHIVE_TEST_ARTIFACTS``, else ``test-artifacts/`` in the working directory)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import httpx
from astropy.io import fits
from astropy.io import votable as astropy_votable
from astropy.table import Table

from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

ROWS = "#grid tbody tr"
ARTIFACTS = Path(os.environ.get("SKYARCHIVE_TEST_ARTIFACTS", "test-artifacts")) / "portal-results"
JWST = json.dumps([{"paramName": "obs_collection", "values": ["JWST"]}])


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def obs_ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.strip() for t in page.locator(f'{ROWS} td[data-column="obs_id"]').all_text_contents()]


def reference_total(live_server, **body) -> dict:  # type: ignore[no-untyped-def]
    """The search API's own answer, to compare what the page shows with."""
    answer = httpx.post(f"{live_server.url}/api/portal/search", json=body, timeout=30)
    assert answer.status_code == 200
    return answer.json()


def test_shared_link_reproduces_a_filtered_sorted_paged_page(page, chromium, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/search?collection=filters&filters={quote(JWST)}")
    expect(page.locator("#results")).to_be_visible()
    page.get_by_label("Rows per page").select_option("25")
    rights = page.get_by_role("group", name="Data Rights")
    rights.get_by_role("checkbox", name="public").check()
    header = page.locator('#grid th[data-name="obs_id"]')
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#pager")).to_contain_text("Page 2 of")
    expected = reference_total(
        live_server, collection="filters", filters=json.loads(JWST),
        facets={"dataRights": ["PUBLIC"]}, sort="obs_id", descending=True, page=2,
        pagesize=25,
    )  # fmt: skip
    assert obs_ids(page) == [r["obs_id"] for r in expected["rows"]] != []
    first = page.locator(ROWS).first
    first.locator("input[type=checkbox]").check()
    link, shown = page.url, obs_ids(page)
    for part in ("facets=", "sort=obs_id", "desc=1", "page=2", "size=25", "sel="):
        assert part in link
    shot(page, "shared-link-source")

    other = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    try:
        again = other.new_page()
        again.goto(link)
        expect(again.locator("#pager")).to_contain_text("Page 2 of")
        assert obs_ids(again) == shown
        sorted_by = again.locator('#grid th[data-name="obs_id"]')
        expect(sorted_by).to_have_attribute("aria-sort", "descending")
        box = again.get_by_role("group", name="Data Rights").get_by_role("checkbox", name="public")
        expect(box).to_be_checked()
        expect(again.locator(ROWS).first).to_have_class(re.compile("selected"))
        expect(again.get_by_label("Rows per page")).to_have_value("25")
        shot(again, "shared-link-opened")
    finally:
        other.close()

    page.go_back()  # page 1 of the same sorted, filtered result
    expect(page.locator("#pager")).to_contain_text("Page 1 of")
    page.go_back()  # ascending
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.go_forward()
    page.go_forward()
    expect(page.locator("#pager")).to_contain_text("Page 2 of")
    assert obs_ids(page) == shown


def test_album_view_shows_previews_of_the_same_page(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?q=m57%20r%3D1m")
    expect(page.locator("#results")).to_be_visible()
    page.locator(ROWS).nth(1).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Album View").click()
    album = page.locator("#album")
    expect(album).to_be_visible()
    expect(page.locator("#grid")).to_be_hidden()
    assert "view=album" in page.url
    cards = album.locator(".album-card")
    expect(cards).to_have_count(page.locator(ROWS).count())
    expect(cards.nth(1)).to_have_class(re.compile("selected"))  # the same selection
    images = album.locator("img.thumb")
    assert images.count() > 0
    images.first.scroll_into_view_if_needed()
    expect(images.first).to_have_js_property("complete", True)
    loaded = images.evaluate_all("is => is.filter(i => i.complete && i.naturalWidth > 0).length")
    assert loaded >= 1
    shot(page, "album-view")
    # Show Preview in List View: a thumbnail per row, and the full preview in the details
    page.get_by_role("button", name="List View").click()
    page.get_by_label("Show Preview").check()
    expect(page.locator(f"{ROWS} img.thumb").first).to_be_visible()
    row = page.locator(ROWS).filter(has=page.locator("img.thumb")).first
    row.get_by_role("button", name=re.compile("Details of")).click()
    full = page.get_by_role("dialog").locator(".preview.full img")
    expect(full).to_be_visible()
    expect(full).to_have_js_property("complete", True)
    natural = full.evaluate("img => img.naturalWidth")
    assert natural > 0 and full.bounding_box()["width"] >= min(natural, 300)  # not a thumbnail
    shot(page, "preview-details")


def test_no_exclusive_preview_is_requested_for_an_outsider(page, console) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?collection=program&q=4567&view=album")
    cards = page.locator("#album .album-card.row-exclusive")
    expect(cards.first).to_be_visible()
    expect(cards.first).to_contain_text("Exclusive access")
    assert page.locator("#album .row-exclusive img.thumb").count() == 0
    shot(page, "album-exclusive-anonymous")
    # the page fixture fails the test on any console error (a 401 image would be one)


def _download(page, fmt: str, scope: str = "all"):  # type: ignore[no-untyped-def]
    page.get_by_label("Rows to export").select_option(scope)
    page.get_by_label("Export format").select_option(fmt)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export").click()
    return Path(download.value.path()).read_bytes()


def test_exports_from_the_page_read_back_by_astropy(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/search?collection=filters&filters={quote(JWST)}")
    expect(page.locator("#results")).to_be_visible()
    page.get_by_role("group", name="Instrument").get_by_role("checkbox", name="MIRI/IMAGE").check()
    expect(page.locator("#row-count")).to_contain_text("Displaying")
    chosen = {"instrument_name": ["MIRI/IMAGE"]}
    expected = reference_total(
        live_server, collection="filters", filters=json.loads(JWST), facets=chosen, pagesize=500
    )
    csv = Table.read(_download(page, "csv").decode(), format="ascii.csv")
    shown_columns = page.locator("#grid thead th[data-name]").evaluate_all(
        "ths => ths.map(th => th.dataset.name)"
    )
    assert len(csv) == expected["total"] and csv.colnames == shown_columns
    votable = astropy_votable.parse_single_table(io.BytesIO(_download(page, "votable")))
    assert len(votable.array) == expected["total"]
    assert votable.get_field_by_id_or_name("s_ra").ucd == "pos.eq.ra;meta.main"
    for row in range(2):
        page.locator(ROWS).nth(row).locator("input[type=checkbox]").check()
    with fits.open(io.BytesIO(_download(page, "fits", "selected"))) as hdus:
        selected = Table(hdus[1].data)
    keys = page.locator(f"{ROWS}.selected").evaluate_all("trs => trs.map(tr => tr.dataset.obsid)")
    assert len(selected) == 2 and len(keys) == 2


def _labels_whole(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Texts of column headers, facet names and legend items that wrap inside a word."""
    return page.evaluate("""() => {
        const broken = [];
        const lineHeight = (el) => parseFloat(getComputedStyle(el).lineHeight) || 20;
        for (const el of document.querySelectorAll('#grid th .sort')) {
            const cut = el.scrollWidth > el.clientWidth + 1;
            if (cut || el.offsetHeight > 2 * lineHeight(el)) broken.push(el.textContent);
        }
        for (const el of document.querySelectorAll('.facet-name, .legend-item')) {
            // a word wider than its box is cut or broken inside: the box must hold the longest word
            const words = el.textContent.split(/\\s+/).filter(Boolean);
            const probe = document.createElement('span');
            probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
            el.append(probe);
            for (const w of words) {
                probe.textContent = w;
                if (probe.offsetWidth > el.clientWidth + 1) broken.push(w);
            }
            probe.remove();
        }
        return broken;
    }""")


def test_layout_at_1280_and_390_pixels(page) -> None:  # type: ignore[no-untyped-def]
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/search?q=m57%20r%3D1m")
        expect(page.locator("#results")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert _labels_whole(page) == []
        grid = page.locator("#grid")  # a grid wider than its box scrolls inside it
        overflow = grid.evaluate("el => getComputedStyle(el).overflowX")
        assert overflow == "auto"
        resizable = page.locator('#grid th[data-name="obs_id"]').evaluate(
            "th => getComputedStyle(th).resize"
        )
        assert resizable == "horizontal"
        shot(page, f"layout-{width}")


def test_show_cutout_in_the_details_and_download_it(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?q=m57%20r%3D1m")
    expect(page.locator("#results")).to_be_visible()
    row = page.locator(ROWS, has_text="_t001_miri_f1000w").first
    row.get_by_role("button", name=re.compile("Details of")).click()
    dialog = page.get_by_role("dialog")
    image = dialog.get_by_label("Image")
    expect(image).to_be_visible()
    assert image.input_value().endswith("_i2d.fits")
    dialog.get_by_label("Size (arcsec)").fill("60")
    dialog.get_by_role("button", name="Show Cutout").click()
    shown = dialog.locator("figure.cutout img")
    expect(shown).to_be_visible()
    expect(shown).to_have_js_property("complete", True)
    assert shown.evaluate("img => img.naturalWidth") > 0
    shot(page, "cutout-shown")
    with page.expect_download() as download:
        dialog.get_by_role("link", name="Download cutout (FITS)").click()
    with fits.open(download.value.path()) as hdus:
        cut = next(h for h in hdus if h.data is not None)
        assert cut.data.ndim == 2 and cut.header["CTYPE1"].startswith("RA---")
