"""``skyarchive synthesize`` through the real CLI, then keyword searches through the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
from astropy import units as u
from astropy.coordinates import SkyCoord
from sqlalchemy import func, select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import footprint_vertices, observations, product_keywords, products
from skyarchive.sky.stored_footprints import stored_vertices
from tests.e2e.conftest import LiveServer

OBSERVATIONS, FILES = 40, 830
# Within an exposure: raw < count rates < calibrated; the highest present is the one listed.
_RANK = {"uncal": 1, "rate": 2, "trapsfilled": 2, "cal": 3}


def _synthesize(home: Path, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKYARCHIVE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "skyarchive", "--home", str(home), "synthesize",
               "--observations", str(OBSERVATIONS), "--files", str(FILES)]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _files(archive: Archive) -> dict[str, dict]:
    query = select(products.c.productFilename, products.c.calib_level, products.c.owner_obsid,
                   product_keywords.c.header, product_keywords.c.listed_in,
                   product_keywords.c.exp_type).join_from(products, product_keywords)  # fmt: skip
    with archive.engine.connect() as conn:
        return {row.productFilename: {**row._asdict(), "header": json.loads(row.header)}
                for row in conn.execute(query)}  # fmt: skip


def _expected_listed(files: dict[str, dict]) -> set[str]:
    """The listing rule, worked out here from names and levels alone."""
    by_exposure: dict[str, list[tuple[int, str]]] = defaultdict(list)
    listed = set()
    for name, facts in files.items():
        if facts["calib_level"] == 3:
            listed.add(name)
        else:
            suffix = name.removesuffix(".fits").rsplit("_", 1)[1]
            by_exposure[name[:25]].append((_RANK[suffix], name))
    for members in by_exposure.values():
        best = max(rank for rank, _ in members)
        listed |= {name for rank, name in members if rank == best}
    return listed


def _invoke(client: httpx.Client, service: str, params: dict) -> dict:
    body = {"service": service, "params": params, "format": "json", "pagesize": 5000}
    answer = client.post("/api/v0/invoke", data={"request": json.dumps(body)}).json()
    assert answer["status"] == "COMPLETE", answer
    return answer


def test_synthesize_fills_an_empty_archive_that_keyword_search_answers(
    tmp_path: Path, database_url: str
) -> None:
    home = tmp_path / "home"
    done = _synthesize(home, database_url)
    assert done.returncode == 0, done.stderr
    assert f"{FILES:,} files" in done.stderr

    archive = Archive.open(Settings(home=home, database_url=database_url))
    try:
        with archive.engine.connect() as conn:
            counted = {t.name: conn.scalar(select(func.count()).select_from(t))
                       for t in (observations, products, product_keywords)}  # fmt: skip
        assert counted == {"observations": OBSERVATIONS, "products": FILES,
                           "product_keywords": FILES}  # fmt: skip
        with archive.engine.connect() as conn:  # through COPY on PostgreSQL: bytes kept whole
            texts = dict(conn.execute(select(observations.c.obsid, observations.c.s_region)).all())
            vertices = dict(conn.execute(select(*footprint_vertices.c)).all())
        assert {obsid: bytes(xyz) for obsid, xyz in vertices.items()} == {
            obsid: stored_vertices(text) for obsid, text in texts.items()
        }
        files = _files(archive)
        listed = {name for name, facts in files.items() if facts["listed_in"]}
        assert listed == _expected_listed(files)
        for facts in files.values():  # typed columns agree with the stored header
            assert facts["exp_type"] == facts["header"]["EXP_TYPE"].lower()
            if facts["listed_in"]:
                assert facts["listed_in"] == facts["header"]["INSTRUME"]

        with LiveServer(archive) as server, httpx.Client(base_url=server.url) as client:
            _search_by_keyword(client, files)
            _search_by_keyword_and_position(client, archive, files)
    finally:
        archive.engine.dispose()

    again = _synthesize(home, database_url)
    assert again.returncode != 0
    assert "archive is not empty" in again.stderr and "empty --home" in again.stderr


def _search_by_keyword(client: httpx.Client, files: dict[str, dict]) -> None:
    wanted = {name for name, f in files.items() if f["listed_in"] == "NIRCAM"
              and f["header"]["EXP_TYPE"] == "NRC_IMAGE"}  # fmt: skip
    assert wanted
    filters = [{"paramName": "exp_type", "values": ["NRC_IMAGE"]}]
    answer = _invoke(client, "Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters})
    assert {row["filename"] for row in answer["data"]} == wanted
    assert answer["paging"]["rowsTotal"] == len(wanted)
    count = _invoke(client, "Mast.Jwst.Filtered.Nircam",
                    {"columns": "COUNT_BIG(*)", "filters": filters})  # fmt: skip
    assert int(count["data"][0]["Column1"]) == len(wanted)


def _search_by_keyword_and_position(
    client: httpx.Client, archive: Archive, files: dict[str, dict]
) -> None:
    owner = next(f["owner_obsid"] for f in files.values() if f["listed_in"] == "MIRI")
    with archive.engine.connect() as conn:
        centres = {row.obsid: SkyCoord(row.s_ra * u.deg, row.s_dec * u.deg) for row in
                   conn.execute(select(observations.c.obsid, observations.c.s_ra,
                                       observations.c.s_dec))}  # fmt: skip
    centre, radius = centres[owner], 0.001
    answer = _invoke(client, "Mast.Jwst.Filtered.Miri", {
        "columns": "filename", "filters": [],
        "position": f"{centre.ra.deg}, {centre.dec.deg}, {radius}"})  # fmt: skip
    found = {row["filename"] for row in answer["data"]}
    of_owner = {n for n, f in files.items() if f["owner_obsid"] == owner and f["listed_in"]}
    assert of_owner and of_owner <= found
    # Footprints are 2.2' squares: a file's observation centre lies at most half a diagonal
    # (1.56') beyond the radius.
    reach = (radius + 1.6 / 60) * u.deg
    assert all(centres[files[name]["owner_obsid"]].separation(centre) <= reach for name in found)
    assert all(files[name]["listed_in"] == "MIRI" for name in found)
    body = {"service": "Mast.Jwst.Filtered.Miri", "format": "json",
            "params": {"columns": "*", "filters": [], "position": "10, 95, 0.1"}}  # fmt: skip
    refused = client.post("/api/v0/invoke", data={"request": json.dumps(body)}).json()
    assert refused["status"] == "ERROR" and "outside [-90, 90]" in refused["msg"]
