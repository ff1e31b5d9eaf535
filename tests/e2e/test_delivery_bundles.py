"""Streamed bundles, MRP downloads and bundle.sh against a live server, for every caller."""

from __future__ import annotations

import io
import tarfile
import uuid
import zipfile

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access import grants, tokens, users
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from skyarchive.products.listing import product_rows
from skyarchive.products.rules import MRP


@pytest.fixture(scope="module")
def setup(demo_archive):  # type: ignore[no-untyped-def]
    """Tokens for a co-investigator of program 4567 and an unrelated user; two obsids."""
    tag = uuid.uuid4().hex[:6]
    issued = {}
    with demo_archive.engine.begin() as conn:
        for role in ("coi", "other"):
            user = users.create_user(conn, email=f"bundle-{role}-{tag}@example.org")
            issued[role], _ = tokens.create_token(conn, user_id=user.user_id, name=role, days=5,
                                                  max_days=60)  # fmt: skip
            if role == "coi":
                grants.grant(conn, "4567", user_id=user.user_id, granted_by=None)
        public = conn.scalar(select(observations.c.obsid).where(
            observations.c.obs_id == "jw01073-o001_t001_nircam_clear-f150w"))  # fmt: skip
        eap = conn.scalar(
            select(observations.c.obsid)
            .where(
                observations.c.proposal_id == "4567",
                observations.c.status == "executed",
                observations.c.calib_level == 3,
            )  # fmt: skip
            .limit(1)
        )
        listing = {
            obsid: {r["productFilename"]: r for r in product_rows(conn, [obsid], now=now_mjd())}
            for obsid in (public, eap)
        }
    return {"tokens": issued, "public": public, "eap": eap, "listing": listing}


def _auth(setup, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {} if who == "anonymous" else {"Authorization": f"token {setup['tokens'][who]}"}


def _zip_names(content: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    return {name: archive.read(name) for name in archive.namelist()}


def test_public_observation_bundle_holds_its_whole_product_list(live_server, setup) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.zip",
                          data={"obsid": str(setup["public"])}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    files = _zip_names(response.content)
    listed = setup["listing"][setup["public"]]
    expected = {f"JWST/{row['obs_id']}/{name}" for name, row in listed.items()}
    assert set(files) - {"MANIFEST.HTML"} == expected
    assert any("nrca1_uncal.fits" in name for name in expected)  # member (parent) data too
    page = files["MANIFEST.HTML"].decode()
    assert "Every requested file is included" in page
    for name, row in list(listed.items())[:5]:
        assert name in page and row["description"].split(":")[0] in page


@pytest.mark.parametrize("who", ["anonymous", "other", "coi"])
def test_exclusive_access_files_only_for_authorised_callers(live_server, setup, who: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{live_server.url}/api/v0.1/Download/bundle.zip",
        data={"obsid": [str(setup["public"]), str(setup["eap"])]}, headers=_auth(setup, who),
        timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    files = _zip_names(response.content)
    page = files.pop("MANIFEST.HTML").decode()
    names = {name.rsplit("/", 1)[1] for name in files}
    eap_names = set(setup["listing"][setup["eap"]])
    public_names = set(setup["listing"][setup["public"]])
    assert public_names <= names
    if who == "coi":
        assert eap_names <= names
        assert "exclusive access (restricted)" in page and "Not included" not in page
    else:
        assert not (eap_names & names)
        assert "Not included" in page and "not authorised" in page
        assert ("log in or send an API token" if who == "anonymous" else "PI") in page
        assert all(name in page for name in eap_names)


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("other", 403), ("coi", 200)])
def test_only_exclusive_files_answers_like_a_single_download(
    live_server, setup, who, status
) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.tar",
                          data={"obsid": str(setup["eap"])}, headers=_auth(setup, who),
                          timeout=60)  # fmt: skip
    assert response.status_code == status
    if status != 200:
        assert response.json()["error"]["type"] in ("Unauthorized", "Forbidden")


