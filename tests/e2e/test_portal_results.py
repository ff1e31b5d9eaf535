"""Results at any size (issue 17 §3, §4): server pages, sorts, facet counts and exports.

Expected values come from the MAST API's own answer to the same criteria (every row of
``Mast.Caom.Filtered``), counted here, never from the endpoint under test.
"""

from __future__ import annotations

import io
import json
import warnings
from collections import Counter
from urllib.parse import urlencode

import httpx
import pytest
from astropy.io import fits
from astropy.io import votable as astropy_votable
from astropy.table import Table

FILTERS = [{"paramName": "obs_collection", "values": ["JWST"]}]


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def reference(client) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every JWST observation as the MAST API lists it."""
    body = {"service": "Mast.Caom.Filtered", "format": "json", "pagesize": 50_000,
            "params": {"columns": "*", "filters": FILTERS}}  # fmt: skip
    rows = client.post("/api/v0/invoke", data={"request": json.dumps(body)}).json()["data"]
    assert len(rows) > 20  # enough rows for several pages
    return rows


def search(client: httpx.Client, **body) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/portal/search", json={"collection": "filters",
                                                       "filters": FILTERS, **body})  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_cover_the_result_once_in_the_sorted_order(client, reference) -> None:  # type: ignore[no-untyped-def]
    seen: list[dict] = []
    page = 1
    while True:
        got = search(client, sort="t_exptime", descending=True, page=page, pagesize=7)
        assert got["total"] == len(reference) and got["page"] == page
        seen += got["rows"]
        if len(got["rows"]) < 7:
            break
        page += 1
    assert sorted(r["obsid"] for r in seen) == sorted(r["obsid"] for r in reference)
    times = [r["t_exptime"] for r in seen if r["t_exptime"] is not None]
    assert times == sorted(times, reverse=True)
    assert all(r["t_exptime"] is None for r in seen[len(times) :])  # nulls last


@pytest.mark.parametrize("column", ["target_name", "calib_level", "dataRights", "s_ra"])
def test_sorting_by_any_column(client, reference, column) -> None:  # type: ignore[no-untyped-def]
    got = search(client, sort=column, pagesize=500)["rows"]
    values = [r[column] for r in got if r[column] is not None]
    if column == "dataRights":  # by release date: the earlier released first
        values = [r["t_obs_release"] for r in got if r["t_obs_release"] is not None]
    assert values == sorted(values)


def test_facet_counts_cover_the_whole_match_set(client, reference) -> None:  # type: ignore[no-untyped-def]
    got = search(client, pagesize=5)  # one small page: the counts still cover every row
    assert len(got["rows"]) == 5 and got["matched"] == got["total"] == len(reference)
    instruments = Counter(r["instrument_name"] for r in reference)
    facet = {v["value"]: v for v in got["facets"]["instrument_name"]}
    assert {k: v["total"] for k, v in facet.items()} == dict(instruments)
    assert all(v["shown"] == v["total"] for v in facet.values())
    parts = [set((r["filters"] or "").split(";")) - {""} for r in reference]
    filters = Counter(part for each in parts for part in each)
    assert {v["value"]: v["total"] for v in got["facets"]["filters"]} == dict(filters)
    rights = Counter(r["dataRights"] for r in reference)
    assert {v["value"]: v["total"] for v in got["facets"]["dataRights"]} == dict(rights)


def test_chosen_facet_values_narrow_rows_and_shown_counts(client, reference) -> None:  # type: ignore[no-untyped-def]
    instrument = Counter(r["instrument_name"] for r in reference).most_common(1)[0][0]
    chosen = [r for r in reference if r["instrument_name"] == instrument]
    got = search(client, facets={"instrument_name": [instrument]}, pagesize=500)
    assert got["total"] == len(chosen) and got["matched"] == len(reference)
    assert {r["obsid"] for r in got["rows"]} == {r["obsid"] for r in chosen}
    levels = {v["value"]: v for v in got["facets"]["calib_level"]}
    expected_shown = Counter(str(r["calib_level"]) for r in chosen)
    expected_total = Counter(str(r["calib_level"]) for r in reference)
    assert {k: v["shown"] for k, v in levels.items() if v["shown"]} == dict(expected_shown)
    assert {k: v["total"] for k, v in levels.items()} == dict(expected_total)


def test_a_cone_pages_sorts_and_counts_facets(client) -> None:  # type: ignore[no-untyped-def]
    everything = client.post("/api/portal/search", json={"text": "m57 r=3m"}).json()
    assert everything["total"] > 3
    body = {"text": "m57 r=3m", "sort": "obs_id", "pagesize": 3, "page": 2}
    by_target = client.post("/api/portal/search", json=body).json()
    ordered = sorted(r["obs_id"] for r in everything["rows"])
    assert [r["obs_id"] for r in by_target["rows"]] == ordered[3:6]
    total = sum(v["total"] for v in by_target["facets"]["calib_level"])
    assert total == everything["total"]


def test_a_cone_with_chosen_values_counts_its_facets_from_its_rows(client) -> None:  # type: ignore[no-untyped-def]
    """The facet counts of a cone with values chosen are read by obsid (not from the page):
    ``total`` counts the cone's rows, ``shown`` the rows the chosen values leave."""
    cone = {"text": "m57 r=3m", "pagesize": 500}
    everything = client.post("/api/portal/search", json=cone).json()
    chosen = client.post("/api/portal/search", json={**cone, "facets": {"calib_level": [3]}})
    narrowed = chosen.json()
    assert 0 < narrowed["total"] < everything["total"] == len(everything["rows"])
    for name in ("calib_level", "instrument_name", "dataproduct_type", "dataRights"):
        counted = {v["value"]: v for v in narrowed["facets"][name]}  # values listed as text
        total = Counter(str(row[name]) for row in everything["rows"])
        shown = Counter(str(row[name]) for row in narrowed["rows"])
        assert {value: v["total"] for value, v in counted.items()} == dict(total), name
        assert {value: v["shown"] for value, v in counted.items() if v["shown"]} == dict(shown), (
            name
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sort": "instrumnt_name"}, "Did you mean 'instrument_name'"),
        ({"sort": "distance"}, "needs a search position"),
        ({"pagesize": 501}, "pagesize"),
        ({"page": 0}, "page"),
        ({"facets": {"no_such": ["x"]}}, "Unknown column"),
    ],
)
def test_bad_paging_sorting_and_facets_are_400(client, body, message) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/portal/search", json={"collection": "filters",
                                                       "filters": FILTERS, **body})  # fmt: skip
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def export(client: httpx.Client, fmt: str, **params) -> httpx.Response:  # type: ignore[no-untyped-def]
    query = {"format": fmt, "collection": "filters", "filters": json.dumps(FILTERS), **params}
    response = client.get(f"/api/portal/export?{urlencode(query)}")
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")
    return response


