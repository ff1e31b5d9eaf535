"""The MAST endpoints on the wire, with httpx and raw sockets."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from tests.catalogue_edits import change_first_observations
from tests.e2e.conftest import LiveServer


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def public_file(demo_archive):  # type: ignore[no-untyped-def]
    owner = observations.alias("owner")
    with demo_archive.engine.connect() as conn:
        row = conn.execute(
            select(products.c.dataURI, products.c.size, products.c.sha256, products.c.storage_key)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release < now_mjd(), products.c.productFilename.like("%.fits"))
            .order_by(products.c.size.desc())
            .limit(1)
        ).one()
    data = b"".join(demo_archive.storage.open_range(row.storage_key))
    return row.dataURI, row.size, row.sha256, data


def invoke(client: httpx.Client, body: dict) -> dict:
    response = client.post("/api/v0/invoke", data={"request": json.dumps(body)})
    assert response.status_code == 200
    return response.json()


def test_head_and_get_agree_with_the_archive(client, public_file) -> None:  # type: ignore[no-untyped-def]
    uri, size, sha, data = public_file
    head = client.head("/api/v0.1/Download/file", params={"uri": uri})
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == size
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["etag"] == f'"{sha}"'
    got = client.get("/api/v0.1/Download/file", params={"uri": uri})
    assert got.content == data and hashlib.sha256(got.content).hexdigest() == sha


def test_ranges(client, public_file) -> None:  # type: ignore[no-untyped-def]
    uri, size, sha, data = public_file
    url = f"/api/v0.1/Download/file?uri={quote(uri, safe=':/')}"
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = client.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    suffix = client.get(url, headers={"Range": "bytes=-5"})
    assert suffix.content == data[-5:]
    beyond = client.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other-version"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{sha}"'})
    assert fresh.status_code == 206 and fresh.content == data[:10]


@pytest.mark.parametrize(
    "uri",
    ["mast:JWST/product/../../etc/passwd", "/etc/passwd", "mast:JWST/product/%2e%2e%2fx",
     "mast:JWST/product/a\x00b", "mast:JWST/product/", "", "x" * 5000],
)  # fmt: skip
def test_odd_uris_never_reach_the_disk(client, uri: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v0.1/Download/file", params={"uri": uri})
    assert response.status_code in (400, 404)
    assert "error" in response.json()


def test_exclusive_access_file_is_refused_without_sending_bytes(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    owner = observations.alias("owner")
    with demo_archive.engine.connect() as conn:
        uri = conn.execute(
            select(products.c.dataURI)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release > now_mjd())
            .limit(1)
        ).scalar_one()
    for method in ("HEAD", "GET"):
        response = client.request(method, "/api/v0.1/Download/file", params={"uri": uri})
        assert response.status_code == 401
    body = client.get("/api/v0.1/Download/file", params={"uri": uri}).json()
    assert "exclusive-access" in body["error"]["message"]
    assert "token" in body["error"]["message"]


def test_invoke_accepts_get_and_post(client) -> None:  # type: ignore[no-untyped-def]
    body = {"service": "Mast.Caom.Cone", "params": {"ra": 283.396, "dec": 33.029, "radius": 0.02},
            "format": "json", "pagesize": 5, "page": 1}  # fmt: skip
    posted = invoke(client, body)
    got = client.get("/api/v0/invoke", params={"request": json.dumps(body)}).json()
    assert posted["status"] == got["status"] == "COMPLETE"
    assert posted["data"] == got["data"]
    assert posted["paging"]["page"] == 1 and posted["paging"]["pageSize"] == 5
    assert len(posted["data"]) <= 5
    assert {f["type"] for f in posted["fields"]} <= {"string", "float", "int", "boolean"}
    assert all(isinstance(row, dict) for row in posted["data"])


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{not json", "not valid JSON"), (json.dumps([1, 2]), "JSON object"),
     (json.dumps({"service": "Mast.Caom.Cone",
                  "params": {"ra": 1, "dec": 95, "radius": 1}}), "Dec"),
     (json.dumps({"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 5, "radius": 1},
                  "pagesize": 10**9}), "pagesize"),
     (json.dumps({"service": "Mast.Caom.Filtered", "params": {"columns": "*", "filters": [
         {"paramName": "instrumnt_name", "values": ["MIRI"]}]}}), "Did you mean 'instrument_name'"),
     (json.dumps({"service": "Mast.Caom.Filtered", "params": {"columns": "*", "filters": [
         {"paramName": "calib_level", "values": ["three"]}]}}), "not a number"),
     (json.dumps({"service": "Mast.Caom.Products",
                  "params": {"obsid": "jw01558-o001"}}), "obs_id")],
)  # fmt: skip
def test_bad_requests_are_status_error_with_a_reason(client, raw: str, message: str) -> None:  # type: ignore[no-untyped-def]
    answer = client.post("/api/v0/invoke", data={"request": raw})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ERROR"
    assert message in body["msg"]


def test_columnsconfig_answers_every_id(client) -> None:  # type: ignore[no-untyped-def]
    cone = client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig", data={"colConfigId": "Mast.Caom.Cone"}
    )
    config = cone.json()
    assert config["s_ra"]["vot.datatype"] == "double"
    assert config["filters"]["separator"] == ";"
    other = client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig", data={"colConfigId": "Mast.Whatever"}
    )
    assert other.status_code == 200 and other.json() == {}


def test_name_lookup_service(client) -> None:  # type: ignore[no-untyped-def]
    answer = invoke(client, {"service": "Mast.Name.Lookup", "params": {"input": "Ring Nebula"}})
    (entry,) = answer["resolvedCoordinate"]
    assert entry["searchString"] == "ring nebula"
    assert abs(entry["ra"] - 283.396) < 0.01 and abs(entry["decl"] - 33.029) < 0.01
    missing = invoke(client, {"service": "Mast.Name.Lookup", "params": {"input": "No Such Thing"}})
    assert missing["resolvedCoordinate"] == []


def test_a_target_name_added_to_the_archive_becomes_resolvable(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the server's resolver refreshes its target names as often as it may (once a minute
    # in service), in the background: the lookups go on answering meanwhile
    monkeypatch.setattr("skyarchive.sky.targets._REFRESH_SECONDS", 0.0)
    archive = demo_archive_copy
    lookup = {"service": "Mast.Name.Lookup", "params": {"input": "Brand New Nebula"}}
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert invoke(client, lookup)["resolvedCoordinate"] == []
        change_first_observations(archive, {"target_name": "Brand New Nebula",
                                            "s_ra": 12.5, "s_dec": -7.25})  # fmt: skip
        deadline = time.monotonic() + 30
        while not (entries := invoke(client, lookup)["resolvedCoordinate"]):
            assert time.monotonic() < deadline, "the new name never became resolvable"
            time.sleep(0.05)
    (entry,) = entries
    assert entry["resolver"] == "ARCHIVE" and entry["canonicalName"] == "Brand New Nebula"
    assert (entry["ra"], entry["decl"]) == (12.5, -7.25)


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_resolver_through_the_server_as_http_proxy(live_server) -> None:  # type: ignore[no-untyped-def]
    target = (
        "http://mastresolver.stsci.edu/Santa-war/query?name=M57&outputFormat=json&resolveAll=False"
    )
    headers = "Host: mastresolver.stsci.edu\r\nConnection: close\r\n\r\n"
    reply = raw_request(live_server.port, f"GET {target} HTTP/1.1\r\n{headers}".encode())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    entries = json.loads(body)["resolvedCoordinate"]
    assert entries[0]["searchString"] == "m57"
    refused = raw_request(
        live_server.port,
        b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    )
    assert refused.startswith(b"HTTP/1.1 403")


def test_pages_tell_the_same_totals_as_one_whole_answer(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        obsids = conn.execute(
            select(observations.c.obsid).where(observations.c.calib_level == 3).limit(3)
        ).scalars().all()  # fmt: skip
    searches = [
        ("Mast.Caom.Products", {"obsid": ",".join(map(str, obsids))}),
        ("Mast.Caom.Filtered", {"columns": "*", "filters": [
            {"paramName": "obs_collection", "values": ["JWST"]}]}),
    ]  # fmt: skip
    for service, params in searches:
        whole = invoke(client, {"service": service, "params": params, "pagesize": 100_000})
        rows, total = whole["data"], whole["paging"]["rowsTotal"]
        assert total == len(rows) > 7
        pages = -(-total // 7)
        for page in (1, 2, pages, pages + 1):
            answer = invoke(client, {"service": service, "params": params,
                                     "pagesize": 7, "page": page})  # fmt: skip
            paging = answer["paging"]
            assert (paging["rowsTotal"], paging["pagesFiltered"]) == (total, pages), service
            assert answer["data"] == rows[(page - 1) * 7 : page * 7], (service, page)
            assert paging["rows"] == len(answer["data"])
