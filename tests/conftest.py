"""Shared fixtures: clean environment, SQLite and PostgreSQL catalogs, the demo pipeline output."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from skyarchive.archive import Archive
from skyarchive.config import Settings

PG_ADMIN_URL = os.environ.get(
    "SKYARCHIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's archive settings or proxies."""
    for name in list(os.environ):
        if name.startswith("SKYARCHIVE_") and name != "SKYARCHIVE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return postgres_reachable()


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not postgres_available:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: PostgreSQL tests skipped")
    name = f"skyarchive_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Iterator[Archive]:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    opened = Archive.open(settings)
    yield opened
    opened.engine.dispose()


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo pipeline output (seed 1), generated once per test session."""
    from skyarchive.demo import generate

    out = tmp_path_factory.mktemp("demo-output")
    summary = generate(out, seed=1, scale=1)
    return out, summary
