"""Wavefront sensing (WSS) products through the real server: the query PSF tools make
(``ap_type = OPD`` within ±1.5 days of a date, else ±6 days) with astroquery, and downloads
through ``Download/file`` for every kind of caller.

Expected rows come from the demo's list of sensings (times through astropy), expected bytes
and RMS from the written files themselves (numpy over their RESULT_PHASE).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from astropy.io import fits
from astropy.time import Time

from skyarchive.archive import Archive
from skyarchive.demo.wss import DEMO_SENSINGS, write_demo_wss
from skyarchive.ingest.run import ingest_paths
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for


@pytest.fixture(scope="module")
def wss_dir(demo_archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wss-demo")
    write_demo_wss(out)
    report = ingest_paths([out], engine=demo_archive.engine, storage=demo_archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    return out


@pytest.fixture(scope="module")
def people(demo_archive: Archive) -> Callers:
    return create_callers(demo_archive.engine, "4567")


def _opd_query(mast, mjd: float, half_width: float) -> list[dict]:  # type: ignore[no-untyped-def]
    filters = [
        {"paramName": "ap_type", "values": ["OPD"]},
        {
            "paramName": "date_obs_mjd",
            "values": [{"min": mjd - half_width, "max": mjd + half_width}],
        },
    ]
    answer = mast.Mast.service_request_async("Mast.Jwst.Filtered.Wss",
                                             {"columns": "*", "filters": filters})  # fmt: skip
    body = answer[0].json()
    assert body["status"] == "COMPLETE", body
    return body["data"]


def test_opd_maps_near_a_date_then_wider(mast, wss_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sensing_mjd = {f"R{m:%Y%m%d}{i:02d}": Time(m, scale="utc").mjd
                   for i, (m, _ap) in enumerate(DEMO_SENSINGS, start=1)}  # fmt: skip
    date = Time("2022-07-02T00:00:00", scale="utc").mjd
    near = _opd_query(mast, date, 1.5)
    assert {r["corr_id"] for r in near} == {
        c for c, t in sensing_mjd.items() if abs(t - date) <= 1.5
    }
    assert near
    row = near[0]
    assert set(row) >= {"ap_type", "apername", "date_obs_mjd", "visitId", "corr_id", "obs_id",
                        "fileName", "dataURI"}  # fmt: skip
    assert row["dataURI"] == f"mast:JWST/product/{row['fileName']}"
    assert row["fileName"].startswith(row["corr_id"] + "-" + row["apername"])
    assert not row["visitId"].startswith("V") and row["obs_id"][-5:] == "02101"
    assert abs(row["date_obs_mjd"] - sensing_mjd[row["corr_id"]]) < 1e-6

    # no sensing within ±1.5 days: the tools widen to ±6 days
    lonely = Time("2022-07-15T00:00:00", scale="utc").mjd
    assert _opd_query(mast, lonely, 1.5) == []
    wider = _opd_query(mast, lonely, 6.0)
    assert {r["corr_id"] for r in wider} == {
        c for c, t in sensing_mjd.items() if abs(t - lonely) <= 6
    }
    assert wider

    counted = mast.Mast.service_request_async(
        "Mast.Jwst.Filtered.Wss", {"columns": "COUNT_BIG(*)", "filters": []}
    )[0].json()
    assert counted["data"] == [{"Column1": len(DEMO_SENSINGS)}]
    bad = mast.Mast.service_request_async(
        "Mast.Jwst.Filtered.Wss",
        {"columns": "*", "filters": [{"paramName": "ap_typ", "values": ["OPD"]}]},
    )[0].json()
    assert bad["status"] == "ERROR" and "ap_type" in bad["msg"]


def test_rms_is_that_of_the_opd_over_the_pupil(mast, wss_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rows = _opd_query(mast, Time("2022-07-04T00:00:00").mjd, 10)
    assert len(rows) == len(DEMO_SENSINGS)
    for row in rows:
        with fits.open(wss_dir / row["fileName"]) as hdul:
            opd = hdul["RESULT_PHASE"].data.astype("float64")
        inside = opd[opd != 0]
        assert row["rms_nm"] == pytest.approx(inside.std() * 1000, rel=1e-9)
        assert 30 < row["rms_nm"] < 150  # nm, as the telescope's wavefront shows


@pytest.mark.parametrize("who", list(EXPECTED))
def test_every_caller_downloads_wss_products(
    live_server, people: Callers, wss_dir: Path, who: str
) -> None:  # type: ignore[no-untyped-def]
    """WSS products are public on arrival, as at MAST: any caller, even a bad token, reads them."""
    name = sorted(p.name for p in wss_dir.glob("*.fits"))[0]
    answer = httpx.get(f"{live_server.url}/api/v0.1/Download/file",
                       params={"uri": f"mast:JWST/product/{name}"},
                       headers=headers_for(people, who))  # fmt: skip
    assert answer.status_code == 200
    assert answer.content == (wss_dir / name).read_bytes()
    with fits.open(io.BytesIO(answer.content)) as hdul:
        assert hdul["RESULT_PHASE"].data.shape == (256, 256)
    assert "attachment" in answer.headers["content-disposition"]


@pytest.mark.parametrize("who", list(EXPECTED))
def test_every_caller_bundles_wss_products(
    live_server, people: Callers, wss_dir: Path, who: str
) -> None:  # type: ignore[no-untyped-def]
    """A zip and a cURL script judge WSS files by the same release as ``Download/file``: they
    are public, so every file is in the zip and no script line needs the token."""
    names = sorted(p.name for p in wss_dir.glob("*.fits"))[:2]
    uris = [f"mast:JWST/product/{name}" for name in names]
    zipped = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.zip", data={"uri": uris},
                        headers=headers_for(people, who), timeout=60)  # fmt: skip
    assert zipped.status_code == 200, zipped.text[:300]
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    for name in names:
        entry = next(e for e in archive.namelist() if e.endswith("/" + name))
        assert archive.read(entry) == (wss_dir / name).read_bytes()
    script = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.sh", data={"uri": uris},
                        headers=headers_for(people, who), timeout=60).text  # fmt: skip
    fetches = [line for line in script.splitlines() if line.startswith("fetch ")]
    assert len(fetches) == len(names)
    assert all(line.rstrip().endswith(" 0") for line in fetches)  # no token needed


def test_the_search_panel_sends_the_wss_collection_to_its_page(live_server, wss_dir) -> None:  # type: ignore[no-untyped-def]
    """The panel's form sent without a script (GET /search?collection=wss...) lands on /wss."""
    answer = httpx.get(f"{live_server.url}/search", params={"collection": "wss",
                       "start": "2022-06-30", "end": "2022-07-06"})  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/wss?start=2022-06-30&end=2022-07-06"
    assert httpx.get(f"{live_server.url}/search?collection=wss").headers["location"] == "/wss"
    page = httpx.get(f"{live_server.url}{answer.headers['location']}")
    low, high = Time("2022-06-30").mjd, Time("2022-07-06").mjd
    expected = [m for m, _ap in DEMO_SENSINGS if low <= Time(m).mjd <= high]
    assert f">{len(expected)} products<" in page.text
