"""The seed's API tutorial and astroquery.mast's everyday calls against a live skyarchive."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import unique, vstack
from sqlalchemy import select

from skyarchive.db.tables import products
from tests.tools import needs

M57 = SkyCoord(283.396, 33.029, unit="deg")


def archive_checksums(archive) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return dict(conn.execute(select(products.c.productFilename, products.c.sha256)).all())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tutorial_criteria_products_and_curl_script(mast, demo_archive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    obs = Observations.query_criteria(
        obs_collection="JWST", proposal_id="1073", instrument_name="Nircam", filters="F277W"
    )
    assert len(obs) >= 1
    assert set(obs["proposal_id"]) == {"1073"}
    assert all("F277W" in f.split(";") for f in obs["filters"])

    lists = [Observations.get_product_list(row["obsid"]) for row in obs]
    files = unique(vstack(lists), keys="productFilename")
    assert len(files) == len(set(vstack(lists)["productFilename"]))
    uncal = files[files["productSubGroupDescription"] == "UNCAL"]
    assert len(uncal) > 0

    manifest = Observations.download_products(
        files, download_dir=str(tmp_path), productSubGroupDescription="UNCAL", curl_flag=True
    )
    script = Path(manifest["Local Path"][0])
    assert script.name.startswith("mastDownload_") and script.suffix == ".sh"
    run = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    fetched = {p.name: p for p in tmp_path.rglob("*") if p.is_file() and p != script}
    assert set(fetched) == set(uncal["productFilename"])
    checksums = archive_checksums(demo_archive)
    for name, path in fetched.items():
        assert sha256(path) == checksums[name], name
        assert path.parent.name in set(uncal["obs_id"])  # <folder>/JWST/<obs_id>/<file>

    rerun = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0
    assert f"{len(fetched)} already complete" in rerun.stdout


def test_query_object_resolves_m57_offline_and_finds_several_missions(
    mast, live_server, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HTTP_PROXY", live_server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    result = mast.Observations.query_object("M57", radius="1m")
    missions = set(result["obs_collection"])
    assert "JWST" in missions and len(missions) >= 2
    assert (result["distance"] <= 60.0 + 1e-6).all()


def test_query_region_fixed_page(mast) -> None:  # type: ignore[no-untyped-def]
    everything = mast.Observations.query_region(M57, radius="0.1 deg")
    assert len(everything) > 20
    page2 = mast.Observations.query_region(M57, radius="0.1 deg", pagesize=10, page=2)
    assert len(page2) == 10
    assert list(page2["obs_id"]) == list(everything["obs_id"][10:20])


def test_counts_agree_with_rows(mast) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    rows = Observations.query_criteria(proposal_id="1558")
    assert Observations.query_criteria_count(proposal_id="1558") == len(rows) > 0
    total = Observations.query_criteria_count()
    assert total >= len(rows)
    near = Observations.query_region(M57, radius="0.05 deg")
    assert Observations.query_region_count(M57, radius="0.05 deg") == len(near)


def test_metadata(mast) -> None:  # type: ignore[no-untyped-def]
    obs_meta = mast.Observations.get_metadata("observations")
    assert "Mission" in obs_meta["Column Label"]
    assert "obsid" in obs_meta["Column Name"]
    prod_meta = mast.Observations.get_metadata("products")
    assert "Observation ID" in prod_meta["Column Label"]
    assert "parent_obsid" in prod_meta["Column Name"]


def test_filter_products(mast) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    obs = Observations.query_criteria(proposal_id="1558", instrument_name="MIRI*")
    products_ = Observations.get_product_list(obs[:5])
    science = Observations.filter_products(products_, productType="SCIENCE")
    assert len(science) > 0 and set(science["productType"]) == {"SCIENCE"}
    fits_only = Observations.filter_products(products_, extension="fits")
    assert all(name.endswith(".fits") for name in fits_only["productFilename"])
    small = Observations.filter_products(products_, size="<50000")
    assert len(small) > 0 and (small["size"] < 50000).all()
    mrp = Observations.filter_products(products_, mrp_only=True)
    assert set(mrp["productGroupDescription"]) == {"Minimum Recommended Products"}


def test_download_products_uses_the_cache_and_completes_truncated_files(
    mast, demo_archive, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    obs = Observations.query_criteria(proposal_id="1366", dataproduct_type="spectrum")
    products_ = Observations.get_product_list(obs[0])
    wanted = Observations.filter_products(products_, productSubGroupDescription="CALINTS")
    assert len(wanted) > 0
    first = Observations.download_products(wanted, download_dir=str(tmp_path))
    assert set(first["Status"]) == {"COMPLETE"}
    paths = [Path(p) for p in first["Local Path"]]
    stamps = [p.stat().st_mtime_ns for p in paths]

    second = Observations.download_products(wanted, download_dir=str(tmp_path))
    assert set(second["Status"]) == {"COMPLETE"}
    assert [p.stat().st_mtime_ns for p in paths] == stamps  # not fetched again

    victim = paths[0]
    victim.write_bytes(victim.read_bytes()[:100])
    third = Observations.download_products(wanted, download_dir=str(tmp_path))
    assert set(third["Status"]) == {"COMPLETE"}
    assert sha256(victim) == archive_checksums(demo_archive)[victim.name]


def test_criteria_ignore_case(mast) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    lower = Observations.query_criteria(obs_collection="jwst", proposal_id="1558")
    mixed = Observations.query_criteria(Obs_Collection="JWST", PROPOSAL_ID="1558")
    assert len(lower) > 0
    assert sorted(lower["obsid"]) == sorted(mixed["obsid"])


def test_wildcards(mast) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    ring = Observations.query_criteria(target_name="NGC6720*")
    assert len(ring) > 0
    assert all(name.upper().replace(" ", "").startswith("NGC6720") for name in ring["target_name"])
    miri = Observations.query_criteria(instrument_name="MIRI*")
    assert len(miri) > 0 and all(n.startswith("MIRI") for n in miri["instrument_name"])


def test_unknown_column_gives_the_clients_error(mast) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import InvalidQueryError

    with pytest.raises(InvalidQueryError, match="instrument_name"):
        mast.Observations.query_criteria(instrumnt_name="MIRI")


def test_malformed_request_is_a_status_error(mast) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import RemoteServiceError

    with pytest.raises(RemoteServiceError, match="ra"):
        mast.Mast.service_request("Mast.Caom.Cone", {"ra": "north", "dec": 0, "radius": 0.1})
    with pytest.raises(RemoteServiceError, match="Unknown service"):
        mast.Mast.service_request("Mast.No.Such.Service", {})


def test_list_missions(mast) -> None:  # type: ignore[no-untyped-def]
    missions = mast.Observations.list_missions()
    assert {"JWST", "HST", "SPITZER_SHA"} <= set(missions)


def test_session_info_is_anonymous(mast) -> None:  # type: ignore[no-untyped-def]
    info = mast.Observations.session_info(verbose=False)
    assert info["anon"] is True and info["ezid"] == "anonymous"


def test_product_list_of_a_level3_observation(mast) -> None:  # type: ignore[no-untyped-def]
    obs = mast.Observations.query_criteria(proposal_id="1558", calib_level=3)
    assert len(obs) > 0
    row = obs[0]
    listed = mast.Observations.get_product_list(row["obsid"])
    assert set(listed["parent_obsid"]) == {row["obsid"]}
    own = listed[listed["obsID"] == row["obsid"]]
    members = listed[listed["obsID"] != row["obsid"]]
    assert len(own) > 0 and len(members) > 0
    assert len(set(listed["productFilename"])) == len(listed)
    assert np.all(listed["calib_level"] >= 1)


def test_exclusive_access_rows_are_visible_but_files_are_not(mast, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    Observations = mast.Observations
    obs = Observations.query_criteria(proposal_id="4567", calib_level=[2, 3])
    assert len(obs) > 0 and set(obs["dataRights"]) == {"EXCLUSIVE_ACCESS"}
    listed = Observations.get_product_list(obs[0])
    manifest = Observations.download_products(listed[:1], download_dir=str(tmp_path))
    assert manifest["Status"][0] == "ERROR"
    assert "401" in manifest["Message"][0]


@needs("curl")
def test_configured_through_astroquery_cfg_in_a_fresh_process(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The documented user path: `skyarchive client-config --write`, then plain astroquery."""
    config_home = tmp_path / "config"
    (config_home / "astropy").mkdir(parents=True)
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "XDG_CACHE_HOME": str(tmp_path),
           "HOME": str(tmp_path)}  # fmt: skip
    env.pop("SKYARCHIVE_HOME", None)
    import sys

    subprocess.run(
        [sys.executable, "-m", "skyarchive", "client-config", "--write", "--url", live_server.url],
        check=True, env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    script = (
        "from astroquery.mast import Observations\n"
        "print(Observations.query_criteria_count(proposal_id='1073'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) > 0
