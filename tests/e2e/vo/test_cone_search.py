"""``/vo/scs`` as pyvo, astropy and STILTS read it, against the real server.

The reference for which observations a cone finds is computed here from the catalogue's rows
with astropy (every observation whose centre lies inside the cone must be found; nothing
found lies farther than its footprint reaches), and the same cone asked of the MAST API's
``Mast.Caom.Cone`` must find the same observations: one cone search behind both faces.
"""

from __future__ import annotations

import io

import astropy.units as u
import httpx
import pytest
import pyvo
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse as parse_votable
from sqlalchemy import select

from skyarchive.db.tables import observations
from tests.e2e.vo.conftest import votlint
from tests.tools import needs

M57 = (283.396, 33.029)
RADIUS = 0.05  # deg


@pytest.fixture(scope="module")
def catalogue(demo_archive):  # type: ignore[no-untyped-def]
    """obs_id → (s_ra, s_dec) of every observation with a footprint."""
    query = select(observations.c.obs_id, observations.c.s_ra, observations.c.s_dec).where(
        observations.c.s_region.is_not(None)
    )
    with demo_archive.engine.connect() as conn:
        return {r.obs_id: (r.s_ra, r.s_dec) for r in conn.execute(query)}


def inside(catalogue: dict, ra: float, dec: float, radius: float) -> set[str]:
    names = list(catalogue)
    coords = SkyCoord(
        [catalogue[n][0] for n in names] * u.deg, [catalogue[n][1] for n in names] * u.deg
    )
    near = coords.separation(SkyCoord(ra * u.deg, dec * u.deg)) <= radius * u.deg
    return {n for n, ok in zip(names, near, strict=True) if ok}


def test_pyvo_finds_what_the_cone_holds(vo_server, catalogue) -> None:  # type: ignore[no-untyped-def]
    service = pyvo.dal.SCSService(f"{vo_server.url}/vo/scs")
    result = service.search(pos=M57, radius=RADIUS)
    found = {str(name) for name in result.to_table()["obs_id"]}
    centres_inside = inside(catalogue, *M57, RADIUS)
    assert centres_inside, "the demo has observations of M57"
    assert centres_inside <= found
    # nothing farther than a JWST field (the largest footprint's half-size) from the cone
    assert found <= inside(catalogue, *M57, RADIUS + 0.15)
    with httpx.Client(base_url=vo_server.url, timeout=60) as client:
        mast = client.post(
            "/api/v0/invoke",
            data={
                "request": '{"service": "Mast.Caom.Cone", "format": "json", "params": '
                f'{{"ra": {M57[0]}, "dec": {M57[1]}, "radius": {RADIUS}}}, "pagesize": 10000}}'
            },
        ).json()
    assert found == {row["obs_id"] for row in mast["data"]}


def test_the_three_scs_columns_carry_their_ucds_once(vo_server) -> None:  # type: ignore[no-untyped-def]
    for verb in (1, 2, 3):
        params = {"RA": M57[0], "DEC": M57[1], "SR": RADIUS, "VERB": verb}
        answer = httpx.get(f"{vo_server.url}/vo/scs", params=params)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-votable+xml")
        table = parse_votable(io.BytesIO(answer.content)).get_first_table()
        ucds = [field.ucd for field in table.fields]
        for wanted in ("meta.id;meta.main", "pos.eq.ra;meta.main", "pos.eq.dec;meta.main"):
            assert ucds.count(wanted) == 1, (verb, ucds)
        if verb == 1:
            assert [f.name for f in table.fields][:3] == ["obs_id", "s_ra", "s_dec"]
        units = {field.name: field.unit for field in table.fields}
        assert units["s_ra"] == u.deg and units["distance"] == u.arcsec


