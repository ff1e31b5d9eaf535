"""Engine creation and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

from skyarchive import loop_budget
from skyarchive.db.catalogue_generation import watch_catalogue_writes

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0
_CHECKED_IN = "skyarchive_checked_in_at"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets the server read while an ingest writes; NORMAL sync is safe with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _stopped_past_budget(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.set_progress_handler(loop_budget.sqlite_progress, loop_budget.SQLITE_STEPS)


def _not_begun_past_budget(*_execution) -> None:  # type: ignore[no-untyped-def]
    # Work of many short statements (a portal search's page, then its facets) is stopped
    # between them: most are too short for the progress handler ever to be called. Raised
    # here, before SQLAlchemy's guard around the statement, OverBudget leaves the connection
    # valid (an exit exception inside it would be taken for a lost connection).
    loop_budget.check()


#: Connections a pool keeps open, and how many more it opens (and closes again) under load. The
#: same for both databases: SQLAlchemy's default for SQLite (5) is below a server's concurrency
#: (16 connections under wrk, anyio's 40 worker threads), and each connection opened above it
#: costs a connect and four PRAGMAs and is closed on its return, per request
#: (docs/performance.md).
POOL_SIZE, POOL_OVERFLOW = 20, 10


def make_engine(url: str, *, stoppable: bool = False) -> Engine:
    """Create an engine for ``url`` with the settings skyarchive relies on.

    ``stoppable``: on SQLite, a statement run under a loop budget is stopped once it is spent
    (:mod:`skyarchive.loop_budget`), and none begins after: for the event loop's own engine
    alone. SQLite calls the progress handler with the GIL, which a statement otherwise lets
    go of while it runs: on a worker thread's connections each call would wait for the loop
    to let the GIL go.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        in_memory = not database or database == ":memory:" or "mode=memory" in url
        pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        if stoppable:
            event.listen(engine, "connect", _stopped_past_budget)
            event.listen(engine, "before_cursor_execute", _not_begun_past_budget)
    else:
        engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        ping_when_idle(engine)
    watch_catalogue_writes(engine)  # answers kept by any process learn of every write
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a pooled connection before handing it out only when it sat idle > ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per request, as much
    as the primary-key read behind a cached answer. A connection checked in less than a second
    ago is taken as alive. The price: when PostgreSQL restarts (or a proxy drops connections)
    within that second, each such connection fails one request, after which SQLAlchemy,
    seeing the disconnect, empties the pool (docs/deployment.md, "PostgreSQL").
    """

    @event.listens_for(engine, "checkin")
    def note_checkin(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        if dbapi_connection is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy) -> None:  # type: ignore[no-untyped-def]
        checked_in = record.info.get(_CHECKED_IN)  # none on a fresh connection: alive
        if checked_in is None or time.monotonic() - checked_in <= idle_seconds:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # The pool replaces the connection and hands out a fresh one.
                raise DisconnectionError(str(exc)) from exc
            raise


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping every row."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
