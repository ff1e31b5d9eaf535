"""MastMissions(mission='jwst'), unmodified astroquery, against a live skyarchive.

Expected rows come from independent routes: the same server's unfiltered answer filtered here
in Python, the catalog read directly, or astropy's own separations; never from the output the
test checks.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import httpx
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for

EVERYTHING = "1..99999"  # a condition every dataset meets (program numbers)
M57 = SkyCoord(283.396, 33.029, unit="deg")


@pytest.fixture(scope="module")
def missions(mast):  # type: ignore[no-untyped-def]
    return mast.MastMissions(mission="jwst")


@pytest.fixture(scope="module")
def every(missions):  # type: ignore[no-untyped-def]
    """Every dataset with every column: the oracle that filtered answers are checked against."""
    return missions.query_criteria(program=EVERYTHING, select_cols=["*"])


@pytest.fixture(scope="module")
def eap(demo_archive) -> tuple[Callers, str, str]:  # type: ignore[no-untyped-def]
    """Callers of program 4567, and one of its exclusive-access FITS files and a public one."""
    callers = create_callers(demo_archive.engine, "4567")
    owner = observations.alias("owner")
    with demo_archive.engine.connect() as conn:
        names = (
            select(products.c.productFilename)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(products.c.productFilename.like("%.fits"))
        )
        closed = conn.scalars(
            names.where(products.c.proposal_id == "4567", owner.c.t_obs_release > now_mjd())
        ).first()
        public = conn.scalars(names.where(owner.c.t_obs_release < now_mjd())).first()
    assert closed and public
    return callers, closed, public


def test_column_list_names_types_and_descriptions(missions) -> None:  # type: ignore[no-untyped-def]
    columns = missions.get_column_list()
    names = list(columns["name"])
    for name in ("fileSetName", "ArchiveFileID", "program", "instrume", "exp_type", "pi_name",
                 "date_obs", "access", "s_region", "ang_sep", "targ_ra", "targ_dec"):  # fmt: skip
        assert name in names
    types = dict(zip(columns["name"], columns["data_type"], strict=True))
    assert types["program"] == "integer" and types["targ_ra"] == "ra"
    assert types["date_obs"] == "datetime" and types["pi_name"] == "substring"
    assert all(len(d) > 0 for d in columns["description"])


def test_column_list_is_mast_s_whole_list(live_server) -> None:  # type: ignore[no-untyped-def]
    # MAST's recorded list: 258 entries, four names listed twice, counted per qual_type.
    answer = httpx.get(f"{live_server.url}/search/util/api/v0.1/column_list",
                       params={"mission": "jwst"}, timeout=30)  # fmt: skip
    entries = answer.json()
    names = [e["column_name"] for e in entries]
    assert len(entries) == 258 and len(set(names)) == 254
    assert {n for n in names if names.count(n) == 2} == {"effexptm", "texptime", "gsstrttm",
                                                         "gsendtim"}  # fmt: skip
    kinds = [e["qual_type"] for e in entries]
    counts = {kind: kinds.count(kind) for kind in set(kinds)}
    assert counts == {"string": 108, "integer": 70, "float": 64, "datetime": 12, "ra": 1,
                      "dec": 1, "substring": 1, "ustring": 1}  # fmt: skip
    first_ten = "search_pos ArchiveFileID fileSetName productLevel targprop targname targ_ra"
    assert names[:10] == (first_ten + " targ_dec instrume exp_type").split()
    assert {"visid_id", "obsfolder", "nircam_faphase1", "miri_ditchdirc", "gs_dra"} <= set(names)
    described = {e["column_name"]: e["description"] for e in entries}
    assert "READPATT" in described["readpatt"] and "eadout" in described["readpatt"]


def test_query_criteria_conditions_match_python_filters(missions, every) -> None:  # type: ignore[no-untyped-def]
    assert len(every) > 5 and len(set(every["fileSetName"])) == len(every)
    instrument = every["instrume"][0]
    cases = [  # (column, condition value, the rows it should keep)
        ("instrume", instrument.lower(), lambda r: r["instrume"] == instrument),
        ("instrume", f"!{instrument}", lambda r: r["instrume"] != instrument),
        ("exp_type", "*IMAGE*", lambda r: "IMAGE" in r["exp_type"]),
        ("duration", ">100", lambda r: r["duration"] > 100),
        ("program", "1000..1500", lambda r: 1000 <= r["program"] <= 1500),
        ("program", "1073,4567", lambda r: r["program"] in (1073, 4567)),
        ("program", "1073,4567,!4567", lambda r: r["program"] == 1073),
        ("date_obs", "<2022-06", lambda r: r["date_obs"] < "2022-06"),
    ]
    for column, value, keep in cases:
        found = missions.query_criteria(**{column: value}, select_cols=["*"])
        expected = {r["fileSetName"] for r in every if keep(r)}
        assert 0 < len(expected) < len(every) or column == "duration", (column, value)
        assert set(found["fileSetName"]) == expected, (column, value)
    last_name = every["pi_name"][0].split(",")[0]
    found = missions.query_criteria(pi_name=last_name.upper())
    assert set(found["fileSetName"]) == {r["fileSetName"] for r in every
                                         if last_name in r["pi_name"]}  # fmt: skip
    both = missions.query_criteria(instrume=instrument, program=int(every["program"][0]))
    assert set(both["instrume"]) == {instrument}
    assert set(both["program"]) == {every["program"][0]}


def test_select_cols_keep_column_list_order(missions) -> None:  # type: ignore[no-untyped-def]
    chosen = ["program", "date_obs", "instrume"]
    table = missions.query_criteria(program=EVERYTHING, select_cols=list(chosen))
    order = list(missions.get_column_list()["name"])
    wanted = set(chosen) | {"ArchiveFileID", "s_region", "fileSetName"}
    assert table.colnames == [name for name in order if name in wanted]


def test_default_columns_and_search_params(missions) -> None:  # type: ignore[no-untyped-def]
    table = missions.query_criteria(program=EVERYTHING)
    for name in ("ArchiveFileID", "fileSetName", "productLevel", "access", "s_region"):
        assert name in table.colnames
    assert "ang_sep" not in table.colnames
    assert set(table["access"]) <= {"PUBLIC", "EXCLUSIVE_ACCESS"}


def test_sort_limit_and_offset_page_through_the_same_order(missions, every) -> None:  # type: ignore[no-untyped-def]
    sorted_ = missions.query_criteria(program=EVERYTHING, sort_by=["duration"],
                                      sort_desc=[True], select_cols=["duration"])  # fmt: skip
    assert list(sorted_["duration"]) == sorted(every["duration"], reverse=True)
    pages = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # full pages warn MaxResultsWarning, as on MAST
        for offset in range(0, len(every), 4):
            pages += list(missions.query_criteria(program=EVERYTHING, limit=4,
                                                  offset=offset)["fileSetName"])  # fmt: skip
    assert pages == sorted(every["fileSetName"])


def test_query_region_finds_footprints_that_touch_the_cone(missions, every) -> None:  # type: ignore[no-untyped-def]
    row = every[0]
    ras, decs = np.array(row["s_region"].split()[1:], dtype=float).reshape(-1, 2).T
    centre = SkyCoord(ras.mean(), decs.mean(), unit="deg")  # inside the convex footprint
    found = missions.query_region(centre, radius=0.5)
    assert row["fileSetName"] in set(found["fileSetName"])
    assert found["ang_sep"][list(found["fileSetName"]).index(row["fileSetName"])] == 0.0
    assert (found["ang_sep"] <= 0.5).all()
    for other in every:  # footprints whose every corner lies 1 deg away cannot match
        corners = np.array(other["s_region"].split()[1:], dtype=float).reshape(-1, 2)
        far = SkyCoord(corners[:, 0], corners[:, 1], unit="deg").separation(centre).deg
        if far.min() > 1.0:
            assert other["fileSetName"] not in set(found["fileSetName"])


def test_query_object_matches_query_region(missions, live_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HTTP_PROXY", live_server.url)  # astroquery's resolver host is fixed
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    by_name = missions.query_object("M57", radius=2)
    by_place = missions.query_region(M57, radius=2)
    assert len(by_name) > 0
    assert set(by_name["fileSetName"]) == set(by_place["fileSetName"])
    both = missions.query_criteria(objectname="M57", radius=2, exp_type="*IMAGE*")
    assert set(both["fileSetName"]) <= set(by_name["fileSetName"])


def test_level3_datasets_hold_every_filter_of_an_observation(missions, demo_archive) -> None:  # type: ignore[no-untyped-def]
    # MAST names a level-3 dataset up to the instrument (jw01073-o001_t001_nircam); its files
    # are the level-3 files of every CAOM level-3 observation under that name.
    found = missions.query_criteria(program="1073", productLevel="3",
                                    select_cols=["opticalElements", "productLevel"])  # fmt: skip
    assert len(found) > 0
    with demo_archive.engine.connect() as conn:
        of_1073 = observations.c.proposal_id == "1073"
        query = select(observations.c.obs_id).where(observations.c.calib_level == 3, of_1073)
        level3 = conn.scalars(query).all()
    for row in found:
        name = row["fileSetName"]
        assert name.count("_") == 2 and name.endswith("_nircam"), name
        members = [obs_id for obs_id in level3 if obs_id.startswith(name + "_")]
        assert len(row["opticalElements"].split(", ")) == len(members) > 0
    widest = found[int(np.argmax([len(r["opticalElements"]) for r in found]))]
    listed = missions.get_product_list(widest)
    assert {str(f) for f in listed["filename"] if str(f).endswith("_i2d.fits")} == {
        f"{obs_id}_i2d.fits" for obs_id in level3 if obs_id.startswith(widest["fileSetName"] + "_")
    }


def test_products_filter_and_download(missions, every, demo_archive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    public = every[every["access"] == "PUBLIC"][:2]
    listed = missions.get_product_list(public)
    assert set(listed["dataset"]) == set(public["fileSetName"])
    for row in listed:
        assert row["filename"].startswith(row["dataset"] + "_")
        assert row["uri"] == f"{row['dataset']}/{row['filename']}"
    fits = missions.filter_products(listed, extension="fits")
    assert len(fits) > 0 and all(name.endswith(".fits") for name in fits["filename"])
    manifest = missions.download_products(fits, download_dir=tmp_path)
    assert set(manifest["Status"]) == {"COMPLETE"}
    with demo_archive.engine.connect() as conn:
        sums = dict(conn.execute(select(products.c.productFilename, products.c.sha256)).all())
    for path in manifest["Local Path"]:
        path = Path(path)
        assert path.parent.parent == tmp_path / "mastDownload" / "jwst"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name]


def test_exclusive_access_files_need_a_granted_token(mast, every, eap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    callers, _closed, _public = eap
    closed = every[every["access"] == "EXCLUSIVE_ACCESS"][:1]
    assert len(closed) == 1
    anonymous = mast.MastMissions(mission="jwst")
    listed = anonymous.filter_products(anonymous.get_product_list(closed), extension="fits")
    refused = anonymous.download_products(listed[:1], download_dir=tmp_path / "anon")
    assert refused["Status"][0] == "ERROR" and "401" in refused["Message"][0]
    outsider = mast.MastMissions(mission="jwst", mast_token=callers.tokens["other"])
    forbidden = outsider.download_products(listed[:1], download_dir=tmp_path / "other")
    assert forbidden["Status"][0] == "ERROR" and "403" in forbidden["Message"][0]
    granted = mast.MastMissions(mission="jwst", mast_token=callers.tokens["coi"])
    manifest = granted.download_products(listed[:1], download_dir=tmp_path / "coi")
    assert manifest["Status"][0] == "COMPLETE"
    assert Path(manifest["Local Path"][0]).stat().st_size > 0


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_retrieve_product_follows_the_access_rule(live_server, eap, who: str) -> None:  # type: ignore[no-untyped-def]
    callers, closed, public = eap
    url = f"{live_server.url}/search/jwst/api/v0.1/retrieve_product"
    headers = headers_for(callers, who)
    dataset = closed[:25]
    for name in (closed, f"{dataset}/{closed}"):
        answer = httpx.get(url, params={"product_name": name}, headers=headers, timeout=30)
        assert answer.status_code == EXPECTED[who], (name, answer.text[:200])
        assert (answer.content[:6] == b"SIMPLE") == (EXPECTED[who] == 200)
    ranged = httpx.get(url, params={"product_name": closed}, timeout=30,
                       headers={**headers, "Range": "bytes=0-99"})  # fmt: skip
    assert ranged.status_code == (206 if EXPECTED[who] == 200 else EXPECTED[who])
    # public files are served to everybody (a refused token makes the caller anonymous)
    assert httpx.get(url, params={"product_name": public}, headers=headers).status_code == 200


BAD_SEARCHES = [
    b"not json",
    b"[1, 2]",
    b'{"conditions": [{"no_such_column": "x"}]}',
    b'{"conditions": [{"program": "abc"}]}',
    b'{"conditions": [{"date_obs": "<yesterday"}]}',
    b'{"conditions": [{"ang_sep": "<1"}]}',
    b'{"conditions": "program=1"}',
    b'{"limit": -1}',
    b'{"offset": "ten"}',
    b'{"select_cols": ["nope"]}',
    b'{"sort_by": ["nope"]}',
    b'{"target": ["not a place"], "radius": 6, "radius_units": "arcseconds"}',
    b'{"target": ["10 20"], "radius": 3, "radius_units": "degrees"}',
    b'{"target": ["10 20"], "radius": 3, "radius_units": "furlongs"}',
]


@pytest.mark.parametrize("body", BAD_SEARCHES)
def test_bad_searches_answer_400_with_a_message(live_server, body: bytes) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.post(f"{live_server.url}/search/jwst/api/v0.1/search", content=body,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 400, answer.text[:300]
    assert len(answer.json()["error"]["message"]) > 10


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/search/jwst/api/v0.1/post_list_products", {"dataset_ids": []}),
        ("POST", "/search/jwst/api/v0.1/post_list_products", {"dataset_ids": "x" * 0}),
        ("POST", "/search/jwst/api/v0.1/post_list_products", {"dataset_ids": [1, 2]}),
        ("POST", "/search/jwst/api/v0.1/post_list_products",
         {"dataset_ids": [f"jw{n:011d}" for n in range(1001)]}),
        ("POST", "/search/hubble/api/v0.1/search", {}),
        ("GET", "/search/util/api/v0.1/column_list?mission=nosuch", None),
        ("GET", "/search/jwst/api/v0.1/retrieve_product", None),
        ("GET", "/search/jwst/api/v0.1/retrieve_product?product_name=" + "a" * 500, None),
    ],
)  # fmt: skip
def test_bad_product_requests_answer_400(live_server, method: str, path: str, payload) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.request(method, live_server.url + path, json=payload, timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["error"]["message"]


def test_unknown_product_is_404(live_server) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/search/jwst/api/v0.1/retrieve_product"
    answer = httpx.get(url, params={"product_name": "jw99999001001_02101_00001_nrs1_cal.fits"})
    assert answer.status_code == 404


def test_type_errors_reach_astroquery_as_invalid_query(missions) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import InvalidQueryError

    with pytest.raises(InvalidQueryError):
        missions.query_criteria(program="abc")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"conditions": [{"targprop": 5}]}, 200),
        ({"conditions": {"program": "1e3..5000"}}, 200),
        ({"sort_by": ["date_obs", "program"], "sort_desc": [True]}, 200),
        ({"limit": 0}, 200),
        ({"select_cols": "program,pi_name"}, 200),
        ({"target": "283.396 33.029", "radius": 0}, 200),
        ({"target": ["10 95"], "radius": 1, "radius_units": "arcminutes"}, 400),
        ({"target": ["10 20"] * 101}, 400),
        ({"conditions": [{"exp_type": "*" * 2001}]}, 400),
        ({"conditions": [{"program": 1}] * 101}, 400),
        ({"sort_desc": "yes"}, 400),
    ],
)
def test_odd_searches_get_an_answer_never_a_5xx(live_server, body: dict, status: int) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.post(f"{live_server.url}/search/jwst/api/v0.1/search", json=body, timeout=30)
    assert answer.status_code == status, answer.text[:300]
    if status == 200:
        assert answer.json()["info"]  # astroquery reads info[0], even with no rows


def test_header_keyword_columns_search_and_instrument_blocks(missions, every) -> None:  # type: ignore[no-untyped-def]
    names = set(missions.get_column_list()["name"])
    assert {"readpatt", "subarray", "nints", "nirspec_grating", "miri_band"} <= names
    readpatt = next(v for v in every["readpatt"] if v)
    found = missions.query_criteria(readpatt=readpatt)
    assert set(found["fileSetName"]) == {
        r["fileSetName"] for r in every if r["readpatt"] == readpatt
    }
    nircam = every[every["instrume"] == "NIRCAM"]
    assert len(nircam) > 0 and all(np.ma.is_masked(v) or v == "" for v in nircam["miri_band"])
