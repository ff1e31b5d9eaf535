"""DataLink ``{links}`` and SODA cutouts through the real server, as pyvo and STILTS use them.

Expected links come from the file names and the catalogue's recorded checksums, not from the
links document itself; who may follow a link is checked for every kind of caller of
tests/e2e/callers.py, against the statuses a download of the same file gets.
"""

from __future__ import annotations

import hashlib
import io
import re

import astropy.units as u
import httpx
import pytest
import pyvo
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.wcs import WCS
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from skyarchive.vo.identifiers import publisher_did
from tests.e2e.callers import EXPECTED, create_callers, headers_for
from tests.e2e.vo.conftest import stilts, votlint
from tests.tools import needs

AUTHORITY = "skyarchive.invalid"  # the default vo_authority


@pytest.fixture(scope="module")
def files(demo_archive):  # type: ignore[no-untyped-def]
    """name → (sha256, proposal_id, release) of every file, and the callers of program 4567."""
    owner = observations.alias("owner")
    query = select(
        products.c.productFilename, products.c.sha256, products.c.proposal_id, owner.c.t_obs_release
    ).join(owner, owner.c.obsid == products.c.owner_obsid)
    with demo_archive.engine.connect() as conn:
        rows = {
            r.productFilename: (r.sha256, r.proposal_id, r.t_obs_release)
            for r in conn.execute(query)
        }
    return rows, create_callers(demo_archive.engine, "4567")


def public_image(files, suffix: str) -> str:  # type: ignore[no-untyped-def]
    rows, _ = files
    return sorted(
        n
        for n, (_, _, release) in rows.items()
        if n.endswith(suffix) and release and release < now_mjd()
    )[0]


def exclusive_image(files) -> str:  # type: ignore[no-untyped-def]
    rows, _ = files
    return sorted(
        n
        for n, (_, program, release) in rows.items()
        if program == "4567"
        and n.endswith(("_i2d.fits", "_cal.fits"))
        and (release or 1e9) > now_mjd()
    )[0]


def links_url(server, filename: str) -> str:  # type: ignore[no-untyped-def]
    return str(
        httpx.URL(
            f"{server.url}/vo/datalink/links", params={"ID": publisher_did(AUTHORITY, filename)}
        )
    )


def link_table(answer: httpx.Response) -> list[dict]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-votable+xml;content=datalink"
    table = parse_votable(io.BytesIO(answer.content)).get_first_table().to_table()
    return [{name: _plain(row[name]) for name in table.colnames} for row in table]


def _plain(value):  # type: ignore[no-untyped-def]
    if value is None or getattr(value, "mask", False) is True:
        return None
    return value.item() if hasattr(value, "item") else value


@needs("stilts")
@pytest.mark.parametrize("suffix", ["_i2d.fits", "_cal.fits", "_uncal.fits"])
def test_datalinklint_finds_no_error(vo_server, files, suffix: str) -> None:  # type: ignore[no-untyped-def]
    report = stilts("datalinklint", f"votable={links_url(vo_server, public_image(files, suffix))}")
    assert re.search(r"Errors: 0; Warnings: 0;", report), report
    assert "Failures: 0" in report, report


