"""Every query behind the MAST API, keyword search and the portal can use an index on
PostgreSQL (EXPLAIN with ``enable_seqscan = off``, see tests/plans.py).

The statements are the ones the server really sends: a live server over the demo archive
answers a cone, criteria, count, product-list and keyword request and the portal's search,
count and facet requests, while an engine event records every SELECT. Each is then explained;
a ``Seq Scan`` on one of the tables that grow with the archive means no index can serve it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations
from skyarchive.ingest.run import ingest_paths
from tests.conftest import scratch_postgres
from tests.e2e.conftest import LiveServer
from tests.plans import plan_of_statement

# The tables that grow with the archive (10^6 observations, 2·10^7 products).
LARGE = ("observations", "products", "footprint_cells", "footprint_vertices",
         "observation_products", "observation_members", "product_keywords",
         "product_versions")  # fmt: skip


@pytest.fixture(scope="module")
def postgres_archive(tmp_path_factory: pytest.TempPathFactory, demo_output) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    with scratch_postgres() as url:
        home = tmp_path_factory.mktemp("plans-home")
        archive = Archive.open(Settings(home=home, database_url=url))
        report = ingest_paths(
            [Path(demo_output[0])], engine=archive.engine, storage=archive.storage,
            default_eap_months=12,
        )  # fmt: skip
        assert report.ok, report.failed
        yield archive
        archive.engine.dispose()


def _invoke(service: str, params: dict) -> tuple[str, str, dict[str, Any]]:
    request = {"service": service, "params": params, "format": "json", "pagesize": 100}
    return ("POST", "/api/v0/invoke", {"data": {"request": json.dumps(request)}})


def requests_of_every_face(obsids: list[int]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    jwst_1073 = [{"paramName": "obs_collection", "values": ["JWST"]},
                 {"paramName": "proposal_id", "values": ["1073"]}]  # fmt: skip
    return {
        "cone": _invoke("Mast.Caom.Cone", {"ra": 283.396, "dec": 33.029, "radius": 0.02}),
        "criteria": _invoke("Mast.Caom.Filtered", {"columns": "*", "filters": jwst_1073}),
        "criteria by instrument": _invoke(
            "Mast.Caom.Filtered",
            {
                "columns": "*",
                "filters": [{"paramName": "instrument_name", "values": ["NIRCAM/IMAGE"]}],
            },
        ),  # fmt: skip
        "criteria with position": _invoke(
            "Mast.Caom.Filtered.Position",
            {"columns": "*", "filters": jwst_1073, "position": "283.396, 33.029, 0.02"},
        ),  # fmt: skip
        "count": _invoke(
            "Mast.Caom.Filtered", {"columns": "COUNT_BIG(*)", "filters": jwst_1073}
        ),  # fmt: skip
        "product list": _invoke(
            "Mast.Caom.Products", {"obsid": ",".join(str(o) for o in obsids)}
        ),  # fmt: skip
        "keyword search": _invoke(
            "Mast.Jwst.Filtered.Nircam",
            {"columns": "*", "filters": [{"paramName": "filter", "values": ["F150W"]}]},
        ),  # fmt: skip
        "portal search": ("POST", "/api/portal/search", {"json": {"text": "m57 r=1m"}}),
        "portal program search": (
            "POST",
            "/api/portal/search",
            {"json": {"text": "1073", "collection": "program"}},
        ),
        "portal count": ("POST", "/api/portal/count", {"json": {"filters": jwst_1073}}),
        "portal facet": (
            "POST",
            "/api/portal/values",
            {"json": {"column": "instrument_name", "filters": jwst_1073}},
        ),  # fmt: skip
    }


def _large_tables_scanned(plan: str) -> list[str]:
    return [line.strip() for line in plan.split("\n")
            if "Seq Scan" in line and any(f" on {t} " in f"{line} " for t in LARGE)]  # fmt: skip


@pytest.mark.postgres
def test_every_query_of_every_face_can_use_an_index(postgres_archive: Archive) -> None:
    with postgres_archive.engine.connect() as conn:
        query = select(observations.c.obsid).where(observations.c.proposal_id == "1073")
        obsids = list(conn.scalars(query.limit(3)))
    sent: list[tuple[str, str, Any]] = []
    current = {"name": ""}

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((current["name"], statement, parameters))

    engine = postgres_archive.engine
    # the searches tried on the event loop run on an engine (and pool) of their own
    listened = (engine, postgres_archive.loop_search_engine)
    for each in listened:
        event.listen(each, "before_cursor_execute", record)
    try:
        with (
            LiveServer(postgres_archive) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            for name, (method, path, body) in requests_of_every_face(obsids).items():
                current["name"] = name
                answer = client.request(method, path, **body)
                assert answer.status_code == 200, (name, answer.text[:300])
    finally:
        for each in listened:
            event.remove(each, "before_cursor_execute", record)

    faces = {name for name, _statement, _params in sent}
    assert faces == set(requests_of_every_face(obsids)), "a request sent no SELECT"
    scanned, indexed = {}, set()
    with engine.connect() as conn:
        for name, statement, params in sent:
            with conn.begin():
                plan = plan_of_statement(conn, statement, params)
            if _large_tables_scanned(plan):
                scanned[f"{name}: {statement[:300]}"] = plan
            if any(f" on {t} " in plan for t in LARGE) and "Index" in plan:
                indexed.add(name)
    assert not scanned, "\n\n".join(f"{k}\n{v}" for k, v in scanned.items())
    assert indexed == faces  # every request read the large tables, through an index
