"""``format`` on /api/v0/invoke: CSV and VOTable carry the same table as the JSON answer.

Each request is sent three times to the real server; the CSV is read with the csv module and
astropy, the VOTable with astropy.io.votable (warnings are errors here, so an invalid unit,
UCD or cell fails the test), and every value is compared with the JSON answer's.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from typing import Any

import httpx
import numpy as np
import pytest
from astropy import units as u
from astropy.io.votable import parse as parse_votable
from astropy.table import Table

from tests.tools import needs

M57 = {"ra": 283.396, "dec": 33.029}
FILTERED = [{"paramName": "obs_collection", "values": ["JWST"]},
            {"paramName": "instrument_name", "values": ["MIRI/IFU"]}]  # fmt: skip
REQUESTS = {
    "cone": {"service": "Mast.Caom.Cone", "params": {**M57, "radius": 0.05}},
    "filtered": {"service": "Mast.Caom.Filtered",
                 "params": {"columns": "*", "filters": FILTERED}},
    "filtered-position": {"service": "Mast.Caom.Filtered.Position",
                          "params": {"columns": "obs_id,s_ra,t_min,calib_level,mtFlag",
                                     "filters": [], "position": "283.396, 33.029, 0.05"}},
    "count": {"service": "Mast.Caom.Filtered",
              "params": {"columns": "COUNT_BIG(*)", "filters": FILTERED}},
    "keywords": {"service": "Mast.Jwst.Filtered.Nircam",
                 "params": {"columns": "*", "filters": [
                     {"paramName": "exp_type", "values": ["NRC_IMAGE"]}]}},
}  # fmt: skip


TABLE_REQUESTS = [*REQUESTS, "products"]


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        yield c


def invoke(client: httpx.Client, body: dict, fmt: str | None) -> httpx.Response:
    sent = {**body, "pagesize": 2000, "page": 1}
    if fmt is not None:
        sent["format"] = fmt
    return client.post("/api/v0/invoke", data={"request": json.dumps(sent)})


@pytest.fixture(scope="module")
def requests_(client) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """REQUESTS plus a product list of three observations the filtered search finds."""
    found = invoke(client, REQUESTS["filtered"], "json").json()["data"]
    obsids = ",".join(str(row["obsid"]) for row in found[:3])
    return {**REQUESTS, "products": {"service": "Mast.Caom.Products", "params": {"obsid": obsids}}}


@pytest.fixture(scope="module")
def answers(client, requests_) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """The JSON answer to each request (the reference the other formats must equal)."""
    found = {}
    for name, body in requests_.items():
        response = invoke(client, body, "json")
        assert response.status_code == 200
        answer = response.json()
        assert answer["status"] == "COMPLETE" and answer["data"], name
        found[name] = answer
    return found


def answered(response: httpx.Response, content_type: str) -> httpx.Response:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    return response


def typed(cell: Any, kind: str) -> Any:
    """A CSV cell read back by the JSON field type (an empty cell is null)."""
    if cell == "":
        return None if kind != "string" else ""
    if kind == "float":
        return float(cell)
    if kind == "int":
        return int(cell)
    if kind == "boolean":
        return {"true": True, "false": False}[cell]
    return cell


def expected(value: Any, kind: str) -> Any:
    """The JSON value as the other formats must carry it (a null string is empty)."""
    if kind == "string":
        return "" if value is None else str(value)
    return value


@pytest.mark.parametrize("name", TABLE_REQUESTS)
def test_csv_equals_json(client, requests_, answers, name: str) -> None:  # type: ignore[no-untyped-def]
    reference = answers[name]
    response = answered(invoke(client, requests_[name], "csv"), "text/csv; charset=utf-8")
    header, *lines = list(csv.reader(io.StringIO(response.text)))
    kinds = [f["type"] for f in reference["fields"]]
    rows = [[typed(cell, kind) for cell, kind in zip(line, kinds, strict=True)] for line in lines]
    assert_same_table(reference, header, rows)
    table = Table.read(response.text, format="ascii.csv")
    assert table.colnames == header and len(table) == len(reference["data"])


def assert_same_table(reference: dict, names: list[str], rows: list[list[Any]]) -> None:
    """Columns, rows and every value (read back by its JSON type) equal the JSON answer's."""
    assert names == [f["name"] for f in reference["fields"]]
    kinds = [f["type"] for f in reference["fields"]]
    assert len(rows) == len(reference["data"])
    for got, row in zip(rows, reference["data"], strict=True):
        assert got == [expected(row[n], k) for n, k in zip(names, kinds, strict=True)]


def votable_value(value: Any, kind: str) -> Any:
    if np.ma.is_masked(value):
        return None
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


