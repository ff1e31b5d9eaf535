"""TAP 1.1 synchronous queries against the real server, as TOPCAT-style clients ask them:
pyvo's ``TAPService.run_sync``, astropy reading every VOTable, plain HTTP for errors, and
STILTS ``taplint`` over the service's sync stages.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import astropy.units as u
import httpx
import pytest
import pyvo
from astropy.coordinates import SkyCoord
from astropy.io import ascii as astropy_ascii
from astropy.io.votable import parse, parse_single_table

from skyarchive.archive import Archive
from tests.e2e.callers import create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.e2e.vo.conftest import stilts

M57 = (283.396, 33.029)
CONE = (
    "SELECT obs_publisher_did, obs_id, calib_level, access_url, data_rights FROM ivoa.obscore "
    f"WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {M57[0]}, {M57[1]}, 0.05)) = 1"
)


@pytest.fixture(scope="module")
def tap(vo_server: LiveServer) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{vo_server.url}/vo/tap")


def test_a_cone_through_pyvo_matches_astropy(tap: pyvo.dal.TAPService) -> None:
    every = tap.run_sync("SELECT obs_publisher_did, s_ra, s_dec FROM ivoa.obscore").to_table()
    near = SkyCoord(*M57, unit="deg").separation(
        SkyCoord(every["s_ra"], every["s_dec"], unit="deg")
    ) < 0.05 * u.deg  # fmt: skip
    cone = tap.run_sync(CONE).to_table()
    assert set(cone["obs_publisher_did"]) == set(every["obs_publisher_did"][near]) != set()
    assert all(url.startswith(tap.baseurl.rsplit("/vo/tap", 1)[0] + "/vo/datalink/links?ID=")
               for url in cone["access_url"])  # fmt: skip


def test_criteria_and_the_tap_schema(tap: pyvo.dal.TAPService) -> None:
    rows = tap.run_sync(
        "SELECT obs_id, calib_level, instrument_name FROM ivoa.obscore "
        "WHERE calib_level = 3 AND instrument_name LIKE 'MIRI%' ORDER BY obs_id"
    ).to_table()
    assert len(rows) > 0
    assert all(int(level) == 3 for level in rows["calib_level"])
    assert all(str(name).startswith("MIRI") for name in rows["instrument_name"])
    tables = tap.run_sync("SELECT table_name FROM TAP_SCHEMA.tables").to_table()
    assert {"ivoa.obscore", "jwst.observations", "jwst.products", "jwst.keyword_files",
            "TAP_SCHEMA.columns"} <= set(tables["table_name"])  # fmt: skip
    assert "s_region" in [c.name for c in tap.tables["ivoa.obscore"].columns]  # VOSI tables
    keyword_files = {c.name for c in tap.tables["jwst.keyword_files"].columns}
    assert {"product_id", "exp_type", "listed_in"} <= keyword_files
    internal = {"header", "keyword_columns", "keyword_column_set", "keyword_columns_stamp",
                "archive_members"}  # fmt: skip
    assert not internal & keyword_files  # the stored forms are the archive's own


def test_every_format_reads_back(vo_server: LiveServer) -> None:
    query = "SELECT TOP 5 obs_id, s_ra, calib_level, s_region FROM ivoa.obscore ORDER BY obs_id"
    bodies = {}
    with httpx.Client(base_url=vo_server.url, timeout=30) as client:
        for fmt in ("votable", "votable/td", "csv", "tsv"):
            answer = client.post("/vo/tap/sync", data={"LANG": "ADQL", "QUERY": query,
                                                       "RESPONSEFORMAT": fmt})  # fmt: skip
            assert answer.status_code == 200, answer.text
            bodies[fmt] = answer
    binary = parse_single_table(io.BytesIO(bodies["votable"].content)).to_table()
    tabledata = parse_single_table(io.BytesIO(bodies["votable/td"].content)).to_table()
    assert b"<BINARY2>" in bodies["votable"].content
    assert b"<TABLEDATA>" in bodies["votable/td"].content
    csv = astropy_ascii.read(bodies["csv"].text, format="csv")
    tsv = astropy_ascii.read(bodies["tsv"].text, format="tab")
    assert bodies["csv"].headers["content-type"].startswith("text/csv")
    for table in (tabledata, csv, tsv):
        assert list(table["obs_id"]) == list(binary["obs_id"])
    answer = parse_single_table(io.BytesIO(bodies["votable"].content))
    field = answer.get_field_by_id_or_name("s_ra")
    assert (str(field.unit), field.ucd) == ("deg", "pos.eq.ra")


def test_maxrec_overflow_is_marked(tap: pyvo.dal.TAPService) -> None:
    result = tap.run_sync("SELECT obs_id FROM ivoa.obscore", maxrec=2)
    assert len(result) == 2 and result.status[0] == "OVERFLOW"  # pyvo read DALI's INFO
    whole = tap.run_sync("SELECT TOP 2 obs_id FROM ivoa.obscore", maxrec=5)
    assert len(whole) == 2 and whole.status[0] == "OK"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"LANG": "ADQL", "QUERY": "SELECT obs_idd FROM ivoa.obscore"}, "Did you mean 'obs_id'"),
        ({"LANG": "ADQL", "QUERY": "SELEKT * FROM ivoa.obscore"}, "syntax error"),
        ({"LANG": "PQL", "QUERY": "SELECT 1"}, "LANG"),
        ({"QUERY": "SELECT TOP 1 obs_id FROM ivoa.obscore"}, "LANG is missing"),
        ({"LANG": "ADQL"}, "QUERY is missing"),
        ({"LANG": "ADQL", "QUERY": "SELECT obs_id FROM ivoa.obscore", "MAXREC": "lots"}, "MAXREC"),
        ({"LANG": "ADQL", "QUERY": "SELECT obs_id FROM ivoa.obscore", "RESPONSEFORMAT": "fits"},
         "RESPONSEFORMAT"),
    ],
)  # fmt: skip
def test_bad_requests_are_dali_errors(
    vo_server: LiveServer, params: dict[str, str], words: str
) -> None:
    answer = httpx.get(f"{vo_server.url}/vo/tap/sync", params=params, timeout=30)
    assert answer.status_code == 400
    info = next(i for i in parse(io.BytesIO(answer.content)).resources[0].infos)
    assert (info.name, info.value) == ("QUERY_STATUS", "ERROR")
    assert words in info.content


def test_pyvo_reports_our_message(tap: pyvo.dal.TAPService) -> None:
    with pytest.raises(pyvo.dal.DALQueryError, match="Unknown table"):
        tap.run_sync("SELECT * FROM ivoa.nothing")


def test_token_callers_see_what_everyone_sees(vo_server: LiveServer, demo_archive: Archive) -> None:
    """Metadata is every caller's (EAP rows included, marked proprietary); a token is taken
    as on the MAST API, and a bad one does not stop a public query."""
    callers = create_callers(demo_archive.engine, "4567")
    query = {"LANG": "ADQL", "QUERY": "SELECT obs_publisher_did, data_rights FROM ivoa.obscore "
             "WHERE proposal_id = '4567'", "RESPONSEFORMAT": "csv"}  # fmt: skip
    answers = {}
    for who in ("anonymous", "pi", "other", "malformed"):
        headers = headers_for(callers, who) if who != "anonymous" else {}
        answer = httpx.get(f"{vo_server.url}/vo/tap/sync", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        answers[who] = answer.text
    assert len(set(answers.values())) == 1
    rows = astropy_ascii.read(answers["pi"], format="csv")
    assert len(rows) > 0 and set(rows["data_rights"]) == {"proprietary"}


def test_taplint_finds_nothing_wrong(vo_server: LiveServer) -> None:
    """taplint's sync stages (async ones, QAS and UWS, run where the worker is in the test)."""
    stages = "TMV TME TMS TMC CPV CAP AVV QGE QPO MDQ OBS EXA"
    report = stilts("taplint", f"tapurl={vo_server.url}/vo/tap", f"stages={stages}",
                    "report=EW", "maxrepeat=3")  # fmt: skip
    assert "Totals: Errors: 0; Warnings: 0" in report, report


@pytest.fixture
def postgres_server(
    tmp_path: object, archive_snapshots: object, demo_output: object, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    archive = request.getfixturevalue("demo_archive_copy")
    with LiveServer(archive) as live:
        yield live


@pytest.mark.parametrize("database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_cone_on_postgresql(postgres_server: LiveServer, database_kind: str) -> None:
    tap = pyvo.dal.TAPService(f"{postgres_server.url}/vo/tap")
    every = tap.run_sync("SELECT obs_publisher_did, s_ra, s_dec FROM ivoa.obscore").to_table()
    near = SkyCoord(*M57, unit="deg").separation(
        SkyCoord(every["s_ra"], every["s_dec"], unit="deg")
    ) < 0.05 * u.deg  # fmt: skip
    assert set(tap.run_sync(CONE).to_table()["obs_publisher_did"]) == set(
        every["obs_publisher_did"][near]
    )
