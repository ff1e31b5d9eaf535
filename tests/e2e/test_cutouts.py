"""Show Cutout's service through the real server: ``GET /api/v0.1/cutout`` (issue 17 §2).

The cut pixels are checked against the original file read independently (astropy WCS of the
downloaded image); exclusive-access images follow the one access rule for every kind of caller.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from tests.e2e.callers import EXPECTED, create_callers, headers_for


@pytest.fixture(scope="module")
def images(demo_archive):  # type: ignore[no-untyped-def]
    """(public i2d URI, exclusive-access i2d or cal URI) and the callers of program 4567."""
    owner = observations.alias("owner")
    query = select(products.c.dataURI, products.c.proposal_id, owner.c.t_obs_release).join(
        owner, owner.c.obsid == products.c.owner_obsid
    )
    with demo_archive.engine.connect() as conn:
        rows = conn.execute(query).all()
    fits_images = [r for r in rows if r.dataURI.endswith(("_i2d.fits", "_cal.fits"))]
    public = next(r.dataURI for r in fits_images if r.t_obs_release and r.t_obs_release < now_mjd())
    eap = next(r.dataURI for r in fits_images
               if r.proposal_id == "4567" and (r.t_obs_release or 1e9) > now_mjd())  # fmt: skip
    return public, eap, create_callers(demo_archive.engine, "4567")


def centre_of(client: httpx.Client, uri: str, headers: dict) -> tuple[float, float, fits.HDUList]:
    answer = client.get("/api/v0.1/Download/file", params={"uri": uri}, headers=headers)
    assert answer.status_code == 200
    hdus = fits.open(io.BytesIO(answer.content))
    sci = next(h for h in hdus if h.data is not None and h.data.ndim == 2)
    ny, nx = sci.data.shape
    centre = WCS(sci.header).pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    return float(centre.ra.deg), float(centre.dec.deg), hdus


def cut(client: httpx.Client, headers: dict | None = None, **params) -> httpx.Response:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v0.1/cutout?{urlencode(params)}", headers=headers or {})


def test_a_cutout_holds_the_original_pixels_with_their_wcs(live_server, images) -> None:  # type: ignore[no-untyped-def]
    public, _, _ = images
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        ra, dec, original = centre_of(client, public, {})
        answer = cut(client, uri=public, ra=ra, dec=dec, size=40)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/fits"
        assert answer.headers["content-disposition"].startswith("attachment")
        made = fits.open(io.BytesIO(answer.content))
    piece = next(h for h in made if h.data is not None and h.data.ndim == 2)
    sci = next(h for h in original if h.data is not None and h.data.ndim == 2)
    cut_wcs, full_wcs = WCS(piece.header), WCS(sci.header)
    ny, nx = piece.data.shape
    for y in range(ny):
        for x in range(nx):
            sky = cut_wcs.pixel_to_world(x, y)
            fx, fy = full_wcs.world_to_pixel(sky)
            ix, iy = int(round(float(fx))), int(round(float(fy)))
            if 0 <= iy < sci.data.shape[0] and 0 <= ix < sci.data.shape[1]:
                assert np.isclose(piece.data[y, x], sci.data[iy, ix], equal_nan=True)
    requested_pixel = cut_wcs.world_to_pixel_values(ra, dec)
    assert all(-0.5 <= float(p) <= n - 0.5 for p, n in zip(requested_pixel, (nx, ny), strict=True))


def test_a_cutout_as_an_image(live_server, images) -> None:  # type: ignore[no-untyped-def]
    public, _, _ = images
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        ra, dec, _ = centre_of(client, public, {})
        answer = cut(client, uri=public, ra=ra, dec=dec, size=60, format="png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG")
    assert "inline" in answer.headers["content-disposition"]


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_exclusive_access_cutouts_follow_the_access_rule(live_server, images, who) -> None:  # type: ignore[no-untyped-def]
    _, eap, callers = images
    admin = headers_for(callers, "admin")
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        ra, dec, _ = centre_of(client, eap, admin)
        answer = cut(client, headers_for(callers, who), uri=eap, ra=ra, dec=dec, size=40)
    assert answer.status_code == EXPECTED[who], answer.text
    if answer.status_code == 200:
        assert fits.open(io.BytesIO(answer.content))[1].data.size > 0
    else:
        assert answer.json()["error"]["status"] == EXPECTED[who]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ra": 400, "dec": 0}, "outside [0, 360)"),
        ({"ra": 10, "dec": -91}, "outside [-90, 90]"),
        ({"ra": "nan", "dec": 0}, "outside [0, 360)"),
        ({"size": 0.1}, "outside [1, 600] arcsec"),
        ({"size": 5000}, "outside [1, 600] arcsec"),
        ({"ra": 10.0, "dec": -40.0}, "is not inside"),
        ({"format": "gif"}, "Unknown cutout format"),
        ({"ra": "east"}, "ra"),
    ],
)
def test_bad_cutout_requests_are_400(live_server, images, params, message) -> None:  # type: ignore[no-untyped-def]
    public, _, _ = images
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        ra, dec, _ = centre_of(client, public, {})
        answer = cut(client, **{"uri": public, "ra": ra, "dec": dec, "size": 30, **params})
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]["message"]


def test_cutouts_of_what_is_not_an_image_or_not_there(live_server, images) -> None:  # type: ignore[no-untyped-def]
    public, _, _ = images
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        preview = cut(client, uri=public.replace(".fits", ".jpg"), ra=1, dec=1, size=10)
        missing = cut(client, uri="mast:JWST/product/jw99999-o001_t001_miri_i2d.fits", ra=1, dec=1)
    assert preview.status_code in (400, 404)
    assert missing.status_code == 404
