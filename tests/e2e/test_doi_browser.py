"""In Chromium: build a data set from a search, reserve its DOI, open its landing page, download,
and find the observations again by DOI (the search panel and MAST's DOIOBS permalink).

Screenshots of each step are written to ``test-artifacts/doi/`` (or ``$SKYARCHIVE_ARTIFACTS``)
for people to look at; the page policy holds throughout (no console error, so the JSON-LD and
DataCite data blocks break no CSP rule).
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from skyarchive.access import users
from skyarchive.db.tables import observations
from tests.e2e.callers import PASSWORD
from tests.portal.browser import chromium, console, expect, page  # noqa: F401

ROWS = "#grid tbody tr"
ARTIFACTS = Path(os.environ.get("SKYARCHIVE_ARTIFACTS", "test-artifacts")) / "doi"


def _shot(tab, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_doi_from_a_search_to_a_download(page, demo_archive) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    email = f"doi-author-{uuid.uuid4().hex[:6]}@example.org"
    with demo_archive.engine.begin() as conn:
        users.create_user(conn, email=email, display_name="Doi Author", password=PASSWORD)
        program = set(conn.execute(
            select(observations.c.obs_id).where(observations.c.proposal_id == "1073")
        ).scalars())  # fmt: skip

    # Signed in, a search for program 1073; "Create a DOI" takes every row shown.
    page.goto(f"/login?next={quote('/search?collection=program&q=1073', safe='')}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(ROWS).first).to_be_visible()
    total = len(program)
    expect(page.locator("#row-count")).to_contain_text(f"of {total} Total Rows")
    _shot(page, "1-search")
    page.get_by_role("button", name="Create a DOI").click()

    expect(page.get_by_role("heading", name="Create a DOI")).to_be_visible()
    expect(page.locator("#source-text")).to_contain_text(f"The {total} observations of your search")
    page.get_by_label("Title").fill("NIRCam imaging of program 1073")
    page.get_by_label("Creators").fill("Lovelace, Ada\nHopper, Grace")
    page.get_by_label("Description").fill("Every observation of program 1073 used in the paper.")
    page.get_by_label("Related paper").fill("2023Natur.614..659R")
    _shot(page, "2-create")
    page.get_by_role("button", name="Reserve the DOI").click()

    # The landing page: title, creators, citation, draft state, the observations.
    expect(page).to_have_url(re.compile(r"/doi/10\.5072/sky-[0-9a-z]{4}-[0-9a-z]{4}$"))
    doi = page.url.split("/doi/", 1)[1]
    expect(page.get_by_role("heading", name="NIRCam imaging of program 1073")).to_be_visible()
    expect(page.locator("#doi-creators")).to_have_text("Lovelace, Ada; Hopper, Grace")
    expect(page.locator("#doi-state")).to_have_text("draft")
    expect(page.locator("#citation")).to_contain_text(f"https://doi.org/{doi}")
    expect(page.locator("#availability")).to_contain_text(f"All {total} observations are public")
    expect(page.locator("#doi-observations tbody tr")).to_have_count(total)
    linked = set(page.locator("#doi-observations tbody tr td:first-child a").all_inner_texts())
    assert linked == program
    schema = json.loads(page.locator('script[type="application/ld+json"]').text_content() or "")
    assert schema["name"] == "NIRCam imaging of program 1073"
    _shot(page, "3-landing")

    # One click: the recommended products as a zip.
    with page.expect_download() as download:
        page.get_by_role("link", name="Recommended products (zip)").click()
    saved = download.value.path()
    names = zipfile.ZipFile(io.BytesIO(Path(saved).read_bytes())).namelist()
    assert "MANIFEST.HTML" in names
    assert any(name.split("/")[1] in program for name in names if name.count("/") == 2)

    # Found again by DOI: the search panel's DOI collection, then MAST's DOIOBS permalink.
    page.get_by_role("link", name=re.compile(r"^Search all \d+ observations")).click()
    expect(page.locator("#collection")).to_have_value("doi")
    expect(page.locator("#row-count")).to_contain_text(f"of {total} Total Rows")
    expect(page.locator("#query-display")).to_contain_text(f"DOI {doi}")
    _shot(page, "4-search-by-doi")
    query = json.dumps({"service": "DOIOBS", "inputText": doi.upper()})
    page.goto(f"/portal/Mashup/Clients/Mast/Portal.html?searchQuery={quote(query)}")
    expect(page.locator("#row-count")).to_contain_text(f"of {total} Total Rows")
    expect(page.locator("#q")).to_have_value(doi.upper())