def test_tar_gz_and_uri_selection(live_server, setup) -> None:  # type: ignore[no-untyped-def]
    listed = setup["listing"][setup["public"]]
    uris = [row["dataURI"] for row in listed.values()][:4]
    response = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.tar.gz",
                          data={"uri": uris + uris[:1]}, timeout=60)  # fmt: skip
    assert response.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        names = archive.getnames()
    assert len(names) == 5 and names[-1] == "MANIFEST.HTML"  # de-duplicated, manifest last
    assert {n.rsplit("/", 1)[1] for n in names[:-1]} == {u.rsplit("/", 1)[1] for u in uris}


def test_mrp_download_is_the_mrp_rows_of_the_product_list(live_server, setup) -> None:  # type: ignore[no-untyped-def]
    listed = setup["listing"][setup["public"]]
    mrp = {name for name, row in listed.items() if row["productGroupDescription"] == MRP}
    assert mrp
    for url in (
        f"{live_server.url}/api/v0.1/Download/mrp?obsid={setup['public']}",
        f"{live_server.url}/api/portal/observations/{setup['public']}/mrp.zip",
    ):
        response = httpx.get(url, timeout=60)
        assert response.status_code == 200
        assert "_mrp.zip" in response.headers["content-disposition"]
        files = _zip_names(response.content)
        assert {n.rsplit("/", 1)[1] for n in files if n != "MANIFEST.HTML"} == mrp
    missing = httpx.get(f"{live_server.url}/api/v0.1/Download/mrp?obsid=987654321", timeout=30)
    assert missing.status_code == 404


def test_size_limit_answers_413_with_the_way_out(live_server, demo_archive, setup) -> None:  # type: ignore[no-untyped-def]
    before = demo_archive.settings.max_bundle_bytes
    demo_archive.settings.max_bundle_bytes = 1000
    try:
        response = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.zip",
                              data={"obsid": str(setup["public"])}, timeout=30)  # fmt: skip
    finally:
        demo_archive.settings.max_bundle_bytes = before
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "cURL script" in message and "staging" in message


def test_bundle_sh_accepts_obsids(live_server, setup) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{live_server.url}/api/v0.1/Download/bundle.sh",
        data={"obsid": str(setup["public"]), "uri": "mast:JWST/product/not_here.fits"},
        timeout=30,
    )
    assert response.status_code == 200
    fetches = [line for line in response.text.splitlines() if line.startswith("fetch ")]
    assert len(fetches) == len(setup["listing"][setup["public"]])
    assert "# not in this archive: mast:JWST/product/not_here.fits" in response.text


def test_bad_selections_are_400(live_server) -> None:  # type: ignore[no-untyped-def]
    for data in ({}, {"obsid": "jw01073-o001"}):
        response = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.zip", data=data)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "BadQuery"


def test_zip_bundle_announces_its_length_and_every_crc_comes_from_ingest(
    live_server, demo_archive, setup
) -> None:  # type: ignore[no-untyped-def]
    names = list(setup["listing"][setup["public"]])
    with demo_archive.engine.connect() as conn:
        crcs = dict(conn.execute(select(products.c.productFilename, products.c.crc32)
                                 .where(products.c.productFilename.in_(names))).all())  # fmt: skip
    assert len(crcs) == len(names) and None not in crcs.values()  # JWST ingest records them
    with httpx.stream("POST", f"{live_server.url}/api/v0.1/Download/bundle.zip",
                      data={"obsid": str(setup["public"])}, timeout=60) as response:  # fmt: skip
        assert response.status_code == 200
        assert "transfer-encoding" not in response.headers
        length = int(response.headers["content-length"])
        content = response.read()
    assert len(content) == length
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    for info in archive.infolist():
        if info.filename != "MANIFEST.HTML":
            assert crcs[info.filename.rsplit("/", 1)[1]] == info.CRC
    tar = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.tar",
                     data={"obsid": str(setup["public"])}, timeout=60)  # fmt: skip
    assert tar.headers.get("transfer-encoding") == "chunked"  # length not announced
