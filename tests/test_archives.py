"""The test databases' life cycle (tests/archives.py): what a killed run leaves is dropped by
the next run, what a running suite owns is left alone."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.archives import PREFIX, PostgresDatabases
from tests.tools import postgres_admin_url

pytestmark = pytest.mark.postgres

KILLED_RUN = """
import os, signal, sys
from tests.archives import PostgresDatabases
databases = PostgresDatabases(sys.argv[1])
print(databases.create(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def existing(names: list[str]) -> set[str]:
    engine = create_engine(postgres_admin_url())
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                {"names": names},
            ).scalars()
            return set(found)
    finally:
        engine.dispose()


def test_a_killed_runs_databases_are_dropped_by_the_next_and_a_live_ones_kept() -> None:
    from tests.archives import postgres_databases

    postgres_databases()  # skips without PostgreSQL
    url = postgres_admin_url()
    running = PostgresDatabases(url)  # a suite running now, in another process's place
    alive = running.create()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, url], capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr
    orphan = killed.stdout.strip()
    assert orphan.startswith(PREFIX)
    # a database named the older way (no owner part): whose it is cannot be known
    older = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{older}"'))
    try:
        assert existing([orphan, alive, older]) == {orphan, alive, older}
        later = PostgresDatabases(url)
        assert orphan in later.orphans
        assert alive not in later.orphans and older not in later.orphans
        mine = later.create()
        later.drop_later(mine)
        later.close()
        assert existing([orphan, alive, older, mine]) == {alive, older}
        running.drop_later(alive)
        running.close()
        assert existing([alive]) == set()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{older}" WITH (FORCE)'))
        admin.dispose()
