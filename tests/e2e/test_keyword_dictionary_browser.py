# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The Keyword Dictionary page in Chromium: "what does SUBARRAY mean for NIRCam?"."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_keyword_dictionary import (
    SUBARRAY_NIRCAM_ONLY,
    SUBARRAY_NIRSPEC_ONLY,
    schema_keywords,
)
from tests.portal.browser import chromium, console, page  # noqa: F401  (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_what_does_subarray_mean_for_nircam(page) -> None:  # type: ignore[no-untyped-def]
    title = schema_keywords()[("PRIMARY", "SUBARRAY")][0]["title"]
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Keywords").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("JWST Keyword Dictionary")
    # The heading shows while the page is parsed; its script (which reloads on a new
    # instrument) runs before DOMContentLoaded: wait for that, or a busy machine races it.
    page.wait_for_load_state("domcontentloaded")

    page.get_by_label("Instrument", exact=True).select_option(
        label="NIRCam"
    )  # reloads for NIRCam's values
    expect(page).to_have_url(re.compile(r"instrument=NIRCam"))
    expect(page.get_by_role("heading", level=1)).to_have_text("JWST Keyword Dictionary: NIRCam")
    page.get_by_label("Keyword", exact=True).fill("subarray")  # filtered as typed, no reload

    entry = page.locator("article.keyword-entry", has=page.get_by_role("heading", name="SUBARRAY"))
    expect(entry).to_be_visible()
    expect(entry).to_contain_text(title)
    values = entry.locator(".keyword-values")
    expect(values).to_contain_text(SUBARRAY_NIRCAM_ONLY)
    expect(values).not_to_contain_text(SUBARRAY_NIRSPEC_ONLY)
    shown = page.locator("article.keyword-entry:visible")
    for name in shown.locator("h2 code").all_inner_texts():
        assert "SUBARRAY" in name
    count = shown.count()
    expect(page.locator("#keyword-count")).to_have_text(
        f"{count} keyword{'' if count == 1 else 's'}"
    )
    expect(page.locator("article.keyword-entry", has_text="EXP_TYPE")).to_be_hidden()

    # titles and descriptions only when ticked
    page.get_by_label("Keyword", exact=True).fill("readout axis")
    expect(page.locator("#keyword-count")).to_have_text("0 keywords")
    page.get_by_label("also match titles and descriptions").check()
    expect(page.locator("article.keyword-entry:visible h2 code")).to_have_text(
        ["FASTAXIS", "SLOWAXIS"]
    )

    # the keyword leads to the search dialog that uses it
    page.get_by_label("also match titles and descriptions").uncheck()
    page.get_by_label("Keyword", exact=True).fill("subarray")
    entry.locator(".keyword-links").get_by_role("link", name="NIRCam").click()
    expect(page).to_have_url(
        re.compile(r"/search\?collection=keywords&instrument=NIRCam&keyword=subarray$")
    )
    expect(page.get_by_label("Collection")).to_have_value("keywords")


def test_a_mode_of_nircam_and_its_keywords(page) -> None:  # type: ignore[no-untyped-def]
    title = schema_keywords()[("PRIMARY", "SUBARRAY")][0]["title"]
    page.goto("/keywords")
    tree = page.get_by_role("navigation", name="Instruments and modes")
    nircam = tree.locator("li", has=page.get_by_role("link", name="NIRCam", exact=True))
    nircam.locator("summary").first.click()
    nircam.get_by_role("link", name="Coronagraphy").click()
    expect(page).to_have_url(re.compile(r"instrument=NIRCam&mode=Coronagraphy"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "JWST Keyword Dictionary: NIRCam, Coronagraphy"
    )
    first = page.locator("article.keyword-entry").first
    expect(first.locator("h2 code")).to_have_text("CORONMSK")
    expect(first.locator(".keyword-modes")).to_have_text("Coronagraphy only")

    page.get_by_label("Keyword", exact=True).fill("subarray")
    entry = page.locator("article.keyword-entry", has=page.get_by_role("heading", name="SUBARRAY"))
    expect(entry).to_contain_text(title)
    expect(entry.locator(".keyword-modes")).to_contain_text("every mode")
    expect(entry.locator(".keyword-values")).to_contain_text(SUBARRAY_NIRCAM_ONLY)
    entry.locator(".keyword-links").get_by_role("link", name="NIRCam").click()
    expect(page).to_have_url(
        re.compile(r"/search\?collection=keywords&instrument=NIRCam&keyword=subarray$")
    )
