"""Write the portal's screenshots for the docs (PNG, 1280x800) into docs/screenshots/.

    .venv/bin/python -m tests.portal.screenshots

Builds the demo archive in a temporary directory, serves it on a free port and drives
Debian's headless Chromium through the pages the README shows.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from skyarchive.archive import Archive
from skyarchive.cli import DEMO_HIPS_ORDER
from skyarchive.config import Settings
from skyarchive.demo import generate
from skyarchive.ingest.hips import build_hips
from skyarchive.ingest.run import ingest_paths
from tests.e2e.conftest import LiveServer
from tests.portal.browser import LAUNCH_ARGS, VIEWPORT
from tests.tools import CHROMIUM

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shoot(base_url: str) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        page = browser.new_page(base_url=base_url, viewport=VIEWPORT)

        def save(name: str) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path))
            written.append(path)

        page.goto("/")
        save("home")
        page.get_by_role("button", name="M57 r=1m").click()
        page.keyboard.press("Enter")
        expect(page.locator("#results")).to_be_visible()
        page.get_by_role("group", name="Mission").get_by_role("checkbox", name="JWST").check()
        instrument = page.get_by_role("group", name="Instrument")
        instrument.get_by_role("checkbox", name="MIRI/IFU").check()
        page.locator("#grid tbody tr").nth(1).hover()
        save("search-results")
        shoot_sky(page, written)
        page.get_by_role("button", name="Details of").first.click()
        expect(page.locator("#details .products-table")).to_be_visible()
        save("observation-details")
        page.goto("/search?advanced=1")
        dialog = page.get_by_role("dialog", name="Advanced Search")
        dialog.get_by_label("Mission").fill("JWST")
        dialog.get_by_label("Instrument", exact=True).fill("MIRI*")
        dialog.get_by_label("Target Name").fill("NGC6720*")
        dialog.locator('[aria-controls="adv-filters-values"]').click()
        expect(dialog.locator("#adv-filters-values label").first).to_be_visible()
        expect(dialog.locator("#advanced-count")).to_contain_text("match")
        save("advanced-search")
        page.goto("/search?collection=program&q=4567")
        expect(page.locator("#results")).to_be_visible()
        save("exclusive-access")
        page.goto("/search?q=m57%20r%3D1m")
        expect(page.locator("#results")).to_be_visible()
        boxes = page.locator("#grid tbody tr input[type=checkbox]")
        for index in range(boxes.count()):  # one by one: see test_portal_basket.add_all_rows
            boxes.nth(index).check()
        page.get_by_role("button", name="selected to basket").click()
        expect(page.locator("#query-display")).to_contain_text("Added")
        page.goto("/basket")
        expect(page.locator("#basket-body")).to_be_visible()
        page.get_by_role("button", name="Show the files of").first.click()
        save("basket")
        shoot_keywords(page, save)
        browser.close()
    return written


def shoot_keywords(page, save) -> None:  # type: ignore[no-untyped-def]
    """The JWST Instrument Keywords collection: its filter dialog and its files."""
    from playwright.sync_api import expect

    page.goto("/search?collection=keywords&instrument=NIRISS&keyword=exp_type")
    dialog = page.get_by_role("dialog", name="Keyword filters")
    expect(dialog.locator("#kw-exp_type-values label").first).to_be_visible()
    dialog.locator("#kw-exp_type-values").get_by_role("checkbox").first.check()
    dialog.get_by_label("tsovisit").fill("T")
    expect(dialog.locator("#si-filters-count")).to_contain_text("files match")
    save("keyword-filters")
    dialog.get_by_role("button", name="Search").click()
    expect(page.locator("#row-count")).to_contain_text("Total")
    page.locator("#grid tbody tr input[type=checkbox]").first.check()
    save("keyword-search")


def shoot_sky(page, written: list[Path]) -> None:  # type: ignore[no-untyped-def]
    """The sky view alone: M57's mosaics behind the footprints, the cursor's RA/Dec below."""
    from playwright.sync_api import expect

    page.goto("/search?q=m57%20r%3D1m")
    expect(page.locator("#sky .footprint").first).to_be_attached()
    page.wait_for_function(
        "() => Number(document.querySelector('#sky .sky-stage').dataset.tiles) > 0"
    )
    page.wait_for_timeout(500)
    box = page.locator("#sky .sky-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.4)
    path = OUT / "sky-view.png"
    page.locator("#sky-area").screenshot(path=str(path))
    written.append(path)


def demo_archive(tmp: Path, prepare: Callable[[Archive], None] | None = None) -> Archive:
    """The demo pipeline output ingested into a new archive under ``tmp``; ``prepare`` runs on
    the empty archive first (accounts, subscriptions that the ingest's events should reach)."""
    out = tmp / "pipeline"
    generate(out, seed=1, scale=1)
    archive = Archive.open(Settings(home=tmp / "home"))
    if prepare is not None:
        prepare(archive)
    ingest_paths([out], engine=archive.engine, storage=archive.storage, default_eap_months=12)
    build_hips(engine=archive.engine, storage=archive.storage, max_order=DEMO_HIPS_ORDER)
    return archive


def main() -> int:
    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        archive = demo_archive(Path(tmp))
        with LiveServer(archive) as server:
            # the first search loads the name resolver's catalogue: seconds on a busy machine,
            # longer than the page's expectations wait
            first = {"collection": "position", "text": "m57 r=1m", "pagesize": 50}
            httpx.post(f"{server.url}/api/portal/search", json=first, timeout=300)
            for path in shoot(server.url):
                print(path)
        archive.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
