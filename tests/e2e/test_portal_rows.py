"""The portal search's rows are the MAST API's rows of the same observations, as the database
stores them, with what the caller may do joined on (``mayRetrieve``, ``preview``), through the
real server on both databases; a cone's facet counts count those rows."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from skyarchive.archive import Archive
from tests.e2e.conftest import LiveServer

M57 = (283.396, 33.029)
CALLERS_MEMBERS = ("mayRetrieve", "preview")
#: portal search body -> the MAST API request for the same observations
SAME_SEARCHES: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "cone": ({"collection": "position", "text": f"{M57[0]} {M57[1]} r=0.02d"},
             "Mast.Caom.Cone", {"ra": M57[0], "dec": M57[1], "radius": 0.02}),
    # 4567's data is partly exclusive
    "programs": ({"collection": "program", "text": "1073, 4567"}, "Mast.Caom.Filtered",
                 {"columns": "*", "filters": [{"paramName": "proposal_id",
                                               "values": ["1073", "4567"]}]}),
    "programs, sorted": ({"collection": "program", "text": "1073, 4567", "sort": "s_ra",
                          "descending": True}, "Mast.Caom.Filtered",
                         {"columns": "*", "filters": [{"paramName": "proposal_id",
                                                       "values": ["1073", "4567"]}]}),
}  # fmt: skip


def _portal(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/api/portal/search", json={"pagesize": 500, **body})
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def _mast_rows(client: httpx.Client, service: str, params: dict[str, Any]) -> dict[str, dict]:
    request = {"service": service, "params": params, "format": "json", "pagesize": 5000}
    answer = client.post("/api/v0/invoke", data={"request": json.dumps(request)})
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETE", answer.text[:300]
    return {row["obsid"]: row for row in answer.json()["data"]}


@pytest.mark.parametrize("search", SAME_SEARCHES)
def test_portal_rows_are_the_mast_api_rows(demo_archive_copy: Archive, search: str) -> None:
    body, service, params = SAME_SEARCHES[search]
    with LiveServer(demo_archive_copy) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:  # fmt: skip
        server.app.state.answer_cache = None  # every request runs its search
        portal = _portal(client, body)
        mast = _mast_rows(client, service, params)
    rows = portal["rows"]
    assert rows and len(rows) == len(mast) == portal["total"]
    for row in rows:
        own = {name: value for name, value in row.items() if name not in CALLERS_MEMBERS}
        assert list(own) == list(mast[row["obsid"]])  # the same columns, in the same order
        assert own == mast[row["obsid"]]  # and the same values
        # an anonymous caller may retrieve public data only; its preview is then offered
        assert row["mayRetrieve"] is (row["dataRights"] == "PUBLIC")
        expected = f"/api/v0.1/Download/file?uri={row['jpegURL']}"
        assert row["preview"] == (expected if row["mayRetrieve"] and row["jpegURL"] else None)
    assert {row["mayRetrieve"] for row in rows} == {True, False} or search == "cone"
    if body.get("sort"):
        times = [row["s_ra"] for row in rows]
        assert times == sorted(times, reverse=True)
    if search == "cone":  # nearest first, and the facets count the rows matched
        distances = [row["distance"] for row in rows]
        assert distances == sorted(distances)
        for facet in ("obs_collection", "instrument_name", "dataRights", "target_name"):
            counted = Counter(str(row[facet]) for row in mast.values() if row[facet])
            listed = {value["value"]: value["total"] for value in portal["facets"][facet]}
            assert listed == counted, facet
