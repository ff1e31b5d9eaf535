# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The sky view in headless Chromium: the archive's sky behind the footprints, zoom, pan,
readout, keyboard, and footprints of any size across RA = 0 and around a pole.

Positions read on the page are checked with astropy (parsing the readout, offsets on the
sphere), tile corners with cdshealpix; screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import astropy.units as u
import httpx
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from cdshealpix import nested

from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STAGE = "#sky .sky-stage"


def screenshot(locator, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


def search(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/search?q={text}")
    expect(page.locator("#results")).to_be_visible(timeout=20_000)  # a busy machine is slow
    expect(page.locator("#sky .footprint").first).to_be_attached()


def readout(page, root: str = "#sky") -> SkyCoord:  # type: ignore[no-untyped-def]
    text = page.locator(f"{root} .sky-readout").inner_text().split(": ", 1)[1].replace("−", "-")
    if "°" in text:
        ra, dec = (float(part.rstrip("°")) for part in text.split())
        return SkyCoord(ra * u.deg, dec * u.deg)
    return SkyCoord(text, unit=(u.hourangle, u.deg))


def degrees_per_pixel(page) -> float:  # type: ignore[no-untyped-def]
    """From the scale bar: its label (an angle) over its drawn length in CSS pixels."""
    label = page.locator("#sky .scale-label").text_content()
    value, unit = float(label[:-1]), label[-1]
    degrees = value * {"°": 1, "′": 1 / 60, "″": 1 / 3600}[unit]
    # the bar's own geometry (Playwright's box would include the end ticks' strokes)
    width = page.evaluate(
        """() => {
          const bar = document.querySelector("#sky .scale-bar"), svg = bar.ownerSVGElement;
          const cssPerUnit = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          return bar.getBBox().width * cssPerUnit;
        }"""
    )
    return degrees / width


def settled(page, check, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``check()`` holds: the view redraws on the next animation frame."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the sky view did not redraw"
        page.wait_for_timeout(50)


def stage_centre(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.locator(STAGE).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def bright_pixels(page) -> int:  # type: ignore[no-untyped-def]
    """Pixels of the sky canvas clearly brighter than the empty background (#0e1726)."""
    return page.locator("#sky canvas").evaluate(
        """canvas => {
          const { width, height } = canvas;
          const d = canvas.getContext("2d").getImageData(0, 0, width, height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] > 60 && d[i + 1] > 60) n++;
          return n;
        }"""
    )


def test_the_sky_image_is_drawn_behind_the_footprints(page) -> None:  # type: ignore[no-untyped-def]
    search(page, "m57 r=1m")
    page.wait_for_function(f"() => Number(document.querySelector('{STAGE}').dataset.tiles) > 0")
    page.wait_for_function(
        """() => { const c = document.querySelector("#sky canvas");
           const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 60) n++; return n > 200; }"""
    )
    assert bright_pixels(page) > 200  # not all black: M57's mosaics are there
    # the footprints are drawn over the image (the SVG overlay sits above the canvas)
    order = page.evaluate(
        """() => { const s = document.querySelector("#sky .sky-stage");
           return [...s.children].map((e) => e.tagName.toLowerCase()); }"""
    )
    assert order == ["canvas", "svg"]
    screenshot(page.locator("#sky-area"), "sky-view-m57.png")


def test_zoom_pan_and_readout_on_a_search(page, live_server) -> None:  # type: ignore[no-untyped-def]
    found = httpx.post(
        f"{live_server.url}/api/portal/search", json={"collection": "position", "text": "m57 r=1m"}
    )
    position = found.json()["query"]["position"]
    target = SkyCoord(position["ra"] * u.deg, position["dec"] * u.deg)
    search(page, "m57 r=1m")
    x, y = stage_centre(page)
    scale = degrees_per_pixel(page)
    page.mouse.move(x, y)
    expect(page.locator("#sky .sky-readout")).to_contain_text("Cursor:")
    assert readout(page).separation(target).deg < 2 * scale  # the view is centred on M57
    page.mouse.move(x + 50, y)  # 50 pixels to the right: west, at the same declination
    expected = target.directional_offset_by(270 * u.deg, 50 * scale * u.deg)
    assert readout(page).separation(expected).deg < 2 * scale
    page.get_by_role("button", name="deg").click()  # degrees
    expect(page.get_by_role("button", name="deg")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#sky .sky-readout")).to_contain_text("°")
    assert readout(page).separation(target).deg < 2 * scale  # the centre, once the cursor left
    page.mouse.move(x + 50, y)
    assert readout(page).separation(expected).deg < 2 * scale

    page.get_by_role("button", name="Zoom in").click()
    settled(page, lambda: degrees_per_pixel(page) == pytest.approx(scale / 1.6, rel=0.05))
    page.get_by_role("button", name="Zoom out").click()
    settled(page, lambda: degrees_per_pixel(page) == pytest.approx(scale, rel=0.05))

    # drag the sky 60 pixels to the left: what was 60 pixels right of the centre comes to it
    page.mouse.move(x + 60, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=4)
    page.mouse.move(x, y, steps=4)
    page.mouse.up()
    page.mouse.move(x, y + 1)
    page.mouse.move(x, y)
    moved = target.directional_offset_by(270 * u.deg, 60 * scale * u.deg)
    assert readout(page).separation(moved).deg < 3 * scale
    # the wheel zooms about the cursor: the sky under it stays put
    before = readout(page)
    page.mouse.wheel(0, -400)
    settled(page, lambda: degrees_per_pixel(page) < scale * 0.9)
    page.mouse.move(x, y + 1)
    page.mouse.move(x, y)
    assert readout(page).separation(before).deg < 3 * scale
    screenshot(page.locator("#sky-area"), "sky-view-zoomed-panned.png")


def test_keyboard_and_screen_reader(page, live_server) -> None:  # type: ignore[no-untyped-def]
    search(page, "m57 r=1m")
    stage = page.locator(STAGE)
    assert stage.get_attribute("tabindex") == "0"
    expect(stage).to_have_attribute("aria-label", re.compile(r"^Sky view at \d\d:\d\d:"))
    stage.focus()
    expect(page.locator("#sky .sky-readout")).to_contain_text("Centre:")
    home = readout(page)
    scale = degrees_per_pixel(page)
    page.keyboard.press("ArrowLeft")  # east is to the left: the centre's RA grows
    after = readout(page)
    assert after.ra > home.ra and abs(after.dec.deg - home.dec.deg) < 3 * scale
    page.keyboard.press("+")
    settled(page, lambda: degrees_per_pixel(page) == pytest.approx(scale / 1.6, rel=0.05))
    page.keyboard.press("0")
    assert readout(page).separation(home).deg < scale
    settled(page, lambda: degrees_per_pixel(page) == pytest.approx(scale, rel=0.05))
    # the text alternative lists every footprint drawn, by obs_id
    drawn = page.locator("#sky .footprint").evaluate_all("els => els.map((e) => e.dataset.obsid)")
    names = page.locator("#grid tbody tr").evaluate_all(
        "rows => Object.fromEntries(rows.map((r) => [r.dataset.obsid, r.innerText]))"
    )
    listing = page.locator("#sky .sky-list").inner_text()
    assert f"Footprints in the sky view ({len(drawn)})" in listing
    for obsid in drawn:
        obs_id = next(
            word for word in names[obsid].split() if word.startswith(("jw", "id", "r", "s"))
        )
        assert obs_id in listing
    expect(
        page.get_by_role("toolbar", name="Sky view controls").get_by_role("button")
    ).to_have_count(4)
    screenshot(page.locator("#sky-area"), "sky-view-keyboard.png")


BIG = {
    "ra0": "POLYGON 350 -10 10 -10 10 10 350 10",  # 20 degrees wide, across RA = 0
    "pole": "POLYGON 0 80 90 80 180 80 270 80",  # a cap around the north pole
    "circle": "CIRCLE 0.5 -89.5 3",  # a circle over the south pole
}


@pytest.mark.parametrize("name", list(BIG))
def test_footprints_of_any_size_across_ra_0_and_the_poles(page, name) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search")
    box = page.evaluate(
        """async (region) => {
          const { SkyView } = await import("/static/sky-view.js");
          const holder = document.createElement("div");
          holder.id = "test-sky"; holder.style.width = "360px";
          document.body.prepend(holder);
          const view = new SkyView(holder, {});
          view.render([{ obsid: 1, obs_id: "big", instrument_name: "TEST", dataRights: "PUBLIC",
                         calib_level: 3, s_region: region }], null, new Set());
          const path = holder.querySelector(".footprint path");
          const b = path.getBBox();
          return { x: b.x, y: b.y, width: b.width, height: b.height, d: path.getAttribute("d") };
        }""",
        BIG[name],
    )
    # the view fits the footprint: whole, centred, a good part of the 360-pixel picture
    assert 100 < box["width"] < 360 and 100 < box["height"] < 360
    assert (
        abs(box["x"] + box["width"] / 2 - 180) < 20 and abs(box["y"] + box["height"] / 2 - 180) < 20
    )
    assert box["d"].count("M") == 1  # one unbroken outline
    page.locator("#test-sky .sky-stage").focus()
    centre = readout(page, "#test-sky")
    expected = {"ra0": SkyCoord(0 * u.deg, 0 * u.deg), "pole": SkyCoord(0 * u.deg, 90 * u.deg),
                "circle": SkyCoord(0.5 * u.deg, -89.5 * u.deg)}[name]  # fmt: skip
    assert centre.separation(expected).deg < 0.5
    screenshot(page.locator("#test-sky"), f"sky-view-big-{name}.png")


def test_the_sky_maths_agree_with_cdshealpix_and_astropy(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/search")
    tiles = [(0, 0), (0, 4), (0, 11), (3, 0), (3, 767), (3, 300), (7, 12345), (9, 3 * 4**9 + 77)]
    answer = page.evaluate(
        """async (tiles) => {
          const m = await import("/static/sky-math.js");
          const square = [[0, 0], [1, 0], [1, 1], [0, 1]];
          const corners = tiles.map(([k, n]) => square.map(([u, v]) => m.tilePoint(k, n, u, v)));
          const trips = [];
          for (const [ra0, dec0] of [[0, 0], [359.9, 1], [0.05, -30], [123, 89.9], [200, -89.99]]) {
            for (const [dx, dy] of [[0.01, 0], [-0.3, 0.2], [5, -5], [-20, 30]]) {
              const sky = m.unproject(dx, dy, ra0, dec0);
              trips.push([ra0, dec0, dx, dy, sky, m.project(...sky, ra0, dec0)]);
            }
          }
          const inView = m.tilesInView(6, 359.99, 0.01, 0.5);
          const places = [[283.396, 33.029], [0.001, -0.5], [359.9999, -89.99]];
          const texts = places.map(([r, d]) => m.sexagesimal(r, d));
          return { corners, trips, inView, texts };
        }""",
        tiles,
    )
    for (order, npix), corners in zip(tiles, answer["corners"], strict=True):
        lon, lat = nested.vertices(np.array([npix], dtype=np.uint64), order)
        south, east, north, west = zip(lon.to_value(u.deg)[0], lat.to_value(u.deg)[0], strict=True)
        for (ra, dec), (vra, vdec) in zip(corners, [south, east, north, west], strict=True):
            assert (
                SkyCoord(ra * u.deg, dec * u.deg)
                .separation(SkyCoord(vra * u.deg, vdec * u.deg))
                .arcsec
                < 0.01
            )
    for _ra0, _dec0, dx, dy, _sky, back in answer["trips"]:
        assert back == pytest.approx([dx, dy], abs=1e-9)
    probes = SkyCoord([359.99, 0.3, 359.7] * u.deg, [0.01, 0.3, -0.3] * u.deg)
    wanted = nested.lonlat_to_healpix(probes.ra, probes.dec, 6)
    assert set(np.asarray(wanted).tolist()) <= set(answer["inView"])
    for text, (ra, dec) in zip(
        answer["texts"], [(283.396, 33.029), (0.001, -0.5), (359.9999, -89.99)], strict=True
    ):
        parsed = SkyCoord(text.replace("−", "-"), unit=(u.hourangle, u.deg))
        assert parsed.separation(SkyCoord(ra * u.deg, dec * u.deg)).arcsec < 0.1, text
    assert (
        Angle(answer["texts"][0].split()[0], unit=u.hourangle).to_string(sep=":", precision=2)
        in answer["texts"][0]
    )


def test_an_operators_external_hips_is_drawn_from_its_own_origin(  # type: ignore[no-untyped-def]
    chromium, live_server, demo_archive, tmp_path
) -> None:
    """A second archive over the same catalogue, with no HiPS of its own, configured to draw
    the first archive's HiPS as an external one (another origin: another port). It has its own
    (empty) storage: a HiPS is kept in an archive's storage, so sharing it would share the sky."""
    from skyarchive.archive import Archive
    from skyarchive.config import Settings
    from tests.e2e.conftest import LiveServer
    from tests.e2e.test_security_headers import policy

    settings = Settings(
        home=tmp_path / "other", database_url=demo_archive.settings.resolved_database_url,
        external_hips_url=f"{live_server.url}/hips/", external_hips_format="png",
        external_hips_order=7,
    )  # fmt: skip
    other = Archive.open(settings, migrate=False)
    with LiveServer(other) as server:
        answer = httpx.get(f"{server.url}/search")
        assert live_server.url in policy(answer.headers["content-security-policy"])["img-src"]
        context = chromium.new_context(base_url=server.url)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        search(page, "m57 r=1m")
        page.wait_for_function(f"() => Number(document.querySelector('{STAGE}').dataset.tiles) > 0")
        settled(page, lambda: bright_pixels(page) > 200, seconds=20)
        assert any(url.startswith(f"{live_server.url}/hips/Norder") for url in asked)
        assert not any(url.startswith(f"{server.url}/hips/") for url in asked)
        screenshot(page.locator("#sky-area"), "sky-view-external-hips.png")
        context.close()
    other.engine.dispose()
    assert not errors, errors


def test_touch_drag_and_pinch(page) -> None:  # type: ignore[no-untyped-def]
    """Touch pointers (as a phone sends them): one finger pans, two pinch to zoom."""
    search(page, "m57 r=1m")
    stage = page.locator(STAGE)
    stage.focus()
    home, scale = readout(page), degrees_per_pixel(page)
    x, y = stage_centre(page)
    touch = """([events, x, y]) => { const stage = document.querySelector("#sky .sky-stage");
      for (const [type, id, dx, dy] of events) stage.dispatchEvent(new PointerEvent(type,
        { pointerId: id, pointerType: "touch", isPrimary: id === 1, bubbles: true,
          clientX: x + dx, clientY: y + dy })); }"""
    # two fingers 40 px apart move to 80 px apart: twice the size, half the field
    page.evaluate(touch, [[["pointerdown", 1, -20, 0], ["pointerdown", 2, 20, 0],
                           ["pointermove", 2, 60, 0], ["pointerup", 1, 0, 0],
                           ["pointerup", 2, 60, 0]], x, y])  # fmt: skip
    settled(page, lambda: degrees_per_pixel(page) == pytest.approx(scale / 2, rel=0.05))
    # one finger drags 40 px down: the sky that was 40 pixels above (north) comes to the centre
    page.evaluate(touch, [[["pointerdown", 1, 0, 0], ["pointermove", 1, 0, 20],
                           ["pointermove", 1, 0, 40], ["pointerup", 1, 0, 40]], x, y])  # fmt: skip
    stage.evaluate("el => el.dispatchEvent(new FocusEvent('focus'))")  # readout: the centre
    moved = readout(page)
    expected = home.directional_offset_by(0 * u.deg, 40 * scale / 2 * u.deg)
    assert moved.separation(expected).deg < 3 * scale / 2
