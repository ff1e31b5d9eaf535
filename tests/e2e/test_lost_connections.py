"""PostgreSQL ending the server's connections (a restart, a fail-over, an administrator's
``pg_terminate_backend``) costs no request: a pooled connection the database has ended is
replaced before it is handed out, so every face's next request is served. A database that
cannot be reached at all is answered 503 with a time to retry, in each face's own error
shape, never as our fault (500); once it is back, so is the server.

Pooled connections are pinged only after a second idle (``db/engine.py``); here never, so it
is the check of each connection's socket at check-out that finds the ended ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db import engine as engine_module
from skyarchive.db.tables import observations, products
from tests.e2e.conftest import LiveServer
from tests.search.test_query_plans import requests_of_every_face

pytestmark = pytest.mark.parametrize(
    "database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


@pytest.fixture
def never_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 3600.0)


@pytest.fixture
def admin(demo_archive_copy: Archive) -> Iterator[Engine]:
    """A connection of the test's own to the archive's database server (to its maintenance
    database: a database cannot refuse connections while the one saying so is in it)."""
    url = demo_archive_copy.engine.url.set(database="postgres")
    engine = create_engine(url, poolclass=None, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _drop_connections(admin: Engine, database: str) -> int:
    """Ends every server process of ``database`` but the caller's; waits until they are gone
    (by their ids: the server's generation watch connects again at once, a new process)."""
    with admin.connect() as conn:
        others = "datname = :db AND pid <> pg_backend_pid()"
        found = conn.scalars(text(f"SELECT pid FROM pg_stat_activity WHERE {others}"),
                             {"db": database})  # fmt: skip
        pids = list(found)
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):  # up to 10 s on a busy machine
            still = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            left = conn.execute(still, {"pids": pids}).scalar_one()
            if not left:
                return len(pids)
            time.sleep(0.02)
    raise AssertionError("the server's connections are still open")


def _asks(archive: Archive) -> dict[str, tuple[str, str, dict]]:
    """Every face's search, and a public file's download."""
    with archive.engine.connect() as conn:
        query = select(observations.c.obsid).where(observations.c.proposal_id == "1073")
        obsids = list(conn.scalars(query.order_by(observations.c.obsid).limit(3)))
        owner = observations.alias("owner")
        uri = conn.execute(
            select(products.c.dataURI)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release < now_mjd())
            .order_by(products.c.size)
            .limit(1)
        ).scalar_one()
    download = ("GET", "/api/v0.1/Download/file", {"params": {"uri": uri}})
    return {**requests_of_every_face(obsids), "download": download}


@contextmanager
def _served(archive: Archive) -> Iterator[httpx.Client]:
    """A client of a live server over ``archive`` that keeps no answers (every request below
    reads the database)."""
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        server.app.state.answer_cache = None
        yield client


def _database(archive: Archive) -> str:
    name = archive.engine.url.database
    assert name is not None
    return name


def test_connections_the_database_ended_are_replaced_before_use(
    never_pinged: None, demo_archive_copy: Archive, admin: Engine
) -> None:
    archive = demo_archive_copy
    database = _database(archive)
    with _served(archive) as client:
        for name, (method, path, options) in _asks(archive).items():
            before = client.request(method, path, **options)
            assert before.status_code == 200, (name, before.text[:300])
            assert _drop_connections(admin, database) >= 1
            after = client.request(method, path, **options)
            assert after.status_code == 200, (name, after.text[:300])
            assert after.content == before.content, name


def test_a_database_out_of_reach_is_answered_503_until_it_is_back(
    never_pinged: None, demo_archive_copy: Archive, admin: Engine
) -> None:
    archive = demo_archive_copy
    database = _database(archive)
    asks = _asks(archive)
    mast_search = asks["criteria"]
    portal_search = asks["portal program search"]
    download = asks["download"]
    with _served(archive) as client:
        for method, path, options in (mast_search, portal_search, download):
            assert client.request(method, path, **options).status_code == 200
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        try:
            _drop_connections(admin, database)
            # the MAST API in MAST's shape, which astroquery reads
            answer = client.request(mast_search[0], mast_search[1], **mast_search[2])
            assert answer.status_code == 503, answer.text[:300]
            assert answer.json()["status"] == "ERROR"
            assert "try again" in answer.json()["msg"]
            assert int(answer.headers["Retry-After"]) >= 1
            # the portal's API and a download in the API's one shape
            for method, path, options in (portal_search, download):
                answer = client.request(method, path, **options)
                assert answer.status_code == 503, (path, answer.text[:300])
                error = answer.json()["error"]
                assert (error["status"], error["type"]) == (503, "ServiceUnavailable")
                assert int(answer.headers["Retry-After"]) >= 1
            # a page, for a browser
            page = client.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 503, page.text[:300]
            assert page.headers["content-type"].startswith("text/html")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        for method, path, options in (mast_search, portal_search, download):
            assert client.request(method, path, **options).status_code == 200, path
