# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The portal's "JWST Instrument Keywords" collection in real headless Chromium: the seed's
keyword tutorial end to end, over the demo archive.

NIRISS, exp_type NIS_SOSS (the dialog counts it), tsovisit T and a date range; the files, sorted
and with a chosen column; files to the basket and a zip of them; exclusive-access files refused
to an anonymous visitor; "Show observations" to the observation grid and its products. Every
expected value is computed here from the archive's stored headers and catalog rows.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from tests.keyword_files import listed_files
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

ROWS = "#grid tbody tr"
MJD_ZERO = datetime(1858, 11, 17, tzinfo=UTC)
LEVEL_2A = ("RAMP", "RATE", "RATEINTS")  # JWST level-2a products: ramps and count rates


def list_of(demo_archive, instrument: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return list(listed_files(demo_archive, instrument).values())


def observed_mjd(header: dict) -> float:  # type: ignore[type-arg]
    when = datetime.fromisoformat(f"{header['DATE-OBS']}T{header.get('TIME-OBS') or '00:00:00'}")
    return (when.replace(tzinfo=UTC) - MJD_ZERO).total_seconds() / 86400


def now_mjd() -> float:
    return (datetime.now(UTC) - MJD_ZERO).total_seconds() / 86400


def column_texts(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    headers = [h.strip() for h in page.locator("#grid thead th").all_text_contents()]
    index = next(i for i, h in enumerate(headers) if h.rstrip(" ▲▼") == name)
    return page.locator(f"{ROWS} td:nth-child({index + 1})").all_text_contents()


def total_of(page) -> int:  # type: ignore[no-untyped-def]
    expect(page.locator("#row-count")).to_contain_text("Total")
    text = page.locator("#row-count").inner_text()
    return int(re.search(r"of ([\d,]+) Total", text).group(1).replace(",", ""))


def test_niriss_keyword_tutorial_to_basket_and_observations(page, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = list_of(demo_archive, "NIRISS")
    soss = [f for f in files if f["header"].get("EXP_TYPE") == "NIS_SOSS"]
    tso = [f for f in soss if str(f["header"].get("TSOVISIT")).upper().startswith("T")]
    times = sorted({observed_mjd(f["header"]) for f in tso})
    assert len(times) > 1, "the demo's SOSS time series spans several exposures"
    cut = (times[0] + times[1]) / 2  # from between the first two exposures ...
    last_day = datetime.fromtimestamp((times[-1] - 40587) * 86400, UTC).strftime("%Y-%m-%d")
    expected = sorted((f for f in tso if observed_mjd(f["header"]) >= cut),
                      key=lambda f: f["productFilename"])  # fmt: skip
    assert 1 < len(expected) < len(tso)

    page.goto("/")
    page.get_by_label("Collection").select_option(label="JWST Instrument Keywords")
    page.get_by_label("Instrument", exact=True).select_option(label="NIRISS")
    page.get_by_role("button", name="Keyword filters").click()
    dialog = page.get_by_role("dialog", name="Keyword filters")
    expect(dialog).to_be_visible()
    dialog.locator('[aria-controls="kw-exp_type-values"]').click()
    choice = dialog.locator("#kw-exp_type-values label", has_text="NIS_SOSS")
    expect(choice).to_have_text(re.compile(rf"NIS_SOSS\s+\({len(soss)} Total\)"))
    choice.get_by_role("checkbox").check()
    dialog.get_by_label("tsovisit").fill("T")
    dialog.locator("#kw-date_obs_mjd-min").fill(f"{cut:.6f}")
    dialog.locator("#kw-date_obs_mjd-max").fill(last_day)  # a day: to its end
    expect(dialog.locator("#si-filters-count")).to_have_text(f"{len(expected)} files match")
    dialog.get_by_role("button", name="Search").click()

    expect(page.locator("#query-display")).to_contain_text("NIRISS keywords; exp_type: NIS_SOSS")
    assert total_of(page) == len(expected)
    expect(page.locator(ROWS)).to_have_count(len(expected))
    assert "collection=keywords" in page.url and "instrument=NIRISS" in page.url

    # sort by file name, both ways (the server sorts)
    header = page.locator("#grid thead th[data-name=filename]")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    names = [f["productFilename"] for f in expected]
    assert column_texts(page, "filename") == names
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator(ROWS).first).to_contain_text(names[-1])
    assert column_texts(page, "filename") == names[::-1]

    # choose a column: nints, from the header of each file
    page.get_by_role("button", name="Edit Columns").click()
    page.get_by_role("dialog", name="Edit Columns").get_by_label("nints", exact=True).check()
    page.get_by_role("dialog", name="Edit Columns").get_by_role("button", name="Done").click()
    by_name = {f["productFilename"]: f for f in expected}
    shown = dict(zip(column_texts(page, "filename"), column_texts(page, "nints"), strict=True))
    assert shown == {n: str(by_name[n]["header"]["NINTS"]) for n in shown}

    # the productLevel facet counts the whole match set
    levels: dict[str, int] = {}
    for f in expected:
        level = "3" if f["calib_level"] == 3 else "2a" if f["subgroup"] in LEVEL_2A else "2b"
        levels[level] = levels.get(level, 0) + 1
    facet = page.get_by_role("group", name="productLevel")
    for level, count in levels.items():
        label = facet.locator("label", has_text=re.compile(rf"^{level}\b"))
        expect(label).to_contain_text(f"({count} Total)")

    # two files to the basket, then a zip of exactly them
    chosen = names[:2]
    for name in chosen:
        page.get_by_role("checkbox", name=f"Select {name}").check()
    page.get_by_role("button", name="Add 2 selected files to basket").click()
    expect(page.locator("#query-display")).to_contain_text("Added 2 files to the basket")
    basket = page.request.get("/api/portal/basket").json()
    in_basket = {f["productFilename"] for m in basket["tree"] for o in m["observations"]
                 for f in o["children"]}  # fmt: skip
    assert in_basket == set(chosen)

    page.goto("/basket")
    expect(page.locator("#basket-body")).to_be_visible()
    with page.expect_download() as started:
        page.get_by_role("button", name="Download zip").click()
    with zipfile.ZipFile(Path(started.value.path())) as bundle:
        zipped = {Path(n).name for n in bundle.namelist()} - {"MANIFEST.HTML"}
    assert zipped == set(chosen)

    # back to the search (history), then Show observations: the owners, in the ordinary grid
    page.go_back()
    assert total_of(page) == len(expected)
    page.get_by_role("button", name="Show observations").click()
    owners = {str(f["owner_obsid"]) for f in expected}
    expect(page.locator("#row-count")).to_have_text(
        f"Displaying {len(owners)} of {len(owners)} Total Rows"
    )
    assert {tr.get_attribute("data-obsid") for tr in page.locator(ROWS).all()} == owners
    assert "collection=filters" in page.url
    first = page.locator(ROWS).first
    obsid = first.get_attribute("data-obsid")
    first.get_by_role("button", name=re.compile("^Details of")).click()
    details = page.get_by_role("dialog", name=re.compile(r"^jw01366"))
    expect(details.locator(".products-table")).to_be_visible()
    owned = {f["productFilename"] for f in expected if str(f["owner_obsid"]) == obsid}
    details.get_by_label("Minimum Recommended Products only").uncheck()
    for name in owned:
        expect(details.locator(".products-table")).to_contain_text(name)


def test_exclusive_access_files_are_marked_and_refused_to_anonymous(page, demo_archive) -> None:  # type: ignore[no-untyped-def]
    closed = [f for f in list_of(demo_archive, "MIRI")
              if f["t_obs_release"] is None or f["t_obs_release"] > now_mjd()]  # fmt: skip
    assert closed, "the demo archive holds MIRI files in their exclusive-access period"
    target = closed[0]["header"]["TARGNAME"]
    filters = [{"paramName": "targname", "values": [target]}]
    page.goto(f"/search?collection=keywords&instrument=MIRI&filters={quote(json.dumps(filters))}")
    matching = [f for f in list_of(demo_archive, "MIRI") if f["header"]["TARGNAME"] == target]
    assert total_of(page) == len(matching)
    locked = page.locator(f"{ROWS}.row-exclusive")
    expect(locked).to_have_count(len([f for f in matching if f in closed]))

    name = locked.first.locator("td").nth(4).inner_text()
    locked.first.get_by_role("link", name=f"Download {name}").click()
    notice = page.get_by_role("dialog", name="Exclusive access")
    expect(notice).to_contain_text(f"{name} is in the exclusive-access period")
    product_id = next(f["product_id"] for f in closed if f["productFilename"] == name)
    refused = page.request.get(locked.first.get_by_role("link", name=f"Download {name}")
                               .get_attribute("href"))  # fmt: skip
    assert refused.status in (401, 403)

    # in the basket, but the zip leaves it out
    page.keyboard.press("Escape")
    page.get_by_role("checkbox", name=f"Select {name}").check()
    page.get_by_role("button", name="Add 1 selected file to basket").click()
    expect(page.locator("#query-display")).to_contain_text("Added 1 file to the basket")
    basket = page.request.get("/api/portal/basket").json()
    node = next(f for m in basket["tree"] for o in m["observations"] for f in o["children"]
                if f["product_id"] == product_id)  # fmt: skip
    assert node["restricted"] and not node["may_retrieve"]


def test_deep_links_restore_a_search_and_open_a_keyword_dialog(page, demo_archive) -> None:  # type: ignore[no-untyped-def]
    nircam = list_of(demo_archive, "NIRCAM")
    subarrays: dict[str, int] = {}
    for f in nircam:
        value = f["header"].get("SUBARRAY")
        if value:
            subarrays[value.upper()] = subarrays.get(value.upper(), 0) + 1
    page.goto("/search?collection=keywords&instrument=NIRCAM&keyword=subarray")
    dialog = page.get_by_role("dialog", name="Keyword filters")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("subarray")).to_be_focused()
    for value, count in subarrays.items():
        expect(dialog.locator("#kw-subarray-values")).to_contain_text(f"{value} ({count} Total)")

    some = sorted({f["header"]["EXP_TYPE"] for f in nircam})[0]
    filters = [{"paramName": "exp_type", "values": [some]}]
    page.goto(f"/search?collection=keywords&instrument=NIRCAM&filters={quote(json.dumps(filters))}")
    expected = [f for f in nircam if f["header"]["EXP_TYPE"] == some]
    assert total_of(page) == len(expected)
    expect(page.locator("#si-instrument")).to_have_value("NIRCAM")


def test_bad_keyword_filters_show_the_message(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("status of 400")  # the keyword API answers 400 with the reason
    filters = [{"paramName": "subarrey", "values": ["FULL"]}]
    page.goto(f"/search?collection=keywords&instrument=NIRCAM&filters={quote(json.dumps(filters))}")
    expect(page.locator("#error")).to_contain_text("Did you mean 'subarray'")
    page.goto("/search?collection=keywords&instrument=NIRISS")
    page.get_by_role("button", name="Keyword filters").click()
    dialog = page.get_by_role("dialog", name="Keyword filters")
    dialog.locator("#kw-date_obs_mjd-min").fill("2022-08-05")
    dialog.locator("#kw-date_obs_mjd-max").fill("2022-08-01")
    expect(dialog.locator("#si-filters-count")).to_contain_text("the range starts after it ends")
    page.goto("/search?collection=keywords&instrument=WFC3")
    expect(page.locator("#error")).to_contain_text("Unknown instrument 'WFC3'")
