"""The portal's keyword-search endpoints (``/api/portal/keyword-search``) against a live server.

Expected values come from the stored FITS headers and catalog rows of the demo archive, read
here with SQL, never from the answers under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.keyword_files import listed_files

BASE = "/api/portal/keyword-search"


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


def mjd(iso: str) -> float:
    moment = datetime.fromisoformat(iso).replace(tzinfo=UTC)
    return (moment - datetime(1858, 11, 17, tzinfo=UTC)).total_seconds() / 86400


def obs_mjd(header: dict) -> float:
    return mjd(f"{header['DATE-OBS']}T{header.get('TIME-OBS') or '00:00:00'}")


def assert_error(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"status", "type", "message"} and error["status"] == status
    assert text in error["message"]


def test_niriss_tutorial_filters_count_files_and_values(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "NIRISS")
    soss = {pid for pid, f in files.items() if f["header"].get("EXP_TYPE") == "NIS_SOSS"}
    tso = {pid for pid in soss if str(files[pid]["header"].get("TSOVISIT")).upper()[:1] == "T"}
    assert tso, "the demo archive holds a NIRISS SOSS time series"
    days = sorted(obs_mjd(files[pid]["header"]) for pid in tso)
    day = (datetime(1858, 11, 17) + timedelta(days=days[0])).strftime("%Y-%m-%d")

    def on_day(header: dict) -> bool:
        return 0 <= obs_mjd(header) - mjd(day) < 1

    expected = {pid for pid in tso if on_day(files[pid]["header"])}

    filters = [{"paramName": "exp_type", "values": ["NIS_SOSS"]},
               {"paramName": "tsovisit", "values": ["T"]},
               {"paramName": "date_obs_mjd", "values": [{"min": day, "max": day}]}]  # fmt: skip
    got = client.post(f"{BASE}/search", json={"instrument": "NIRISS", "filters": filters}).json()
    assert got["total"] == len(expected)
    assert {row["ArchiveFileID"] for row in got["rows"]} == expected
    row = got["rows"][0]
    assert {"filename", "fileSetName", "productLevel", "exp_type", "dataURI", "isRestricted",
            "obsid", "dataRights", "date_obs", "date_obs_mjd"} <= set(row)  # fmt: skip
    assert row["obsid"] == str(files[row["ArchiveFileID"]]["owner_obsid"])
    assert row["date_obs"].startswith(day)  # shown as a date, not /Date(ms)/
    levels = {}
    for pid in expected:
        level = next(r["productLevel"] for r in got["rows"] if r["ArchiveFileID"] == pid)
        levels[level] = levels.get(level, 0) + 1
    facet = {v["value"]: v["count"] for v in got["facets"]["productLevel"]["values"]}
    assert facet == levels

    # the value list of exp_type counts over the files the *other* filters leave
    others = filters[1:]
    values = client.post(f"{BASE}/values", json={"instrument": "NIRISS", "filters": others,
                                                   "column": "exp_type"}).json()  # fmt: skip
    counted: dict[str, int] = {}
    for pid in files:
        header = files[pid]["header"]
        if str(header.get("TSOVISIT")).upper()[:1] == "T" and on_day(header):
            counted[header["EXP_TYPE"]] = counted.get(header["EXP_TYPE"], 0) + 1
    assert {v["value"]: v["count"] for v in values["values"]} == counted
    count = client.post(f"{BASE}/count", json={"instrument": "niriss", "filters": filters}).json()
    assert count == {"count": len(expected)}


def test_sorting_and_paging_on_the_server(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "MIRI")
    names = sorted(f["productFilename"] for f in files.values())
    pages = []
    for page in (1, 2):
        got = client.post(f"{BASE}/search", json={
            "instrument": "MIRI", "sort": "filename", "descending": True, "page": page,
            "pagesize": 10}).json()  # fmt: skip
        assert got["total"] == len(files)
        pages += [row["filename"] for row in got["rows"]]
    assert pages == list(reversed(names))[:20]


def test_cone_limits_files_to_observations_it_touches(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "MIRI")
    some = next(iter(files.values()))
    text = f"{some['s_ra']} {some['s_dec']} r=0.001d"
    got = client.post(f"{BASE}/search", json={"instrument": "MIRI", "text": text,
                                               "pagesize": 500}).json()  # fmt: skip
    ids = {row["ArchiveFileID"] for row in got["rows"]}
    assert some["product_id"] in ids and got["total"] == len(ids) <= len(files)
    assert got["position"]["radius"] == pytest.approx(0.001)


def test_exclusive_access_rows_are_marked(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "MIRI")
    now = (datetime.now(UTC) - datetime(1858, 11, 17, tzinfo=UTC)).total_seconds() / 86400
    closed = {pid for pid, f in files.items()
              if f["t_obs_release"] is None or f["t_obs_release"] > now}  # fmt: skip
    assert closed, "the demo archive holds MIRI files in their exclusive-access period"
    got = client.post(f"{BASE}/search", json={"instrument": "MIRI", "pagesize": 500}).json()
    marked = {r["ArchiveFileID"] for r in got["rows"] if r["dataRights"] == "EXCLUSIVE_ACCESS"}
    assert marked == closed
    assert {r["ArchiveFileID"] for r in got["rows"] if r["isRestricted"]} == closed


def test_selected_files_lead_to_their_observations(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "NIRISS")
    chosen = sorted(files)[:2]
    got = client.post(f"{BASE}/observations", json={"instrument": "NIRISS",
                                                     "product_ids": chosen}).json()  # fmt: skip
    assert set(got["obsids"]) == {str(files[pid]["owner_obsid"]) for pid in chosen}
    everything = client.post(f"{BASE}/observations", json={"instrument": "NIRISS"}).json()
    assert set(everything["obsids"]) == {str(f["owner_obsid"]) for f in files.values()}


def test_columns_of_an_instrument(client) -> None:  # type: ignore[no-untyped-def]
    got = client.get(f"{BASE}/columns", params={"instrument": "nirspec"}).json()
    names = [c["name"] for c in got["columns"]]
    assert got["label"] == "NIRSpec" and "grating" in names and "pupil" not in names
    mjd_twin = next(c for c in got["columns"] if c["name"] == "date_obs_mjd")
    assert mjd_twin["isDate"] and mjd_twin["continuous"]


@pytest.mark.parametrize(
    ("path", "body", "text"),
    [
        ("search", {"instrument": "NIRCAM", "filters": [
            {"paramName": "subarrey", "values": ["FULL"]}]}, "Did you mean 'subarray'"),
        ("search", {"instrument": "WFC3", "filters": []}, "Unknown instrument 'WFC3'"),
        ("search", {"instrument": "NIRISS", "filters": [
            {"paramName": "date_obs_mjd", "values": [{"min": "2022-08-05", "max": "2022-08-01"}]}]},
         "the range starts after it ends"),
        ("search", {"instrument": "NIRISS", "filters": [
            {"paramName": "date_obs_mjd", "values": [{"min": "yesterday"}]}]}, "is not a date"),
        ("search", {"instrument": "NIRISS", "filters": [
            {"paramName": "nints", "values": [{"min": "many"}]}]}, "is not a number"),
        ("search", {"instrument": "NIRISS", "text": "no such object xyzzy"}, "xyzzy"),
        ("values", {"instrument": "MIRI", "column": "nosuch"}, "Unknown keyword 'nosuch'"),
        ("observations", {"instrument": "", "filters": []}, "Unknown instrument"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_400(client, path: str, body: dict, text: str) -> None:  # type: ignore[no-untyped-def]
    assert_error(client.post(f"{BASE}/{path}", json=body), 400, text)


def test_bad_instrument_on_columns_is_a_400(client) -> None:  # type: ignore[no-untyped-def]
    assert_error(client.get(f"{BASE}/columns", params={"instrument": "acs"}), 400, "NIRCam")


def test_files_go_to_the_basket_by_product_id(live_server, demo_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(demo_archive, "NIRISS")
    chosen = sorted(files)[0]
    owner = files[chosen]["owner_obsid"]
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:  # its own basket cookie
        added = browser.post("/api/portal/basket/files", json={"product_ids": [chosen]})
        assert added.status_code == 200, added.text
        tree = browser.get("/api/portal/basket").json()
        held = {f["product_id"] for m in tree["tree"] for o in m["observations"]
                for f in o["children"]}  # fmt: skip
        assert held == {chosen}
        assert added.json()["summary"] == {**tree["summary"]}
        # adding the whole observation brings its other files back
        browser.post("/api/portal/basket/observations", json={"obsids": [str(owner)]})
        whole = browser.get("/api/portal/basket").json()["summary"]["files"]
        assert whole > 1
        # adding the file again changes nothing
        browser.post("/api/portal/basket/files", json={"product_ids": [chosen]})
        assert browser.get("/api/portal/basket").json()["summary"]["files"] == whole

        assert_error(browser.post("/api/portal/basket/files", json={"product_ids": [10**15]}),
                     404, "No file with product id")  # fmt: skip
        assert_error(browser.post("/api/portal/basket/files", json={"product_ids": []}), 400,
                     "product_ids")  # fmt: skip


def test_a_single_value_instead_of_a_list_is_read_and_shown(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    # MAST takes "values": 5 for [5]; the status line once failed on it (a 500)
    files = listed_files(demo_archive, "NIRISS")
    nints = next(iter(files.values()))["header"]["NINTS"]
    filters = [{"paramName": "nints", "values": nints}]
    got = client.post(f"{BASE}/search", json={"instrument": "NIRISS", "filters": filters})
    assert got.status_code == 200, got.text
    assert got.json()["total"] == sum(1 for f in files.values() if f["header"]["NINTS"] == nints)
    assert got.json()["display"] == f"NIRISS keywords; nints: {nints}"
    level_3 = [{"paramName": "calib_level", "values": 3}]
    caom = client.post("/api/portal/search", json={"collection": "filters", "filters": level_3})
    assert caom.status_code == 200, caom.text
    assert caom.json()["query"]["display"] == "Calibration Level: 3"
