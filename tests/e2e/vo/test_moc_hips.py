"""``/vo/moc`` read back by mocpy, and the HiPS directory as Aladin reads it (``properties``,
``Moc.fits``), through the real server.

The footprints a MOC must cover are read from the catalogue and parsed here (STC-S vertices
and centres); mocpy, not our code, decides whether each point lies in the MOC.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import astropy.units as u
import httpx
import numpy as np
import pytest
from astropy.io.votable import parse as parse_votable
from mocpy import MOC
from sqlalchemy import select

from skyarchive.db.tables import observations
from skyarchive.ingest.run import ingest_paths
from skyarchive.sky.regions import Polygon, parse_s_region
from skyarchive.vo.moc import Coverage, MocCache


def footprint_points(engine, where=None) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """RA and Dec (deg) of every vertex and centre of the executed observations' footprints."""
    query = select(observations.c.s_region, observations.c.s_ra, observations.c.s_dec).where(
        observations.c.status == "executed", observations.c.s_region.is_not(None)
    )
    if where is not None:
        query = query.where(where)
    ra, dec = [], []
    with engine.connect() as conn:
        for row in conn.execute(query):
            region = parse_s_region(row.s_region)
            for shape in getattr(region, "regions", (region,)):
                points = shape.vertices if isinstance(shape, Polygon) else ((shape.ra, shape.dec),)
                for v_ra, v_dec in points:
                    ra.append(v_ra)
                    dec.append(v_dec)
            ra.append(row.s_ra)
            dec.append(row.s_dec)
    return np.array(ra), np.array(dec)


def fetch_moc(server, **params) -> MOC:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{server.url}/vo/moc", params=params)
    assert answer.status_code == 200, answer.text
    fmt = params.get("format", "fits")
    if fmt == "fits":
        assert answer.headers["content-type"] == "application/fits"
        return MOC.from_fits(io.BytesIO(answer.content))
    if fmt == "json":
        return MOC.from_json({k: v for k, v in json.loads(answer.text).items()})
    return MOC.from_string(answer.text, format="ascii")


def covers(moc: MOC, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    return moc.contains_lonlat(ra * u.deg, dec * u.deg)


@pytest.mark.parametrize("fmt", ["fits", "ascii", "json"])
def test_the_archive_moc_covers_every_footprint(vo_server, demo_archive, fmt: str) -> None:  # type: ignore[no-untyped-def]
    moc = fetch_moc(vo_server, format=fmt)
    ra, dec = footprint_points(demo_archive.engine)
    assert ra.size and covers(moc, ra, dec).all()
    assert 0 < moc.sky_fraction < 1e-3  # a few fields, not the sky
    assert not covers(moc, np.array([(ra.mean() + 180) % 360]), np.array([-dec.mean()]))[0]


def test_a_collection_and_an_instrument_have_their_own_moc(vo_server, demo_archive) -> None:  # type: ignore[no-untyped-def]
    whole = fetch_moc(vo_server)
    hst = fetch_moc(vo_server, collection="HST")
    ra, dec = footprint_points(demo_archive.engine, observations.c.obs_collection == "HST")
    assert ra.size and covers(hst, ra, dec).all()
    assert hst.sky_fraction < whole.sky_fraction
    assert hst.intersection(whole) == hst
    nircam = fetch_moc(vo_server, instrument="nircam")  # NIRCAM/IMAGE and the others
    ra, dec = footprint_points(demo_archive.engine, observations.c.instrument_name.like("NIRCAM/%"))
    assert ra.size and covers(nircam, ra, dec).all()
    assert fetch_moc(vo_server, instrument="NO-SUCH").sky_fraction == 0


def test_a_bad_format_is_a_dali_error(vo_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/vo/moc", params={"format": "png"})
    assert answer.status_code == 400
    status = parse_votable(io.BytesIO(answer.content)).resources[0].infos[0]
    assert status.value == "ERROR" and "fits, ascii or json" in status.content


def test_the_cached_moc_is_rebuilt_when_the_catalogue_changes(
    demo_archive_copy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cache = MocCache()
    far = (10.0, -45.0)
    with demo_archive_copy.engine.connect() as conn:
        before = MOC.from_string(cache.answer(conn, Coverage(), "ascii").decode(), format="ascii")
    assert not covers(before, np.array([far[0]]), np.array([far[1]]))[0]
    ring = [(far[0] - 0.01, far[1] - 0.01), (far[0] + 0.01, far[1] - 0.01), (far[0], far[1] + 0.01)]
    corners = " ".join(f"{ra} {dec}" for ra, dec in ring)
    manifest = {
        "skyarchive_manifest": 1,
        "programs": [{"proposal_id": "99001", "obs_collection": "HST", "title": "Far away",
                      "pi_name": "Far, Away", "category": "GO", "cycle": 20, "eap_months": 0}],
        "observations": [{
            "obs_id": "far00001", "status": "executed", "obs_collection": "HST",
            "instrument_name": "ACS/WFC", "filters": "F606W", "target_name": "FAR",
            "s_region": f"POLYGON {corners}", "calib_level": 3, "t_min": 55050.1,
            "t_max": 55050.2, "proposal_id": "99001", "dataproduct_type": "image",
            "products": []}],
    }  # fmt: skip
    folder = tmp_path / "manifest"
    folder.mkdir()
    (folder / "far.skyarchive.json").write_text(json.dumps(manifest))
    report = ingest_paths([folder], engine=demo_archive_copy.engine,
                          storage=demo_archive_copy.storage, default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    with demo_archive_copy.engine.connect() as conn:
        after = MOC.from_string(cache.answer(conn, Coverage(), "ascii").decode(), format="ascii")
    assert covers(after, np.array([far[0]]), np.array([far[1]]))[0]


def read_properties(text: str) -> dict[str, str]:
    """``key = value`` lines as Aladin reads them (comments and blank lines skipped)."""
    pairs = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_the_hips_announces_itself_as_aladin_expects(vo_server, demo_archive) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/hips/properties")
    assert answer.status_code == 200
    keys = read_properties(answer.text)
    assert keys["creator_did"] == f"ivo://{demo_archive.settings.vo_authority}/P/archive-sky"
    for key in ("obs_title", "hips_order", "hips_tile_format", "hips_frame", "hips_initial_ra",
                "hips_initial_dec", "hips_initial_fov", "moc_sky_fraction", "hips_tile_width",
                "dataproduct_type", "hips_version"):  # fmt: skip
        assert keys.get(key), key
    assert keys["hips_frame"] == "equatorial" and keys["hips_tile_format"] == "png"
    order = int(keys["hips_order"])
    moc_answer = httpx.get(f"{vo_server.url}/hips/Moc.fits")
    assert moc_answer.status_code == 200
    moc = MOC.from_fits(io.BytesIO(moc_answer.content))
    assert float(keys["moc_sky_fraction"]) == pytest.approx(moc.sky_fraction, rel=1e-3)
    centre = covers(moc, np.array([float(keys["hips_initial_ra"])]),
                    np.array([float(keys["hips_initial_dec"])]))  # fmt: skip
    assert moc.max_order == order and 0 < moc.sky_fraction < 1e-2
    # every tile the MOC names is there to fetch, at the deepest order
    cells = moc.flatten()[:5]
    for npix in cells:
        tile = f"Norder{order}/Dir{npix // 10000 * 10000}/Npix{npix}.png"
        assert httpx.get(f"{vo_server.url}/hips/{tile}").status_code == 200, tile
    assert centre is not None