def test_maxrec_cuts_the_answer_and_says_so(vo_server) -> None:  # type: ignore[no-untyped-def]
    service = pyvo.dal.SCSService(f"{vo_server.url}/vo/scs")
    assert len(service.search(pos=M57, radius=RADIUS, MAXREC=2)) == 2

    def status(maxrec: int) -> str:  # the last QUERY_STATUS counts (DALI)
        answer = httpx.get(
            f"{vo_server.url}/vo/scs",
            params={"RA": M57[0], "DEC": M57[1], "SR": RADIUS, "MAXREC": maxrec},
        )
        infos = parse_votable(io.BytesIO(answer.content)).resources[0].infos
        return [i.value for i in infos if i.name == "QUERY_STATUS"][-1]

    assert status(2) == "OVERFLOW" and status(1000) == "OK"
    empty = httpx.get(
        f"{vo_server.url}/vo/scs", params={"RA": M57[0], "DEC": M57[1], "SR": RADIUS, "MAXREC": 0}
    )
    table = parse_votable(io.BytesIO(empty.content)).get_first_table()
    assert len(table.array) == 0 and table.fields


@needs("stilts")
@pytest.mark.parametrize("fmt", ["votable", "votable/b2"])
def test_votlint_finds_nothing(vo_server, tmp_path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(
        f"{vo_server.url}/vo/scs",
        params={"RA": M57[0], "DEC": M57[1], "SR": RADIUS, "VERB": 3, "RESPONSEFORMAT": fmt},
    )
    assert answer.status_code == 200
    assert votlint(answer.content, tmp_path) == ""


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"DEC": 33, "SR": 0.1}, "RA is required"),
        ({"RA": "north", "DEC": 33, "SR": 0.1}, "'north' is not a number"),
        ({"RA": 283, "DEC": 95, "SR": 0.1}, "DEC 95 is outside"),
        ({"RA": 283, "DEC": 33, "SR": -1}, "SR -1 is outside"),
        ({"RA": 283, "DEC": 33, "SR": "nan"}, "SR nan is outside"),
        ({"RA": 283, "DEC": 33, "SR": 0.1, "VERB": 7}, "VERB 7 is outside"),
        ({"RA": 283, "DEC": 33, "SR": 0.1, "MAXREC": "lots"}, "MAXREC 'lots'"),
        ({"RA": 283, "DEC": 33, "SR": 0.1, "RESPONSEFORMAT": "pdf"}, "RESPONSEFORMAT 'pdf'"),
    ],
)
def test_bad_parameters_are_a_dali_error_with_400(vo_server, params, says) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/vo/scs", params=params)
    assert answer.status_code == 400
    document = parse_votable(io.BytesIO(answer.content))
    status = document.resources[0].infos[0]
    assert (status.name, status.value) == ("QUERY_STATUS", "ERROR")
    assert says in status.content
    legacy = document.infos[0]  # SCS 1.03's place, where pyvo's cone search looks
    assert legacy.name == "Error" and says in legacy.value


def test_parameter_names_compare_without_case(vo_server) -> None:  # type: ignore[no-untyped-def]
    upper = httpx.get(f"{vo_server.url}/vo/scs", params={"RA": M57[0], "DEC": M57[1], "SR": 0.05})
    lower = httpx.get(f"{vo_server.url}/vo/scs", params={"ra": M57[0], "dec": M57[1], "sr": 0.05})
    assert upper.status_code == lower.status_code == 200
    assert upper.content == lower.content


def test_vosi_capabilities_and_availability(vo_server) -> None:  # type: ignore[no-untyped-def]
    from pyvo.io.vosi import parse_availability, parse_capabilities

    caps = httpx.get(f"{vo_server.url}/vo/scs/capabilities")
    assert caps.status_code == 200
    parsed = {c.standardid: c for c in parse_capabilities(io.BytesIO(caps.content))}
    cone = parsed["ivo://ivoa.net/std/ConeSearch"].interfaces[0]
    assert cone.accessurls[0].content == f"{vo_server.url}/vo/scs"
    available = httpx.get(f"{vo_server.url}/vo/scs/availability")
    assert parse_availability(io.BytesIO(available.content)).available is True