def test_exports_read_back_by_astropy_with_every_row(client, reference) -> None:  # type: ignore[no-untyped-def]
    columns = "obs_id,instrument_name,s_ra,s_dec,t_exptime,calib_level,dataRights"
    csv = Table.read(export(client, "csv", columns=columns).text, format="ascii.csv")
    assert len(csv) == len(reference) and csv.colnames == columns.split(",")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a VOTable astropy warns about is not a good one
        answer = export(client, "votable", columns=columns).content
        vot = astropy_votable.parse_single_table(io.BytesIO(answer))
    assert len(vot.array) == len(reference)
    ra = vot.get_field_by_id_or_name("s_ra")
    assert ra.unit == "deg" and ra.ucd == "pos.eq.ra;meta.main"
    with fits.open(io.BytesIO(export(client, "fits", columns=columns).content)) as hdus:
        table = Table(hdus[1].data)
        assert len(table) == len(reference) and table.colnames == columns.split(",")
        assert hdus[1].header["TUNIT3"] == "deg"
    expected = sorted(r["obs_id"] for r in reference)
    assert sorted(table["obs_id"]) == expected == sorted(csv["obs_id"])


def test_export_of_the_selection_in_the_grid_order(client, reference) -> None:  # type: ignore[no-untyped-def]
    chosen = [r["obsid"] for r in reference[:4]]
    got = export(client, "csv", obsids=",".join(chosen), columns="obsid,obs_id",
                 sort="obs_id", desc="1").text  # fmt: skip
    table = Table.read(got, format="ascii.csv")
    assert sorted(str(o) for o in table["obsid"]) == sorted(chosen)
    assert list(table["obs_id"]) == sorted(table["obs_id"], reverse=True)


def test_export_respects_chosen_facets(client, reference) -> None:  # type: ignore[no-untyped-def]
    rights = Counter(r["dataRights"] for r in reference)
    got = export(client, "csv", facets=json.dumps({"dataRights": ["PUBLIC"]}), columns="obsid").text
    assert len(Table.read(got, format="ascii.csv")) == rights["PUBLIC"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "xlsx"}, "Unknown export format"),
        ({"columns": "obs_idd"}, "Did you mean 'obs_id'"),
        ({"filters": "[not json"}, "not valid JSON"),
        ({"facets": "[]"}, "must be a JSON object"),
        ({"columns": "distance"}, "needs a search position"),
    ],
)
def test_bad_exports_are_400(client, params, message) -> None:  # type: ignore[no-untyped-def]
    query = {"format": "csv", "collection": "filters", "filters": json.dumps(FILTERS), **params}
    response = client.get(f"/api/portal/export?{urlencode(query)}")
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
