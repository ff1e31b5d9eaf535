"""``/vo/sia/query`` (SIAv2) as pyvo, astropy and STILTS read it, against the real server.

The reference for what each query must find is the whole ``ivoa.obscore`` table, read once
through the TAP service and filtered here in Python: positions with astropy (every row whose
centre lies inside the shape must be found; nothing found lies farther than its own footprint
reaches), intervals and strings by their plain definitions.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from typing import Any

import astropy.units as u
import httpx
import numpy as np
import pytest
import pyvo
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse as parse_votable
from sqlalchemy import select

from skyarchive.db.tables import products
from skyarchive.vo.identifiers import filename_from_id
from tests.e2e.conftest import LiveServer
from tests.e2e.vo.conftest import votlint
from tests.tools import needs

M57 = (283.396, 33.029)
COLUMNS = (
    "obs_publisher_did, obs_collection, calib_level, dataproduct_type, instrument_name, "
    "target_name, s_ra, s_dec, s_region, em_min, em_max, t_min, t_max, t_exptime"
)


@pytest.fixture(scope="module")
def rows(vo_server: LiveServer) -> list[dict[str, Any]]:
    """Every ObsCore row, from the TAP service (the reference the SIA answers are held to)."""
    service = pyvo.dal.TAPService(f"{vo_server.url}/vo/tap")
    table = service.search(f"SELECT {COLUMNS} FROM ivoa.obscore", maxrec=100_000).to_table()
    found = []
    for row in table:
        item = {name: _plain(row[name]) for name in table.colnames}
        found.append(item)
    assert len(found) > 20
    return found


def _plain(value: Any) -> Any:
    if np.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [float(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _vertices(region: Any) -> list[tuple[float, float]]:
    numbers = region if isinstance(region, list) else [
        float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?", str(region))
    ]  # fmt: skip
    return list(zip(numbers[::2], numbers[1::2], strict=False))


def _reach_deg(row: dict[str, Any]) -> float:
    """How far the row's footprint reaches from its centre (largest vertex separation)."""
    vertices = _vertices(row["s_region"])
    if not vertices:
        return 0.0
    centre = SkyCoord(row["s_ra"] * u.deg, row["s_dec"] * u.deg)
    corners = SkyCoord([v[0] for v in vertices] * u.deg, [v[1] for v in vertices] * u.deg)
    return float(centre.separation(corners).deg.max())


