# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""What the portal tells a person whose search finds nothing or cannot be read (Chromium)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from skyarchive.db.tables import observations
from tests.portal.browser import chromium, console, page  # noqa: F401  (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def program_search(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Collection").select_option(label="Observations by Program ID")
    page.get_by_label("Program IDs").fill(text)
    page.keyboard.press("Enter")


def test_a_program_without_observations_says_so(page, demo_archive) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        known = set(conn.scalars(select(observations.c.proposal_id).distinct()))
    assert "9999" not in known and "09999" not in known
    program_search(page, "9999")
    expect(page.locator("#status")).to_contain_text("No observations found for program 9999")
    expect(page.get_by_role("alert")).to_be_hidden()


def test_too_many_program_ids_name_the_limit(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("status of 400")  # the search API answers with 400 and the reason
    # 500 IDs: the home page's form puts the text in the URL (10,000 are tested on the API)
    program_search(page, ", ".join(str(1000 + i) for i in range(500)))
    expect(page.get_by_role("alert")).to_contain_text(
        "At most 200 program IDs per search (got 500)"
    )


def test_an_unreadable_date_is_named_not_dropped(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("status of 400")
    page.goto("/search")
    page.get_by_role("button", name="Advanced Search").click()
    dialog = page.get_by_role("dialog", name="Advanced Search")
    dialog.locator("#adv-t_min-min").fill("last tuesday")
    count = dialog.locator("#advanced-count")
    expect(count).to_contain_text("Start Time (t_min): 'last tuesday' is not a date")
    expect(count).to_contain_text("YYYY-MM-DD")
    dialog.locator("#adv-t_min-min").fill("2022-05-01")
    expect(count).to_have_text(re.compile(r"^\d+ observations match"))
