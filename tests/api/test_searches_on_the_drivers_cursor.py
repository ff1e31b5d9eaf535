"""The hot searches read every statement kept for them on the database driver's cursor.

A ``DriverRows`` statement that holds an expanding parameter (a plain list in an ``IN``) is
silently handed back to SQLAlchemy and rendered per execution: the keyword query's kept page
lost its speed that way, unseen, until the fourteenth pass of issue 20. Each search of the
MAST API and the portal that ``make bench`` measures is run here, in process, on both
databases: none may fall back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from skyarchive.access.policy import ANONYMOUS
from skyarchive.access.rights import now_mjd
from skyarchive.api.mast.routes import answer_kept, invoke
from skyarchive.api.portal.search import SearchRequest, search_answer
from skyarchive.archive import Archive
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.tables import observation_products

M57 = (283.396, 33.029)


def mast_body(service: str, params: dict[str, Any]) -> bytes:
    request = {"service": service, "params": params, "format": "json", "pagesize": 50000}
    return f"request={json.dumps(request)}".encode()


def mast_searches(archive: Archive) -> dict[str, bytes]:
    with archive.engine.connect() as conn:
        listed = conn.scalars(select(observation_products.c.obsid).distinct().limit(5)).all()
    jwst_1073 = [{"paramName": "obs_collection", "values": ["JWST"]},
                 {"paramName": "proposal_id", "values": ["1073"]}]  # fmt: skip
    return {
        "cone": mast_body("Mast.Caom.Cone", {"ra": M57[0], "dec": M57[1], "radius": 1 / 60}),
        "criteria": mast_body("Mast.Caom.Filtered", {"columns": "*", "filters": jwst_1073}),
        "count": mast_body("Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)",
                                                  "filters": jwst_1073}),  # fmt: skip
        "product list": mast_body("Mast.Caom.Products", {"obsid": ",".join(map(str, listed))}),
        "keyword query": mast_body("Mast.Jwst.Filtered.Nircam", {
            "columns": "*", "filters": [{"paramName": "exp_type", "values": ["NRC_IMAGE"]}]}),
    }  # fmt: skip


PORTAL_SEARCHES = {"by position": ("position", "m57 r=1m"), "by program": ("program", "1073")}


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements ``DriverRows`` hands to SQLAlchemy from now on."""
    handed: list[str] = []
    really = DriverRows._through_sqlalchemy

    def recorded(self: DriverRows, *args: Any) -> Any:
        handed.append(str(self.statement))
        return really(self, *args)

    monkeypatch.setattr(DriverRows, "_through_sqlalchemy", recorded)
    return handed


def test_the_mast_searches_read_their_kept_statements_on_the_drivers_cursor(
    demo_archive_copy: Archive, fallbacks: list[str]
) -> None:
    for name, body in mast_searches(demo_archive_copy).items():
        for _ in range(2):  # the first execution learns the result's types
            answer = invoke(demo_archive_copy, body, None, answer_kept(demo_archive_copy, body,
                                                                        None))  # fmt: skip
            found = json.loads(answer.body)
            assert found["status"] == "COMPLETE" and found["data"], (name, answer.body[:300])
        assert fallbacks == [], f"{name}: handed to SQLAlchemy"


@pytest.mark.parametrize("name", sorted(PORTAL_SEARCHES))
def test_the_portal_searches_read_their_kept_statements_on_the_drivers_cursor(
    name: str, demo_archive_copy: Archive, fallbacks: list[str]
) -> None:
    collection, text = PORTAL_SEARCHES[name]
    body = SearchRequest(collection=collection, text=text, filters=[], facets={}, page=1,
                         pagesize=50)  # fmt: skip
    for _ in range(2):
        answer = search_answer(body, demo_archive_copy, ANONYMOUS, now_mjd())
        assert json.loads(answer.body)["rows"], name
    assert fallbacks == [], f"{name}: handed to SQLAlchemy"
