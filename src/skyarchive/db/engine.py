"""Engine creation and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import math
import select
import sqlite3
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError

from skyarchive import loop_budget
from skyarchive.db.catalogue_generation import watch_catalogue_writes

if TYPE_CHECKING:
    from alembic.config import Config

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


#: Connections a pool keeps open, and how many more it opens (and closes again) under load. The
#: same for both databases: SQLAlchemy's default for SQLite (5) is below a server's concurrency
#: (16 connections under wrk, anyio's 40 worker threads), and each connection opened above it
#: costs a connect and four PRAGMAs and is closed on its return, per request
#: (docs/performance.md).
POOL_SIZE, POOL_OVERFLOW = 20, 10


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings skyarchive relies on: the engine that
    writes (and reads) the catalogue, each of its catalogue writes moving the generation on."""
    engine = _pooled(url)
    watch_catalogue_writes(engine)  # answers kept by any process learn of every write
    return engine


def make_loop_engine(url: str, *, statement_ms: float = 0.0) -> Engine:
    """An engine that only reads, for the event loop's own thread (``Archive.loop_read_engine``,
    ``Archive.loop_search_engine``).

    It listens to no statement of its own: reading only, it needs no catalogue-write watch,
    and any engine-level listener sends every connection's check-out and return through
    SQLAlchemy's event dispatch (a connection taken and given back cost 21 µs instead of 10
    here; a count searched in process on it saves 7 of its 122 µs). On SQLite its
    connections refuse writes (``PRAGMA query_only``), and a statement run under a loop
    budget is stopped once it is spent (:mod:`skyarchive.loop_budget`): SQLite's progress
    handler stops one under way, and :class:`_StoppableConnection`'s cursors begin none
    after. SQLite calls a progress handler with the GIL, which a statement otherwise lets go
    of: on a worker thread's connections each call would wait for the loop to let it go, so
    only this engine has one.

    On PostgreSQL, with ``statement_ms``, the database stops any of its statements that runs
    longer (``statement_timeout``, in whole milliseconds, asked for as each connection starts),
    and its cursors tell the loop budget of it and begin none once it is spent
    (``db/stoppable_postgres.py``): the loop waits for each statement of a search tried on it,
    and waits no longer than that. A connection the setting did not reach (a connection pooler
    that drops it) is refused as it is made.
    """
    if url.startswith("sqlite"):
        engine = _pooled(url, sqlite_connection=_StoppableConnection)
        event.listen(engine, "connect", _reading_within_budget)
        return engine
    if statement_ms <= 0:
        return _pooled(url)
    from skyarchive.db import stoppable_postgres  # psycopg, on PostgreSQL only

    milliseconds = math.ceil(statement_ms)
    engine = _pooled(url, postgres_connect_args=stoppable_postgres.connect_args(url, milliseconds))
    event.listen(engine, "connect", stoppable_postgres.unbounded_while_set_up, insert=True)
    event.listen(engine, "connect", partial(stoppable_postgres.check_timeout,
                                            milliseconds=milliseconds))  # fmt: skip
    return engine


def _pooled(
    url: str,
    *,
    sqlite_connection: type[sqlite3.Connection] = sqlite3.Connection,
    postgres_connect_args: dict[str, Any] | None = None,
) -> Engine:
    """An engine for ``url`` with its pool: on SQLite, connections of ``sqlite_connection``
    shared by threads (each used by one at a time, as the pool hands them out) and set up
    by :func:`_sqlite_pragmas`; on PostgreSQL, made with ``postgres_connect_args`` and pinged
    when idle (:func:`ping_when_idle`)."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                               connect_args=postgres_connect_args or {})  # fmt: skip
        ping_when_idle(engine)
        return engine
    database = make_url(url).database
    in_memory = not database or database == ":memory:" or "mode=memory" in url
    pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    connecting = {"check_same_thread": False, "factory": sqlite_connection}
    engine = create_engine(url, connect_args=connecting, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _reading_within_budget(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.execute("PRAGMA query_only=ON")
    dbapi_connection.set_progress_handler(loop_budget.sqlite_progress, loop_budget.SQLITE_STEPS)


class _StoppableConnection(sqlite3.Connection):
    """A SQLite connection whose cursors begin no statement once a loop budget is spent."""

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _StoppableCursor)


class _StoppableCursor(sqlite3.Cursor):
    """Work of many short statements (a portal search's page, then its facets) is stopped
    between them: most are too short for the progress handler ever to be called. A statement
    not begun fails as one the progress handler stopped (``OperationalError: interrupted``,
    the budget marked): a database error, so SQLAlchemy keeps the connection (an exit
    exception inside its guard would be taken for a lost connection)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        if loop_budget.statement_refused():
            raise sqlite3.OperationalError("interrupted")
        return super().execute(sql, parameters)


def ping_when_idle(engine: Engine, idle_seconds: float | None = None) -> None:
    """Ping a pooled connection before handing it out only when it sat idle > ``idle_seconds``
    (None: :data:`IDLE_PING_SECONDS` as it is at each check-out), and replace one the database
    has closed, whenever.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per request, as much
    as the primary-key read behind a cached answer. A connection checked in less than a second
    ago is taken as alive unless the database has closed it: when PostgreSQL restarts, fails
    over, or ends a connection, it sends the connection a last message and closes its end, so
    an idle connection with something to read is one it has ended
    (:func:`_ended_by_the_server`, a poll of its socket, ~2 µs). Each such connection would
    otherwise fail the request it was handed to. What no message tells of (a proxy or a
    firewall dropping connections silently) is still met by one request per connection within
    the second, answered 503 (``api/errors.py``; docs/deployment.md, "PostgreSQL").
    """

    @event.listens_for(engine, "checkin")
    def note_checkin(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        if dbapi_connection is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy) -> None:  # type: ignore[no-untyped-def]
        checked_in = record.info.get(_CHECKED_IN)  # none on a fresh connection: alive
        if checked_in is None:
            return
        idle = IDLE_PING_SECONDS if idle_seconds is None else idle_seconds
        # The pool replaces a connection found dead and hands out a fresh one.
        check_alive(engine.dialect, dbapi_connection, idle=time.monotonic() - checked_in,
                    ping_after=idle)  # fmt: skip


def check_alive(dialect: Dialect, dbapi_connection: Any, *, idle: float, ping_after: float) -> None:
    """Raise :class:`DisconnectionError` for a connection, idle ``idle`` seconds, that the
    database has ended (:func:`_ended_by_the_server`) or, idle longer than ``ping_after``,
    that fails a ping as a lost connection does; any other error of the ping is raised."""
    if _ended_by_the_server(dbapi_connection):
        raise DisconnectionError("the database ended this connection")
    if idle <= ping_after:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, dbapi_connection, None):
            raise DisconnectionError(str(exc)) from exc
        raise


def _ended_by_the_server(dbapi_connection: Any) -> bool:
    """Whether an idle pooled connection has something to read: nothing is sent to a client
    between statements but the server's last words before it closes the connection (a
    notice of a changed setting would be read as such too, and cost a reconnect)."""
    try:
        socket = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001 (closed already, or a driver without one: the ping decides)
        return False
    poller = select.poll()
    poller.register(socket, select.POLLIN)
    return bool(poller.poll(0))


# Alembic is imported where a schema is upgraded or its revision read, not with this module:
# a server's worker processes open their archive without migrating, and importing Alembic
# took 0.75-0.9 s of each one's ~4.7 s start on a slow machine of the benchmark's kind.


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping every row."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
