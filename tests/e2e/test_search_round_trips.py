"""On PostgreSQL the faces' searches send their own statements only: no BEGIN before the
first, no ROLLBACK when the pool takes the connection back (``Archive.search_engine``, the
searches tried on the event loop's ``loop_search_engine`` and the answer cache's
``loop_read_engine`` run in autocommit). A live server over the demo archive
answers each face's requests while libpq traces every pooled connection it uses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from tests.driver_trace import DriverTrace
from tests.e2e.conftest import LiveServer
from tests.search.test_query_plans import requests_of_every_face


@pytest.mark.parametrize("database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_searches_on_postgres_send_no_begin_or_rollback(
    demo_archive_copy: Archive, tmp_path: Path
) -> None:
    archive = demo_archive_copy
    with archive.engine.connect() as conn:
        query = select(observations.c.obsid).where(observations.c.proposal_id == "1073")
        obsids = list(conn.scalars(query.order_by(observations.c.obsid).limit(3)))
    engines = (archive.engine, archive.loop_read_engine, archive.loop_search_engine)
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        # the resolver reads the archive's target names once a minute, not per search: now
        warm = client.post("/api/portal/search", json={"text": "m57 r=2m"})
        assert warm.status_code == 200, warm.text[:300]
        # the VO's cone search and coverage read like the faces' searches (the coverage's
        # full read of the cells is not among the faces whose plans are checked)
        vo_reads: dict[str, tuple[str, str, dict]] = {
            "VO cone search": ("GET", "/vo/scs", {"params": {"RA": 283.396, "DEC": 33.029,
                                                             "SR": 0.02}}),
            "VO coverage": ("GET", "/vo/moc", {"params": {"format": "json"}}),
        }  # fmt: skip
        for name, (method, path, body) in {**requests_of_every_face(obsids), **vo_reads}.items():
            # A search thread, and the loop, keep their connection from one search to the next,
            # and the trace begins as a connection is checked out: each search takes a fresh one.
            archive.search_connections.close()
            archive.loop_connections.close()
            with DriverTrace(tmp_path / name, *engines) as trace:
                answer = client.request(method, path, **body)
            assert answer.status_code == 200, (name, answer.text[:300])
            assert any("SELECT" in sent for sent in trace.sql_sent()), (name, "nothing traced")
            assert trace.transaction_commands() == [], name

    # the trace sees a transaction's round trips where there is one
    reads = archive.read_engine
    with DriverTrace(tmp_path / "transaction", archive.engine) as trace, reads.connect() as conn:
        conn.execute(select(observations.c.obsid).limit(1)).all()
    assert trace.transaction_commands() == ["BEGIN", "ROLLBACK"]
