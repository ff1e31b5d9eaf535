"""Identifier columns shown as text but stored as integers (``objID``, and ``objID1``, its name
in Filtered.Position's answers) filter on both databases: PostgreSQL refuses to compare a
bigint with text, so a value given as text must be read as the number it names."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from tests.e2e.conftest import LiveServer

M57 = "283.396, 33.029, 0.05"


def test_objid_filters_find_their_observation_through_every_face(
    demo_archive_copy: Archive,
) -> None:
    with demo_archive_copy.engine.connect() as conn:
        obsid, objid, ra, dec = conn.execute(
            select(observations.c.obsid, observations.c.objID, observations.c.s_ra,
                   observations.c.s_dec).where(observations.c.objID.is_not(None)).limit(1)
        ).one()  # fmt: skip
    position = f"{ra}, {dec}, 0.01"
    asks = {
        "Filtered, objID": ("Mast.Caom.Filtered", {"columns": "obsid,objID",
                            "filters": [{"paramName": "objID", "values": [str(objid)]}]}),
        "Filtered.Position, objID1": ("Mast.Caom.Filtered.Position", {
            "columns": "obsid", "position": position,
            "filters": [{"paramName": "objID1", "values": [str(objid)]}]}),
    }  # fmt: skip
    with LiveServer(demo_archive_copy) as server, httpx.Client(base_url=server.url) as client:
        for name, (service, params) in asks.items():
            request = json.dumps({"service": service, "params": params, "format": "json"})
            answer = client.post("/api/v0/invoke", data={"request": request}, timeout=60)
            assert answer.status_code == 200, (name, answer.text[:300])
            found = answer.json()
            assert found["status"] == "COMPLETE", (name, found.get("msg"))
            assert [int(row["obsid"]) for row in found["data"]] == [obsid], name
        portal = client.post("/api/portal/search", timeout=60, json={
            "collection": "position", "text": f"{ra} {dec} r=0.6m",
            "filters": [{"paramName": "objID1", "values": [str(objid)]}]})  # fmt: skip
        assert portal.status_code == 200, portal.text[:300]
        assert [int(row["obsid"]) for row in portal.json()["rows"]] == [obsid]