def sia(server: LiveServer, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/vo/sia/query", params=params, timeout=60)


def dids(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    table = parse_votable(io.BytesIO(answer.content)).get_first_table().to_table()
    return {str(v) for v in table["obs_publisher_did"]}


def test_pyvo_search_finds_what_the_cone_touches(
    vo_server: LiveServer, rows: list[dict[str, Any]]
) -> None:
    service = pyvo.dal.SIA2Service(f"{vo_server.url}/vo/sia")
    radius = 0.02
    results = service.search(pos=(M57[0] * u.deg, M57[1] * u.deg, radius * u.deg))
    found = {str(r["obs_publisher_did"]) for r in results.to_table()}
    centre = SkyCoord(*M57, unit="deg")
    placed = [r for r in rows if r["s_ra"] is not None]
    where = SkyCoord([r["s_ra"] for r in placed] * u.deg, [r["s_dec"] for r in placed] * u.deg)
    separation = centre.separation(where).deg
    must = {r["obs_publisher_did"] for r, s in zip(placed, separation, strict=True) if s <= radius}
    may = {r["obs_publisher_did"] for r, s in zip(placed, separation, strict=True)
           if s <= radius + _reach_deg(r) + 1e-6}  # fmt: skip
    assert must and must <= found <= may
    # every answer row is an ObsCore row with its DataLink access_url
    first = results[0]
    assert first.access_format == "application/x-votable+xml;content=datalink"
    assert "/vo/datalink/links?ID=" in first.access_url


def test_multi_valued_parameters_are_or_and_parameters_and(
    vo_server: LiveServer, rows: list[dict[str, Any]]
) -> None:
    by_collection = {c: {r["obs_publisher_did"] for r in rows if r["obs_collection"] == c}
                     for c in ("JWST", "HST")}  # fmt: skip
    assert by_collection["JWST"] and by_collection["HST"]
    both = httpx.get(f"{vo_server.url}/vo/sia/query", timeout=60,
                     params=[("COLLECTION", "JWST"), ("COLLECTION", "HST"),
                             ("MAXREC", "100000")])  # fmt: skip
    assert dids(both) == by_collection["JWST"] | by_collection["HST"]
    level3 = dids(sia(vo_server, COLLECTION="JWST", CALIB="3", MAXREC=100000))
    assert level3 == {r["obs_publisher_did"] for r in rows
                      if r["obs_collection"] == "JWST" and r["calib_level"] == 3}  # fmt: skip
    assert dids(sia(vo_server, COLLECTION="jwst")) == set()  # case-sensitive


@pytest.mark.parametrize(
    ("name", "low", "high", "low_column", "high_column"),
    [
        ("BAND", 5e-6, 1e-5, "em_min", "em_max"),
        ("BAND", 2e-5, math.inf, "em_min", "em_max"),
        ("EXPTIME", 100, 1000, "t_exptime", "t_exptime"),
    ],
)
def test_intervals_match_by_overlap(vo_server: LiveServer, rows: list[dict[str, Any]],
                                    name: str, low: float, high: float, low_column: str,
                                    high_column: str) -> None:  # fmt: skip
    text = f"{low} {'+Inf' if math.isinf(high) else high}"
    expected = {
        r["obs_publisher_did"] for r in rows
        if r[low_column] is not None and r[high_column] is not None
        and r[low_column] <= high and r[high_column] >= low
    }  # fmt: skip
    assert expected, "the demo archive has rows in this interval"
    assert dids(sia(vo_server, **{name: text, "MAXREC": 100000})) == expected


def test_time_range_and_polygon(vo_server: LiveServer, rows: list[dict[str, Any]]) -> None:
    timed = [r for r in rows if r["t_min"] is not None]
    middle = sorted(r["t_min"] for r in timed)[len(timed) // 2]
    expected = {r["obs_publisher_did"] for r in timed
                if r["t_min"] <= middle + 1 and r["t_max"] >= middle}  # fmt: skip
    assert dids(sia(vo_server, TIME=f"{middle} {middle + 1}", MAXREC=100000)) == expected

    box = (M57[0] - 0.05, M57[0] + 0.05, M57[1] - 0.05, M57[1] + 0.05)
    ranged = dids(sia(vo_server, POS="RANGE {} {} {} {}".format(*box), MAXREC=100000))
    inside = {r["obs_publisher_did"] for r in rows if r["s_ra"] is not None
              and box[0] <= r["s_ra"] <= box[1] and box[2] <= r["s_dec"] <= box[3]}  # fmt: skip
    assert inside and inside <= ranged
    square = "POLYGON {0} {2} {1} {2} {1} {3} {0} {3}".format(*box)
    assert dids(sia(vo_server, POS=square, MAXREC=100000)) == ranged
    everything = dids(sia(vo_server, POS="RANGE 0 360 -90 90", MAXREC=100000))
    assert everything == {r["obs_publisher_did"] for r in rows if r["s_ra"] is not None}


def test_strings_id_and_maxrec(vo_server: LiveServer, rows: list[dict[str, Any]]) -> None:
    target = next(r for r in rows if r["target_name"] and r["obs_collection"] == "JWST")
    assert dids(sia(vo_server, TARGET=target["target_name"], MAXREC=100000)) == {
        r["obs_publisher_did"] for r in rows if r["target_name"] == target["target_name"]
    }
    instrument = target["instrument_name"]
    assert dids(sia(vo_server, INSTRUMENT=instrument, MAXREC=100000)) == {
        r["obs_publisher_did"] for r in rows if r["instrument_name"] == instrument
    }
    did = target["obs_publisher_did"]
    shouted = did.split("?")[0].upper() + "?" + did.split("?")[1]
    assert dids(sia(vo_server, ID=shouted)) == {did}
    images = dids(sia(vo_server, DPTYPE="image", MAXREC=100000))
    assert images == {r["obs_publisher_did"] for r in rows if r["dataproduct_type"] == "image"}
    two = sia(vo_server, MAXREC=2)
    assert len(dids(two)) == 2 and b'name="QUERY_STATUS" value="OVERFLOW"' in two.content
    as_csv = sia(vo_server, MAXREC=3, RESPONSEFORMAT="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(as_csv.text.strip().splitlines()) == 4  # header + 3 rows


@needs("stilts")
def test_votlint_and_vosi(vo_server: LiveServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    answer = sia(vo_server, POS=f"CIRCLE {M57[0]} {M57[1]} 0.1", RESPONSEFORMAT="votable/td")
    assert answer.status_code == 200
    report = votlint(answer.content, tmp_path)
    assert "ERROR" not in report.upper(), report
    capabilities = httpx.get(f"{vo_server.url}/vo/sia/capabilities", timeout=30)
    assert capabilities.status_code == 200
    assert "ivo://ivoa.net/std/SIA#query-2.0" in capabilities.text
    assert f"{vo_server.url}/vo/sia/query" in capabilities.text
    availability = httpx.get(f"{vo_server.url}/vo/sia/availability", timeout=30)
    assert "<avail:available>true</avail:available>" in availability.text


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"POS": "CIRCLE 283 33"}, "needs 3 numbers"),
        ({"POS": "BOX 283 33 1 1"}, "CIRCLE, RANGE or POLYGON"),
        ({"POS": "CIRCLE 283 95 0.1"}, "Dec"),
        ({"POS": "POLYGON 1 2 3 4"}, "needs"),
        ({"POS": "RANGE 10 5 0 1"}, "ra1"),
        ({"BAND": "red blue"}, "not a number"),
        ({"TIME": "60000 59000"}, "lower bound is above"),
        ({"CALIB": "7"}, "calibration level"),
        ({"POL": "Z"}, "polarization"),
        ({"DPTYPE": "spectrum"}, "image, cube"),
        ({"MAXREC": "-1"}, "MAXREC"),
        ({"RESPONSEFORMAT": "application/pdf"}, "pdf"),
    ],
)
def test_bad_values_get_a_dali_400(vo_server: LiveServer, params: dict[str, str],
                                   words: str) -> None:  # fmt: skip
    answer = sia(vo_server, **params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/x-votable+xml")
    status = parse_votable(io.BytesIO(answer.content)).resources[0].infos[0]
    assert status.name == "QUERY_STATUS" and status.value == "ERROR"
    assert words.lower() in str(status.content).lower()


def test_a_sia_row_leads_through_datalink_to_its_file(vo_server: LiveServer, demo_archive) -> None:  # type: ignore[no-untyped-def]
    """pyvo's DataLink step from a SIAv2 row: the ``#this`` link downloads the very file the
    catalogue recorded (its SHA-256) for the row's publisher DID."""
    service = pyvo.dal.SIA2Service(f"{vo_server.url}/vo/sia")
    results = service.search(pos=(M57[0] * u.deg, M57[1] * u.deg, 0.05 * u.deg),
                             calib_level=3, data_type="image")  # fmt: skip
    public = [row for row in results if str(row["data_rights"]) == "public"]
    assert public
    row = public[0]
    did = str(row["obs_publisher_did"])
    name = filename_from_id(demo_archive.settings.vo_authority, did)
    with demo_archive.engine.connect() as conn:
        recorded = conn.scalar(select(products.c.sha256).where(products.c.productFilename == name))
    links = row.getdatalink()
    this = [link for link in links if link.semantics == "#this" and link["ID"] == did]
    assert len(this) == 1
    fetched = httpx.get(this[0].access_url, timeout=60, follow_redirects=True)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == recorded
