"""Bad input through the real server: a clear 4xx (or MAST's ``status: ERROR``), never a 500.

The MAST invoke endpoint answers errors with HTTP 200 and ``{"status": "ERROR", "msg": ...}``
as MAST does: astroquery raises its ``RemoteServiceError`` with that message, whereas on a 4xx
it raises ``HTTPError`` and the message is lost.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from astropy.time import Time
from sqlalchemy import func, select

from skyarchive.access import users
from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from skyarchive.delivery.requests import start_staging
from skyarchive.delivery.staging import run_staging

ARABIC_123 = "\u0661\u0662\u0663"
FULLWIDTH_123 = "\uff11\uff12\uff13"
FORTY_DIGITS = "1234567890" * 4


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        yield c


def invoke(client: httpx.Client, raw: str) -> dict:
    answer = client.post("/api/v0/invoke", data={"request": raw})
    assert answer.status_code == 200, answer.text
    return answer.json()


def mast_error(client: httpx.Client, body: dict | str) -> str:
    raw = body if isinstance(body, str) else json.dumps(body)
    answer = invoke(client, raw)
    assert answer["status"] == "ERROR", answer
    return answer["msg"]


def api_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"status", "type", "message"} and error["status"] == status
    return error["message"]


@pytest.fixture(scope="module")
def public_uri(demo_archive) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    owner = observations.alias("owner")
    with demo_archive.engine.connect() as conn:
        row = conn.execute(
            select(products.c.dataURI, products.c.size)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release < now_mjd(), products.c.size > 1000)
            .limit(1)
        ).one()
    return row.dataURI, row.size


# 3.1 -- obsids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obsid", "reason"),
    [(ARABIC_123, "digits 0-9"), (FULLWIDTH_123, "digits 0-9"), ("1_000", "digits 0-9"),
     (FORTY_DIGITS, "out of range"), ("-" + FORTY_DIGITS, "out of range"),
     ("jw01558-o001", "obs_id")],
)  # fmt: skip
def test_bad_obsids_in_a_product_request(client, obsid: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    message = mast_error(client, {"service": "Mast.Caom.Products", "params": {"obsid": obsid}})
    assert "obsid" in message and reason in message


@pytest.mark.parametrize("obsid", [ARABIC_123, FULLWIDTH_123, FORTY_DIGITS])
def test_bad_obsids_everywhere_else(client, obsid: str) -> None:  # type: ignore[no-untyped-def]
    for response in (
        client.get(f"/api/portal/observations/{obsid}"),
        client.get("/api/v0.1/Download/mrp", params={"obsid": obsid}),
        client.get("/api/v0.1/Download/bundle.zip", params={"obsid": obsid}),
        client.post("/api/v0.1/Download/bundle.sh", data={"obsid": obsid}),
        client.post("/api/portal/basket/observations", json={"obsids": [obsid]}),
        client.post("/api/portal/basket/remove", json={"obsids": [obsid]}),
    ):
        assert "obsid" in api_error(response, 400)
    filters = [{"paramName": "obsid", "values": [obsid]}]
    message = mast_error(client, {"service": "Mast.Caom.Filtered", "params": {"filters": filters}})
    assert "obsid" in message


# 3.1 -- paging ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paging", "words"),
    [('"page": 1e30', "page"), ('"pagesize": 1e400', "not valid JSON"),
     ('"page": 0', "page 0"), ('"page": 2.5', "page"), ('"pagesize": "many"', "pagesize"),
     ('"pagesize": -1e30', "pagesize"), ('"page": true', "page")],
)  # fmt: skip
def test_bad_paging(client, paging: str, words: str) -> None:  # type: ignore[no-untyped-def]
    raw = '{"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 2, "radius": 0.1}, %s}'
    assert words in mast_error(client, raw % paging)


def test_a_request_sent_as_a_file(client) -> None:  # type: ignore[no-untyped-def]
    files = {"request": ("request.json", b'{"service": "Mast.Caom.All"}', "application/json")}
    answer = client.post("/api/v0/invoke", files=files)
    assert answer.status_code == 200 and "not a file" in answer.json()["msg"]


# 3.1 -- JSON nested 5,000 deep -----------------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000


def test_deeply_nested_invoke_request(client) -> None:  # type: ignore[no-untyped-def]
    assert "not valid JSON" in mast_error(client, DEEP)
    nested = '{"service": "Mast.Caom.Filtered", "params": {"filters": ' + DEEP + "}}"
    assert "not valid JSON" in mast_error(client, nested)


@pytest.mark.parametrize(
    "path",
    ["/api/portal/search", "/api/portal/count", "/api/portal/values",
     "/api/portal/basket/observations", "/api/portal/basket/remove",
     "/api/portal/basket/deliveries"],
)  # fmt: skip
@pytest.mark.parametrize("depth", [5000, 300])
def test_deeply_nested_portal_json(client, path: str, depth: int) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * depth + "]" * depth
    for body in (deep, f'{{"filters": {deep}, "obsids": {deep}}}'):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        message = api_error(response, 400)
        if depth == 5000:
            assert "nested too deeply" in message


def test_a_missing_json_body_is_named(client) -> None:  # type: ignore[no-untyped-def]
    assert api_error(client.post("/api/portal/search"), 400).startswith("body:")


# 3.1 -- Range headers --------------------------------------------------------------------


def test_a_5000_digit_range(client, public_uri) -> None:  # type: ignore[no-untyped-def]
    uri, size = public_uri
    huge = "9" * 5000
    url = "/api/v0.1/Download/file"
    start = client.get(url, params={"uri": uri}, headers={"Range": f"bytes={huge}-"})
    assert f"{size} bytes" in api_error(start, 416)
    end = client.get(url, params={"uri": uri}, headers={"Range": f"bytes=10-{huge}"})
    assert end.status_code == 206 and len(end.content) == size - 10
    assert end.headers["content-range"] == f"bytes 10-{size - 1}/{size}"
    suffix = client.get(url, params={"uri": uri}, headers={"Range": f"bytes=-{huge}"})
    assert suffix.status_code == 206 and len(suffix.content) == size
    zeros = client.get(url, params={"uri": uri}, headers={"Range": "bytes=" + "0" * 5000 + "-9"})
    assert zeros.status_code == 206 and len(zeros.content) == 10


def test_a_request_line_of_hundreds_of_kilobytes_gets_an_answer(live_server) -> None:  # type: ignore[no-untyped-def]
    """An export link with 20,000 three-byte characters (180 kB percent-encoded, as the OpenAPI
    fuzzing sent) is answered with a 4xx, not cut off with a reset connection."""
    query = urlencode({"filters": "\u0800" * 20_000, "format": "csv"})
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(f"GET /api/portal/export?{query} HTTP/1.1\r\nHost: {host}\r\n"
                     "Connection: close\r\n\r\n".encode())  # fmt: skip
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]
    assert b'"error"' in answer  # the one error shape


# 3.1 -- baskets and staging ---------------------------------------------------------------


def test_removing_an_unknown_product_from_a_basket(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        unknown = int(conn.scalar(select(func.max(products.c.product_id)))) + 1000
    response = client.post("/api/portal/basket/remove", json={"product_ids": [unknown]})
    assert str(unknown) in api_error(response, 404)
    too_big = client.post("/api/portal/basket/remove", json={"product_ids": [10**30]})
    assert "product_ids" in api_error(too_big, 400)


def test_nul_in_a_staging_path(client, demo_archive, public_uri) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"nul-{uuid.uuid4().hex[:8]}@example.org")
    caller = Caller(user_id=user.user_id, email=user.email)
    request_id = start_staging(
        demo_archive, caller, uris=[public_uri[0]], base_url=str(client.base_url),
        enqueue=lambda _request_id: None,  # no worker here: the test runs the job itself
    )["request_id"]  # fmt: skip
    run_staging(demo_archive, request_id=request_id)
    manifest = client.get(f"/staging/{request_id}/MANIFEST.HTML")
    assert manifest.status_code == 200  # the area is there
    for path in ("MANIFEST.HTML%00", "x%00/y", "%00", "a%01b"):
        assert "Invalid path" in api_error(client.get(f"/staging/{request_id}/{path}"), 400)
    huge = "9" * 5000
    for wanted in (f"bytes={huge}-", f"bytes=0-{huge}", f"bytes=-{huge}"):
        ranged = client.get(f"/staging/{request_id}/MANIFEST.HTML", headers={"Range": wanted})
        # the archive's own page is always sent whole; staged data files answer ranges by the
        # download rule (test_staged_files.py::test_staged_files_answer_ranges_by_the_download_rule)
        assert ranged.status_code == 200 and ranged.text == manifest.text


# 3.1 -- an unexpected failure still answers in the one error shape -----------------------


def test_an_unexpected_exception_keeps_the_error_shape(client, live_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.api.mast import services
    from skyarchive.api.portal import search

    monkeypatch.setattr(live_server.app.state, "answer_cache", None)  # the search itself must run

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "count_observations", broken)
    monkeypatch.setattr(search, "count_matching", broken)
    raw = json.dumps({"service": "Mast.Caom.Filtered", "params": {"columns": "COUNT_BIG(*)"}})
    answer = client.post("/api/v0/invoke", data={"request": raw})
    assert answer.status_code == 500
    assert answer.json()["status"] == "ERROR" and "secret" not in answer.text
    portal = client.post("/api/portal/count", json={"filters": []})
    assert "secret" not in api_error(portal, 500)


# 3.3 -- work per request is bounded -------------------------------------------------------


def test_too_many_obsids_are_refused_at_once(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    limit = demo_archive.settings.max_obsids
    many = [str(i) for i in range(1, 2 * limit + 1)]
    started = time.perf_counter()
    message = mast_error(
        client, {"service": "Mast.Caom.Products", "params": {"obsid": ",".join(many)}}
    )
    assert f"At most {limit} obsids" in message
    for response in (
        client.post("/api/v0.1/Download/bundle.sh", data={"obsid": many}),
        client.post("/api/v0.1/Download/bundle.zip", data={"obsid": ",".join(many)}),
    ):
        assert f"At most {limit} obsids" in api_error(response, 400)
    assert time.perf_counter() - started < 5


def test_an_oversized_invoke_body_is_refused_unread(client) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.api.mast.routes import MAX_INVOKE_BYTES

    padding = "x" * (MAX_INVOKE_BYTES + 1)
    started = time.perf_counter()
    answer = client.post(
        "/api/v0/invoke", data={"request": '{"service": "Mast.Caom.All"}', "pad": padding}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "ERROR"
    assert f"at most {MAX_INVOKE_BYTES}" in answer.json()["msg"]

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: read as it comes
        yield b"request=%7B%7D&pad="
        for _ in range(MAX_INVOKE_BYTES // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post(
        "/api/v0/invoke", content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert f"at most {MAX_INVOKE_BYTES}" in streamed.json()["msg"]
    assert time.perf_counter() - started < 10


def test_an_at_limit_request_is_cheap_and_others_are_served_meanwhile(  # type: ignore[no-untyped-def]
    client, live_server, demo_archive
) -> None:
    limit = demo_archive.settings.max_obsids
    with demo_archive.engine.connect() as conn:
        real = [str(o) for o in conn.scalars(select(observations.c.obsid).limit(limit))]
        expected = conn.scalar(
            select(func.count(func.distinct(products.c.product_id))).where(
                products.c.owner_obsid.in_([int(o) for o in real])
            )
        )
    wanted = real + [str(10**12 + i) for i in range(limit - len(real))]  # unknown ones too
    assert len(wanted) == limit
    body = {"service": "Mast.Caom.Products", "params": {"obsid": ",".join(wanted)},
            "pagesize": 500_000}  # fmt: skip
    result: dict = {}

    def big() -> None:
        with httpx.Client(base_url=live_server.url, timeout=120) as other:
            started = time.perf_counter()
            result["answer"] = other.post("/api/v0/invoke", data={"request": json.dumps(body)})
            result["seconds"] = time.perf_counter() - started
            started = time.perf_counter()
            result["script"] = other.post("/api/v0.1/Download/bundle.sh", data={"obsid": wanted})
            result["script_seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=big)
    thread.start()
    quick = []
    while thread.is_alive() or not quick:
        started = time.perf_counter()
        assert client.get("/api/portal/columns").status_code == 200
        quick.append(time.perf_counter() - started)
    thread.join()
    answer = result["answer"].json()
    assert answer["status"] == "COMPLETE"
    assert result["seconds"] < 30
    assert max(quick) < 5
    listed = {row["dataURI"] for row in answer["data"]}
    assert len(listed) >= expected  # every file each observation owns, members' files as well
    script = result["script"]
    assert script.status_code == 200 and result["script_seconds"] < 30
    assert all(uri.split("/")[-1] in script.text for uri in listed)  # the same files


# 3.4 -- messages a person can act on ------------------------------------------------------


def test_too_many_program_ids(client) -> None:  # type: ignore[no-untyped-def]
    text = ", ".join(str(1000 + i) for i in range(10_000))
    response = client.post("/api/portal/search", json={"collection": "program", "text": text})
    assert "At most 200 program IDs" in api_error(response, 400)


def test_unreadable_date_names_the_field_and_the_form(client) -> None:  # type: ignore[no-untyped-def]
    filters = [{"paramName": "t_min", "values": [{"min": "last tuesday", "max": None}]}]
    for path in ("/api/portal/search", "/api/portal/count"):
        message = api_error(
            client.post(path, json={"collection": "filters", "filters": filters}), 400
        )
        assert "t_min" in message and "last tuesday" in message and "YYYY-MM-DD" in message
    message = mast_error(client, {"service": "Mast.Caom.Filtered", "params": {"filters": filters}})
    assert "t_min" in message and "YYYY-MM-DD" in message
    for impossible in ("2023-02-30", "2023-13-01"):
        filters[0]["values"] = [{"min": impossible}]
        message = api_error(client.post("/api/portal/count", json={"filters": filters}), 400)
        assert impossible in message


def test_dates_and_mjd_select_the_same_observations(client) -> None:  # type: ignore[no-untyped-def]
    low, high = "2022-05-01", "2023-01-01 12:00"
    as_mjd = [Time(t.replace(" ", "T"), scale="utc").mjd for t in (low, high)]

    def count(lo: object, hi: object) -> int:
        filters = [{"paramName": "t_min", "values": [{"min": lo, "max": hi}]}]
        response = client.post("/api/portal/count", json={"filters": filters})
        assert response.status_code == 200, response.text
        return response.json()["count"]

    assert count(low, high) == count(*as_mjd)
    assert count(low, high) > 0
