"""Shared fixtures: clean environment, SQLite and PostgreSQL catalogs, the demo pipeline output.

Tests that need a program or service (Chromium, PostgreSQL, Redis, ...) skip through
tests.tools, loaded here as a plugin: it lists those skips loudly and fails them under CI=true.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from skyarchive.archive import Archive
from skyarchive.ingest.run import ingest_paths
from tests.archives import ArchiveSnapshots, close_postgres_databases, postgres_databases

# imported by pytest (so their asserts are rewritten), not here
pytest_plugins = ["tests.tools", "tests.suite"]


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
    databases = postgres_databases()
    name = databases.create()
    try:
        yield databases.url(name)
    finally:
        databases.drop_later(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    close_postgres_databases()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    """Each test using this (or the fixtures below) runs once on SQLite, once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path, database_kind: str) -> str:
    """An empty catalogue database (not migrated), on each kind."""
    if database_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def archive_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveSnapshots]:
    """Archives built once per session and copied per test (tests/archives.py)."""
    snapshots = ArchiveSnapshots(tmp_path_factory.mktemp("snapshots"))
    yield snapshots
    snapshots.close()


def _nothing(archive: Archive) -> None:
    """An archive just migrated to the newest schema."""


@pytest.fixture
def archive(
    tmp_path: Path, database_kind: str, archive_snapshots: ArchiveSnapshots
) -> Iterator[Archive]:
    """An empty archive at the newest schema, of its own (home ``tmp_path/home``)."""
    with archive_snapshots.copy(
        "migrated", _nothing, kind=database_kind, folder=tmp_path
    ) as opened:
        yield opened


def ingest_demo(archive: Archive, source: Path) -> None:
    """What most tests start from: the demo pipeline output ingested, 12 months' EAP."""
    report = ingest_paths([source], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed


@pytest.fixture
def demo_archive_copy(
    tmp_path: Path, database_kind: str, archive_snapshots: ArchiveSnapshots, demo_output
) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    """An archive of its own holding the demo output (ingested once per session, copied)."""
    out, _summary = demo_output
    build = functools.partial(ingest_demo, source=Path(out))
    with archive_snapshots.copy("demo", build, kind=database_kind, folder=tmp_path) as opened:
        yield opened


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