@needs("stilts")
@pytest.mark.parametrize("fmt", ["votable", "votable/b2"])
def test_votlint_finds_nothing(vo_server, files, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    name = public_image(files, "_cal.fits")
    params = {"ID": publisher_did(AUTHORITY, name), "RESPONSEFORMAT": fmt}
    answer = httpx.get(f"{vo_server.url}/vo/datalink/links", params=params)
    assert answer.status_code == 200
    assert votlint(answer.content, tmp_path) == ""


def test_pyvo_follows_this_to_the_file(vo_server, files) -> None:  # type: ignore[no-untyped-def]
    name = public_image(files, "_i2d.fits")
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(links_url(vo_server, name))
    # include_narrower=False: pyvo would otherwise fetch the IVOA vocabulary from the network
    this = next(links.bysemantics("#this", include_narrower=False))
    data = this.getdataset().read()
    assert hashlib.sha256(data).hexdigest() == files[0][name][0]
    assert this.content_length == len(data) and f"mast:JWST/product/{name}" in this.description


def test_the_other_levels_of_an_exposure_and_what_it_went_into(vo_server, files) -> None:  # type: ignore[no-untyped-def]
    cal = public_image(files, "_cal.fits")
    rows = link_table(httpx.get(links_url(vo_server, cal)))
    assert {r["ID"] for r in rows} == {publisher_did(AUTHORITY, cal)}
    targets = {
        (r["semantics"], r["access_url"].rsplit("/", 1)[-1]) for r in rows if r["access_url"]
    }
    assert ("#progenitor", cal.replace("_cal.fits", "_uncal.fits")) in targets
    program = cal[2:7]
    assert any(
        s == "#derivation" and t.startswith(f"jw{program}-o") and t.endswith("_i2d.fits")
        for s, t in targets
    )
    assert ("#preview", cal.replace(".fits", ".jpg")) in targets
    assert any(r["semantics"] == "#cutout" and r["service_def"] for r in rows)
    assert all(r["link_auth"] == "false" and r["link_authorized"] for r in rows)


def test_unknown_and_malformed_ids_are_error_rows_in_order(vo_server, files) -> None:  # type: ignore[no-untyped-def]
    good = public_image(files, "_i2d.fits")
    answer = httpx.get(
        f"{vo_server.url}/vo/datalink/links",
        params=[
            ("ID", "mast:JWST/product/no_such_file.fits"),
            ("ID", f"mast:JWST/product/{good}"),
            ("ID", "https://elsewhere.example/x.fits"),
        ],
    )
    rows = link_table(answer)
    ids = [r["ID"] for r in rows]
    assert ids[0] == "mast:JWST/product/no_such_file.fits" and ids[-1].startswith("https://")
    assert rows[0]["error_message"].startswith("NotFoundFault")
    assert rows[-1]["error_message"].startswith("UsageFault")
    middle = ids[1:-1]
    assert middle and set(middle) == {f"mast:JWST/product/{good}"}


def test_no_id_is_a_dali_error(vo_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/vo/datalink/links")
    assert answer.status_code == 400
    status = parse_votable(io.BytesIO(answer.content)).resources[0].infos[0]
    assert status.value == "ERROR" and "ID" in status.content


@pytest.mark.parametrize("who", list(EXPECTED))
def test_link_auth_follows_the_one_access_rule(vo_server, files, who: str) -> None:  # type: ignore[no-untyped-def]
    name = exclusive_image(files)
    headers = headers_for(files[1], who)
    rows = link_table(httpx.get(links_url(vo_server, name), headers=headers))
    this = next(r for r in rows if r["semantics"] == "#this")
    download = httpx.get(this["access_url"], headers=headers)
    assert download.status_code == EXPECTED[who]
    assert this["link_auth"] == "true"
    assert this["link_authorized"] is (EXPECTED[who] == 200)
    previews = [r for r in rows if r["semantics"] == "#preview"]
    assert bool(previews) is (EXPECTED[who] == 200)  # as the portal: previews to those allowed


def centre(server, name: str, headers=None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    answer = httpx.get(
        f"{server.url}/api/v0.1/Download/file",
        params={"uri": f"mast:JWST/product/{name}"},
        headers=headers or {},
    )
    assert answer.status_code == 200
    sci = next(
        h for h in fits.open(io.BytesIO(answer.content)) if h.data is not None and h.data.ndim == 2
    )
    ny, nx = sci.data.shape
    sky = WCS(sci.header).pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
    return float(sky.ra.deg), float(sky.dec.deg)


def test_pyvo_cuts_through_the_service_descriptor(vo_server, files) -> None:  # type: ignore[no-untyped-def]
    name = public_image(files, "_i2d.fits")
    ra, dec = centre(vo_server, name)
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(links_url(vo_server, name))
    radius = 0.01  # deg: a few of the demo's coarse pixels
    stream = links.get_first_proc().processed(circle=[ra, dec, radius] * u.deg)
    cut = fits.open(io.BytesIO(stream.read()))
    image = next(h for h in cut if h.data is not None and h.data.ndim == 2)
    x, y = WCS(image.header).world_to_pixel_values(ra, dec)
    ny, nx = image.data.shape
    assert -0.5 <= float(x) <= nx - 0.5 and -0.5 <= float(y) <= ny - 0.5
    scale = min(s.to_value(u.deg) for s in WCS(image.header).proj_plane_pixel_scales())
    assert 1 < max(nx, ny) <= 2 * radius / scale + 1  # the circle's diameter on a side


@pytest.mark.parametrize("who", list(EXPECTED))
def test_soda_follows_the_one_access_rule(vo_server, files, who: str) -> None:  # type: ignore[no-untyped-def]
    name = exclusive_image(files)
    ra, dec = centre(vo_server, name, headers_for(files[1], "pi"))
    answer = httpx.get(
        f"{vo_server.url}/vo/soda/sync",
        headers=headers_for(files[1], who),
        params={"ID": publisher_did(AUTHORITY, name), "POS": f"CIRCLE {ra} {dec} 0.002"},
    )
    assert answer.status_code == EXPECTED[who]
    if EXPECTED[who] == 200:
        assert answer.headers["content-type"] == "application/fits"
        assert fits.open(io.BytesIO(answer.content))
    else:
        status = parse_votable(io.BytesIO(answer.content)).resources[0].infos[0]
        assert status.value == "ERROR" and "exclusive-access" in status.content


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "Give one ID"),
        ({"ID": "mast:JWST/product/x_i2d.fits"}, "Give one region"),
        ({"ID": "mast:JWST/product/x_i2d.fits", "CIRCLE": "1 2"}, "needs 3 numbers"),
        ({"ID": "mast:JWST/product/x_i2d.fits", "POS": "POLYGON 1 2 3 4 5 6"}, "CIRCLE or RANGE"),
        ({"ID": "mast:JWST/product/x_i2d.fits", "CIRCLE": "10 20 1"}, "at most 600 arcsec"),
        ({"ID": "mast:JWST/product/x_i2d.fits", "POS": "RANGE 2 1 3 4"}, "ra1 <= ra2"),
    ],
)
def test_bad_soda_requests_are_dali_errors(vo_server, params, says: str) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/vo/soda/sync", params=params)
    assert answer.status_code == 400
    status = parse_votable(io.BytesIO(answer.content)).resources[0].infos[0]
    assert status.value == "ERROR" and says in status.content


def test_an_unknown_image_is_404_for_soda(vo_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(
        f"{vo_server.url}/vo/soda/sync",
        params={"ID": "mast:JWST/product/none_i2d.fits", "CIRCLE": "10 20 0.001"},
    )
    assert answer.status_code == 404


def test_vosi_of_datalink_and_soda(vo_server) -> None:  # type: ignore[no-untyped-def]
    from pyvo.io.vosi import parse_capabilities

    for path, standard in (
        ("/vo/datalink/links", "ivo://ivoa.net/std/DataLink#links-1.1"),
        ("/vo/soda/sync", "ivo://ivoa.net/std/SODA#sync-1.0"),
    ):
        caps = httpx.get(f"{vo_server.url}{path}/capabilities")
        ids = {c.standardid for c in parse_capabilities(io.BytesIO(caps.content))}
        assert standard in ids
        assert httpx.get(f"{vo_server.url}{path}/availability").status_code == 200
