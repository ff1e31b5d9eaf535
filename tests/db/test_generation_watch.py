"""The generation's watch: a write committed by another process is known without a read per
request (SQLite at once, PostgreSQL as its notification arrives), a write of this process at
once, and where the watch cannot know it says so (None: the request reads the generation)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text, update

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.catalogue_generation import read_generation
from skyarchive.db.generation_watch import (
    APPLICATION,
    GenerationWatch,
    PostgresWatch,
    watch_generation,
)
from skyarchive.db.tables import programs
from skyarchive.search.catalogue_epoch import generation_watch
from tests.e2e.conftest import LiveServer

# Another process writes the catalogue through skyarchive's engine (a program's row).
WRITER = """
import sys
from sqlalchemy import insert
from skyarchive.db.engine import make_engine
from skyarchive.db.tables import programs
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(insert(programs).values(proposal_id=sys.argv[2], obs_collection="JWST"))
engine.dispose()
"""


@pytest.fixture
def archive(database_url: str, tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(Settings(home=tmp_path / "home", database_url=database_url))
    yield opened
    opened.close()


def generation(engine: Engine) -> int:
    with engine.connect() as conn:
        found = read_generation(conn)
    assert found is not None
    return found


def write_in_another_process(url: str, proposal_id: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, url, proposal_id], check=True, timeout=60)


def learned(watch: GenerationWatch, wanted: int, within: float = 5.0) -> int | None:
    """What the watch tells once it knows ``wanted`` (or when ``within`` seconds are up)."""
    deadline = time.monotonic() + within
    seen = watch.generation()
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.01)
        seen = watch.generation()
    return seen


def test_a_write_by_another_process_is_learned(archive: Archive, database_kind: str) -> None:
    url = archive.settings.resolved_database_url
    watch = watch_generation(url)
    assert watch is not None
    start = generation(archive.engine)
    assert learned(watch, start) == start
    write_in_another_process(url, "9001")
    after = generation(archive.engine)
    assert after > start
    if database_kind == "sqlite":
        assert watch.generation() == after  # data_version: the very next look
    else:
        assert learned(watch, after) == after  # as the notification arrives


def test_a_write_past_skyarchive_changes_no_generation(archive: Archive) -> None:
    """Only a bump counts: a row changed with the driver alone leaves the generation."""
    watch = watch_generation(archive.settings.resolved_database_url)
    assert watch is not None
    start = generation(archive.engine)
    assert learned(watch, start) == start
    raw = archive.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("UPDATE observations SET target_name = 'X' WHERE obsid = -1")
        raw.commit()
    finally:
        raw.close()
    time.sleep(0.2)
    assert watch.generation() == start


def test_a_write_of_this_process_is_never_answered_with_the_old_generation(
    archive: Archive,
) -> None:
    """Right after this process commits a write, the watch knows the new generation or says
    it does not know (the request then reads it): the old one would serve a stale answer."""
    watch = watch_generation(archive.settings.resolved_database_url)
    assert watch is not None
    start = generation(archive.engine)
    assert learned(watch, start) == start
    for n in range(20):
        with archive.engine.begin() as conn:
            conn.execute(update(programs).where(programs.c.proposal_id == "x").values(title=str(n)))
        assert watch.generation() in (None, start + n + 1)


@pytest.mark.postgres
def test_postgresql_listener_reconnects_and_meanwhile_says_it_does_not_know(
    postgres_url: str, tmp_path: Path
) -> None:
    opened = Archive.open(Settings(home=tmp_path / "home", database_url=postgres_url))
    try:
        watch = watch_generation(postgres_url)
        assert isinstance(watch, PostgresWatch)
        start = generation(opened.engine)
        assert learned(watch, start) == start
        with opened.engine.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION},
            ).all()
        assert ended == [(True,)]
        # Until the listener has reconnected, nothing stale: None (read it) or the truth.
        write_in_another_process(postgres_url, "9002")
        after = generation(opened.engine)
        assert watch.generation() in (None, after)
        assert learned(watch, after, within=10.0) == after
    finally:
        opened.engine.dispose()


def test_no_watch_where_none_can_work(tmp_path: Path) -> None:
    assert watch_generation("sqlite://") is None
    assert watch_generation("sqlite:///:memory:") is None
    settings = Settings(home=tmp_path, answer_cache_notify=False)
    archive = Archive.open(settings)
    try:
        assert generation_watch(archive.settings) is None
    finally:
        archive.engine.dispose()


def listeners(engine: Engine) -> int:
    """The generation listeners connected to ``engine``'s database (of any process)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION},
            ).scalar_one()
        )


@pytest.mark.parametrize("database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_one_listener_per_archive_however_many_apps_and_none_once_it_is_closed(
    archive: Archive,
) -> None:
    params = {"ra": 10.0, "dec": 10.0, "radius": 0.2}
    cone = {"request": json.dumps({"service": "Mast.Caom.Cone", "params": params})}
    with (
        LiveServer(archive, lifespan="on") as first,
        LiveServer(archive, lifespan="on") as second,
    ):
        for server in (first, second):
            assert server.app.state.answer_cache is not None  # on, as by default
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for _ in range(2):  # cached searches ask the watch; a name search too
                    assert client.post("/api/v0/invoke", data=cone).status_code == 200
                    answer = client.post("/api/portal/search", json={"text": "M57"})
                    assert answer.status_code == 200, answer.text
        watch = archive.generation_watch()
        assert watch is not None
        assert learned(watch, generation(archive.engine)) is not None  # listening
        time.sleep(0.5)  # room for any second listener to connect
        assert listeners(archive.engine) == 1
    assert listeners(archive.engine) == 1  # the servers are gone; the archive's watch is not
    archive.close()
    assert watch.generation() is None  # closed: requests would read the generation
    deadline = time.monotonic() + 5.0
    while (left := listeners(archive.engine)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == 0
