"""Archives built once per test session and copied for every test that asks for one.

Building an archive costs seconds: migrating an empty catalogue through every Alembic revision,
ingesting the demo output (about ten seconds). Copying a finished one costs a fraction of that:
SQLite copies its file (the backup API, so a write-ahead log is included), PostgreSQL creates
the new database with the finished one as its ``TEMPLATE``, and the home directory (the stored
files) is copied. Each test still gets an archive of its own that it may change freely; the
snapshot it was copied from is never handed out.

Use it through the fixtures of tests/conftest.py: ``archive`` (migrated, empty; SQLite and
PostgreSQL), ``demo_archive_copy`` (the demo output ingested), or for a variant of your own::

    @pytest.fixture
    def my_archive(archive_snapshots, database_kind, tmp_path):
        with archive_snapshots.copy("my-variant", build_my_variant, kind=database_kind,
                                    folder=tmp_path) as archive:
            yield archive

``build_my_variant(archive)`` runs once per session and database kind; give each distinct
build a distinct name.

PostgreSQL databases (copies and scratch databases alike) are dropped all together when the
session ends (:class:`PostgresDatabases`): a ``DROP DATABASE`` waits for the server to
checkpoint, and no test needs to wait for that. Databases a killed run left behind are dropped
by the next run.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from skyarchive.archive import Archive
from skyarchive.config import Settings

Build = Callable[[Archive], None]


_POSTGRES: PostgresDatabases | None = None

PREFIX = "skyarchive_test_"
# Names are PREFIX + owner + "_" + random part; names of the older form (one part) are left
# alone: a suite of an older checkout may be running them at this moment.
_NAME = re.compile(f"^{PREFIX}([0-9a-f]{{15}})_[0-9a-f]{{12}}$")
DROP_CONNECTIONS = 8


def postgres_databases() -> PostgresDatabases:
    """The test process's one :class:`PostgresDatabases` (skips the test without PostgreSQL)."""
    global _POSTGRES
    from tests.tools import postgres_admin_url, require_tool

    require_tool("postgresql")
    if _POSTGRES is None:
        _POSTGRES = PostgresDatabases(postgres_admin_url())
    return _POSTGRES


def close_postgres_databases() -> None:
    """At the session's end: drop every database still waiting (tests/conftest.py)."""
    global _POSTGRES
    if _POSTGRES is not None:
        _POSTGRES.close()
        _POSTGRES = None


def _owner_key(owner: str) -> int:
    """The advisory-lock key of an owner (15 hex digits: a positive bigint)."""
    return int(owner, 16)


class PostgresDatabases:
    """Creates databases on the test server; drops them all together at the session's end.

    One per test process (each pytest-xdist worker has its own). Every name carries the
    process's owner part, and the process holds a PostgreSQL advisory lock on it for as long
    as it lives (on a connection of its own). A process killed before its end leaves its
    databases behind, but its lock goes with its connection: the next process to start finds
    those databases, takes their owner's free lock and drops them with its own. Databases
    whose owner's lock is held belong to a suite running now (another checkout's, say) and
    are left alone.

    Drops wait until the end: each ``DROP DATABASE`` makes the server checkpoint, which
    one at a time under load took minutes after the last test; at the end they run on up to
    :data:`DROP_CONNECTIONS` connections at once, whose checkpoint requests the server
    serves together.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.owner = uuid.uuid4().hex[:15]
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._lock_conn = self._admin.connect()  # the owner lock lives as long as this
        self._lock_conn.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": _owner_key(self.owner)}
        )
        self._doomed: list[str] = []
        self._mutex = threading.Lock()
        self.orphans = self._claim_orphans()

    def url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def create(self, *, template: str | None = None) -> str:
        """A new database (empty, or a copy of ``template``); returns its name."""
        name = f"{PREFIX}{self.owner}_{uuid.uuid4().hex[:12]}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
        return name

    def drop_later(self, name: str) -> None:
        with self._mutex:
            self._doomed.append(name)

    def _claim_orphans(self) -> list[str]:
        """Databases of owners that are gone: their names, queued to drop with ours.

        Taking a dead owner's lock (and keeping it until the end) makes this process the one
        that drops them; a process that finds the lock taken leaves them alone.
        """
        names = self._lock_conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :like"),
            {"like": PREFIX.replace("_", "\\_") + "%"},
        ).scalars()
        by_owner: dict[str, list[str]] = {}
        for name in names:
            if (match := _NAME.match(name)) and match[1] != self.owner:
                by_owner.setdefault(match[1], []).append(name)
        orphans: list[str] = []
        for owner, owned in sorted(by_owner.items()):
            free = self._lock_conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _owner_key(owner)}
            ).scalar()
            if free:
                orphans.extend(owned)
        with self._mutex:
            self._doomed.extend(orphans)
        return orphans

    def _drop(self, name: str) -> None:
        try:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception:  # the server went away: nothing left to clean
            pass

    def close(self) -> None:
        """Drop every database made (and every orphan claimed), then let go of the locks."""
        with self._mutex:
            doomed, self._doomed = self._doomed, []
        if doomed:
            with ThreadPoolExecutor(min(DROP_CONNECTIONS, len(doomed))) as pool:
                list(pool.map(self._drop, doomed))
        self._lock_conn.close()
        self._admin.dispose()


@dataclass
class Snapshot:
    """A finished archive that is only ever copied."""

    home: Path
    database: str  # SQLite: the file; PostgreSQL: the template database's name


class ArchiveSnapshots:
    """Archives built once per session (per name and database kind), copied per test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._built: dict[tuple[str, str], Snapshot] = {}

    def _build(self, name: str, build: Build, kind: str) -> Snapshot:
        place = self.folder / f"{name}-{kind}"
        home = place / "home"
        if kind == "sqlite":
            database = str(place / "archive.db")
            url = f"sqlite:///{database}"
        else:
            database = postgres_databases().create()
            url = postgres_databases().url(database)
        archive = Archive.open(Settings(home=home, database_url=url))
        try:
            build(archive)
        finally:
            archive.close()  # a template database takes no copies while connected
        return Snapshot(home, database)

    @contextmanager
    def copy(
        self, name: str, build: Build, *, kind: str, folder: Path, **settings: object
    ) -> Iterator[Archive]:
        """A fresh archive in ``folder`` equal to what ``build`` made of an empty one.

        Its home is ``folder/home`` and, on SQLite, its catalogue ``folder/archive.db`` (what
        the ``archive`` fixture always had). ``settings`` are further Settings fields.
        """
        key = (name, kind)
        if key not in self._built:
            self._built[key] = self._build(name, build, kind)
        snapshot = self._built[key]
        home = folder / "home"
        shutil.copytree(snapshot.home, home)
        if kind == "sqlite":
            target = folder / "archive.db"
            with sqlite3.connect(snapshot.database) as source, sqlite3.connect(target) as copy:
                source.backup(copy)
            source.close()
            copy.close()
            url = f"sqlite:///{target}"
            database = None
        else:
            database = postgres_databases().create(template=snapshot.database)
            url = postgres_databases().url(database)
        archive = Archive.open(Settings(home=home, database_url=url, **settings))  # type: ignore[arg-type]
        try:
            yield archive
        finally:
            archive.close()  # its generation watch's listener too, before the drop
            if database is not None:
                postgres_databases().drop_later(database)

    def close(self) -> None:
        for (_name, kind), snapshot in self._built.items():
            if kind != "sqlite":
                postgres_databases().drop_later(snapshot.database)