@pytest.mark.parametrize("name", TABLE_REQUESTS)
def test_votable_equals_json(client, requests_, answers, name: str) -> None:  # type: ignore[no-untyped-def]
    reference = answers[name]
    response = answered(invoke(client, requests_[name], "votable"), "application/x-votable+xml")
    votable = parse_votable(io.BytesIO(response.content)).get_first_table()
    names = [field.name for field in votable.fields]
    kinds = [f["type"] for f in reference["fields"]]
    data = votable.array
    rows = [[votable_value(data[n][i], k) for n, k in zip(names, kinds, strict=True)]
            for i in range(len(data))]  # fmt: skip
    assert_same_table(reference, names, rows)


@needs("stilts")
@pytest.mark.parametrize("name", ["cone", "keywords", "products"])
def test_votlint_finds_nothing(client, requests_, tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    document = tmp_path / f"{name}.xml"
    document.write_bytes(invoke(client, requests_[name], "votable").content)
    lint = subprocess.run(
        ["stilts", "votlint", f"votable={document}"], capture_output=True, text=True, timeout=300
    )
    assert lint.returncode == 0
    assert lint.stdout.strip() == "" and "ERROR" not in lint.stderr, lint.stdout + lint.stderr


def test_votable_fields_carry_units_ucds_and_descriptions(client) -> None:  # type: ignore[no-untyped-def]
    response = invoke(client, REQUESTS["cone"], "votable")
    fields = {
        f.name: f for f in parse_votable(io.BytesIO(response.content)).get_first_table().fields
    }
    assert fields["s_ra"].unit == u.deg and fields["s_ra"].ucd == "pos.eq.ra;meta.main"
    assert fields["s_dec"].ucd == "pos.eq.dec;meta.main"
    assert fields["t_min"].unit == u.day and fields["t_min"].ucd.startswith("time.start")
    assert fields["t_exptime"].unit == u.s and fields["em_min"].unit == u.nm
    assert fields["distance"].unit == u.arcsec
    assert fields["target_name"].description.strip()
    config = client.post(
        "/portal/Mashup/Mashup.asmx/columnsconfig", data={"colConfigId": "Mast.Caom.Cone"}
    ).json()
    for name, field in fields.items():  # the column config and the VOTable agree
        assert config[name].get("vot.ucd") == field.ucd, name


def test_big_pages_stream_in_every_format(client, live_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Past the buffered size the answer is streamed (chunked), in CSV and VOTable as in JSON."""
    monkeypatch.setattr("skyarchive.api.mast.routes._BUFFERED_ROWS", 3)
    # The same requests were answered whole (and kept) by earlier tests, under the real
    # threshold: only a computed answer shows how this one is sent.
    monkeypatch.setattr(live_server.app.state, "answer_cache", None)
    body = REQUESTS["filtered"]
    rows = len(invoke(client, body, "json").json()["data"])
    assert rows > 3
    csv_answer = invoke(client, body, "csv")
    assert "content-length" not in csv_answer.headers  # streamed
    assert len(list(csv.reader(io.StringIO(csv_answer.text)))) == rows + 1
    votable = invoke(client, body, "votable")
    assert "content-length" not in votable.headers
    assert len(parse_votable(io.BytesIO(votable.content)).get_first_table().array) == rows


@pytest.mark.parametrize("fmt", ["xlsx", "", "JSONP"])
def test_unknown_format_is_400_in_mast_shape(client, fmt: str) -> None:  # type: ignore[no-untyped-def]
    response = invoke(client, REQUESTS["cone"], fmt)
    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "ERROR" and repr(fmt.lower()) in answer["msg"]
    assert "csv" in answer["msg"] and "votable" in answer["msg"]


def test_format_is_case_insensitive_and_json_by_default(client, answers) -> None:  # type: ignore[no-untyped-def]
    assert invoke(client, REQUESTS["cone"], None).json()["data"] == answers["cone"]["data"]
    upper = invoke(client, REQUESTS["cone"], "CSV")
    assert upper.headers["content-type"].startswith("text/csv")


def test_csv_of_a_json_only_service_is_400(client) -> None:  # type: ignore[no-untyped-def]
    response = invoke(client, {"service": "Mast.Name.Lookup", "params": {"input": "M57"}}, "csv")
    assert response.status_code == 400
    assert response.json()["status"] == "ERROR" and "JSON only" in response.json()["msg"]


def test_bad_input_with_csv_is_a_4xx_not_a_200(client) -> None:  # type: ignore[no-untyped-def]
    """A CSV client cannot read MAST's JSON status: its errors carry the HTTP status."""
    body = {"service": "Mast.Caom.Cone", "params": {"ra": 1, "dec": 95, "radius": 1}}
    for fmt in ("csv", "votable"):
        response = invoke(client, body, fmt)
        assert response.status_code == 400
        assert response.json()["status"] == "ERROR" and "Dec" in response.json()["msg"]
    assert invoke(client, body, "json").status_code == 200  # astroquery's convention kept
