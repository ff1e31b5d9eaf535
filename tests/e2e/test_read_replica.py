"""``database_read_url``: searches read from a replica, everything else from the primary.

No real replica runs here, so the "replica" is a second engine on the same PostgreSQL whose
connections are read-only (``default_transaction_read_only``), as a hot standby's are: a
write sent there would fail. Through the real server, the statements each engine runs are
recorded: the MAST API's, MastMissions' and the portal's searches go to the replica, and a
basket change (a write) and the caller's session go to the primary only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import InternalError, OperationalError

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations
from skyarchive.ingest.run import ingest_paths
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.postgres

READ_ONLY = "options=" + quote("-c default_transaction_read_only=on")


class Statements:
    """The SQL engines run, as they run it."""

    def __init__(self, *engines: Engine) -> None:
        self.seen: list[str] = []
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(statement)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT") and table in s]

    def writes(self) -> list[str]:
        verbs = ("INSERT", "UPDATE", "DELETE")
        return [s for s in self.seen if s.lstrip().upper().startswith(verbs)]


@pytest.fixture
def replicated(postgres_url: str, tmp_path: Path, demo_output) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    separator = "&" if "?" in postgres_url else "?"
    settings = Settings(
        home=tmp_path / "home",
        database_url=postgres_url,
        database_read_url=f"{postgres_url}{separator}{READ_ONLY}",
    )
    archive = Archive.open(settings)
    report = ingest_paths([Path(demo_output[0]) / "jwst" / "jw01073"], engine=archive.engine,
                          storage=archive.storage, default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    yield archive
    archive.engine.dispose()
    archive.read_engine.dispose()


def test_the_read_engine_is_a_second_read_only_engine(replicated: Archive) -> None:
    assert replicated.read_engine is not replicated.engine
    with (
        pytest.raises((InternalError, OperationalError), match="read-only"),
        replicated.read_engine.begin() as conn,
    ):
        conn.execute(text("UPDATE programs SET title = title"))


def test_searches_read_from_the_replica_and_writes_go_to_the_primary(
    replicated: Archive,
) -> None:
    with replicated.engine.connect() as conn:
        obsid = conn.scalar(
            select(observations.c.obsid)
            .where(observations.c.proposal_id == "1073", observations.c.t_obs_release < now_mjd())
            .limit(1)
        )
    assert obsid is not None
    # the searches tried on the event loop read on an engine of their own, of the replica too
    primary = Statements(replicated.engine)
    replica = Statements(replicated.read_engine, replicated.loop_search_engine)
    invoke = {"service": "Mast.Caom.Filtered", "format": "json", "params": {
        "columns": "*", "filters": [{"paramName": "proposal_id", "values": ["1073"]}]}}  # fmt: skip
    with LiveServer(replicated) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        found = http.post("/api/v0/invoke", data={"request": json.dumps(invoke)})
        assert found.status_code == 200 and found.json()["data"], found.text
        portal = http.post("/api/portal/search", json={"collection": "program", "text": "1073"})
        assert portal.status_code == 200 and portal.json()["rows"], portal.text
        missions = http.post("/search/jwst/api/v0.1/search", json={"limit": 5})
        assert missions.status_code == 200, missions.text
        searches_on_primary = primary.reading("observations")
        added = http.post("/api/portal/basket/observations", json={"obsids": [str(obsid)]})
        assert added.status_code == 200, added.text
    assert len(replica.reading("observations")) >= 3  # one or more per search
    assert searches_on_primary == []
    assert primary.writes(), "the basket change was written on the primary"
    assert replica.writes() == []
