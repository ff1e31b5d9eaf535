# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The EDB page in Chromium: log in, plot three hours of a 4 Hz mnemonic, zoom, get the CSV;
and the "EDB" action of a JWST observation row. Screenshots are kept as test artifacts."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from skyarchive.access import users
from skyarchive.archive import Archive
from tests.e2e.test_edb_contract import _source_rows, telemetry_dir  # noqa: F401  (fixture)
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("edb-screenshots")


def _log_in(page, demo_archive: Archive) -> None:  # type: ignore[no-untyped-def]
    email = f"engineer-{uuid.uuid4().hex[:6]}@example.org"
    with demo_archive.engine.begin() as conn:
        users.create_user(conn, email=email, display_name="Engineer", password=PASSWORD)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_plot_zoom_and_csv_of_a_4hz_mnemonic(page, demo_archive, telemetry_dir, artifacts) -> None:  # type: ignore[no-untyped-def]
    start, end = datetime(2022, 7, 4, 9, 0, 0), datetime(2022, 7, 4, 12, 0, 0)
    page.goto(
        f"/edb?mnemonic=SA_ZATTEST1&start={start:%Y-%m-%dT%H:%M:%S}&end={end:%Y-%m-%dT%H:%M:%S}"
    )
    _log_in(page, demo_archive)  # login is required, as at MAST; back here with the range
    expect(page).to_have_url(re.compile(r"/edb\?mnemonic=SA_ZATTEST1"))
    plot = page.locator("#edb-plot")
    expect(plot).to_have_attribute("data-buckets", re.compile(r"^\d+$"))
    source = _source_rows(telemetry_dir, "SA_ZATTEST1")
    inside = [r for r in source if start <= r[0] <= end]
    assert int(plot.get_attribute("data-samples") or 0) == len(inside)
    expect(page.locator("#edb-description")).to_contain_text("Attitude estimate quaternion")
    expect(page.get_by_role("status")).to_contain_text("samples in")
    page.screenshot(path=str(artifacts / "edb-3-hours.png"), full_page=True)

    # drag across the middle third: the range narrows, fewer samples
    box = plot.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(page).not_to_have_url(re.compile(r"start=2022-07-04T09%3A00%3A00"))
    expect(page.get_by_role("button", name="Whole range")).to_be_visible()
    zoomed = page.locator("#edb-plot[data-samples]")
    page.wait_for_function(
        "n => Number(document.getElementById('edb-plot').dataset.samples) < n", arg=len(inside)
    )
    assert 0 < int(zoomed.get_attribute("data-samples") or 0) < len(inside) / 2
    page.screenshot(path=str(artifacts / "edb-zoomed.png"), full_page=True)

    # the CSV is the pipeline's, for the range shown, with the session's cookie
    href = page.get_by_role("link", name="CSV").get_attribute("href")
    assert href and "mast%3Ajwstedb%2FSA_ZATTEST1-20220704T" in href
    answer = page.request.get(href)
    assert answer.status == 200
    body = answer.body()
    assert body.startswith(b"theTime,MJD,euvalue,sqldataType\r\n")


def test_edb_action_of_a_jwst_observation_row(page, demo_archive, telemetry_dir, artifacts) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search?collection=program&q=4567")
    action = page.get_by_role("link", name=re.compile(r"^EDB of ")).first
    expect(action).to_be_visible()
    href = action.get_attribute("href") or ""
    start_mjd = float(re.search(r"start=([\d.]+)", href).group(1))  # type: ignore[union-attr]
    end_mjd = float(re.search(r"end=([\d.]+)", href).group(1))  # type: ignore[union-attr]
    assert end_mjd > start_mjd
    action.click()
    _log_in(page, demo_archive)
    expect(page).to_have_url(re.compile(r"/edb\?"))
    from astropy.time import Time

    start_box = page.get_by_label("Start (UTC or MJD)")
    expect(start_box).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT"))  # the MJD, as UTC
    shown = start_box.input_value()
    assert abs(Time(shown, scale="utc").mjd - start_mjd) < 2 / 86400  # whole seconds
    page.get_by_label("Mnemonic").fill("IMIR_HK_FPA_TEMP")
    page.get_by_role("button", name="Plot").click()
    expect(page.get_by_role("status")).to_contain_text("samples in")
    page.screenshot(path=str(artifacts / "edb-from-observation.png"), full_page=True)
