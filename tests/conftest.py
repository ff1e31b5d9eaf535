"""Shared fixtures: clean environment, SQLite and PostgreSQL catalogs, the demo pipeline output.

Tests that need a program or service (Chromium, PostgreSQL, Redis, ...) skip through
tests.tools, loaded here as a plugin: it lists those skips loudly and fails them under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from skyarchive.archive import Archive
from skyarchive.config import Settings

pytest_plugins = ["tests.tools"]  # imported by pytest (so its asserts are rewritten), not here


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's archive settings or proxies."""
    for name in list(os.environ):
        if name.startswith("SKYARCHIVE_") and name != "SKYARCHIVE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with scratch_postgres() as url:
        yield url


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh, empty PostgreSQL database while the block runs (skips without PostgreSQL)."""
    from tests.tools import postgres_admin_url, require_tool

    require_tool("postgresql")
    admin_url = postgres_admin_url()
    name = f"skyarchive_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
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


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real S3 server (SeaweedFS) for the session, with the AWS_* credentials set."""
    from skyarchive.storage.seaweed import (
        SeaweedS3,
        restore_credentials,
        set_credentials,
        weed_binary,
    )
    from tests.tools import require_tool

    require_tool("weed")
    binary = weed_binary()
    assert binary is not None
    before = set_credentials()
    server = SeaweedS3(binary, tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield server
    finally:
        server.stop()
        restore_credentials(before)
