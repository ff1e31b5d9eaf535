"""The catalogue's generation: one counter that every write to the catalogue bumps.

Answers kept by a server process (the MAST answer cache) are valid while the generation they
were computed at is still the catalogue's. The counter lives in the database
(``catalogue_generation``, schema 0038) and is bumped in the writing transaction itself, so it
changes for every process at the moment the rows do, and a rolled-back write leaves it alone.

Nothing has to remember to bump it: :func:`watch_catalogue_writes`, installed on every engine
by :func:`skyarchive.db.engine.make_engine`, sees each INSERT, UPDATE, DELETE or REPLACE on a
:data:`CATALOGUE_TABLES` table go by and bumps the counter once, as that transaction commits.
Writes that bypass SQLAlchemy (PostgreSQL ``COPY`` on the driver's cursor) call
:func:`mark_catalogue_written` themselves. On PostgreSQL the bump also announces the new
generation on :data:`CHANNEL` (delivered at commit), so processes learn of it without asking
(:mod:`skyarchive.db.generation_watch`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, event

#: The tables MAST search answers are read from (observations, their stored JSON rows, their
#: footprints, tokens, members, programs; products and their versions, links and keywords;
#: the stored counts, release buckets included, which the portal's search reads). Grants,
#: users and sessions are not among them: an answer that differs by caller (the portal's) is
#: kept per caller's scope.
CATALOGUE_TABLES = frozenset(
    {
        "programs",
        "observations",
        "observation_members",
        "observation_tokens",
        "footprint_cells",
        "footprint_vertices",
        "observation_json",
        "products",
        "product_versions",
        "observation_products",
        "product_keywords",
        "keyword_counts",
        "summary_observations",
        "summary_files",
        "summary_digest",
        "summary_facets",
        "summary_targets",
        "summary_releases",
        "summary_release_targets",
        "wss_products",
        "datasets",
        "dataset_observations",
    }
)

_WRITE = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)",
    re.IGNORECASE,
)
_WRITE_IN_CTE = re.compile(r"\b(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_READ = "SELECT generation FROM catalogue_generation WHERE id = 1"
_BUMP = "UPDATE catalogue_generation SET generation = generation + 1 WHERE id = 1"
#: The channel on which PostgreSQL announces each new generation as its transaction commits
#: (``db/generation_watch.py`` listens).
CHANNEL = "skyarchive_catalogue"
_BUMP_AND_NOTIFY = (
    "WITH bumped AS (UPDATE catalogue_generation SET generation = generation + 1 WHERE id = 1 "
    f"RETURNING generation) SELECT generation, pg_notify('{CHANNEL}', generation::text) "
    "FROM bumped"
)
#: Keys in the DBAPI connection's ``info``: the transaction under way wrote the catalogue;
#: the table exists (known once seen: it is only ever missing during the upgrade to 0038).
_WROTE = "catalogue_written"
_TABLE_SEEN = "catalogue_generation_table_seen"
_TABLE_QUERY = {
    "sqlite": "SELECT max(name) FROM sqlite_master WHERE name = 'catalogue_generation'",
    "postgresql": "SELECT to_regclass('catalogue_generation')",
}


def writes_catalogue(statement: str) -> bool:
    """Whether ``statement`` (SQL text) may change a catalogue table.

    A statement led by a WITH clause is taken to write when it holds a write at all: telling
    its target apart is not worth the risk of a stale answer.
    """
    head = statement[:8].lstrip().upper()
    if head.startswith("SELECT"):
        return False
    if head.startswith("WITH"):
        return _WRITE_IN_CTE.search(statement) is not None
    found = _WRITE.match(statement)
    return found is not None and found.group(1).lower() in CATALOGUE_TABLES


def read_generation(conn: Connection) -> int | None:
    """The catalogue's generation (None when its row is missing: nothing may be kept then).

    Read once per cached request, so as text: a built statement would cost SQLAlchemy a cache
    key on every execution, several times the primary-key read itself.
    """
    return conn.exec_driver_sql(_READ).scalar()  # type: ignore[no-any-return]


class CopiesRead:
    """The generations of the in-memory copies of the catalogue (the archive's target-name
    index, :mod:`skyarchive.sky.targets`) that one answer was computed from.

    Such a copy is read at a generation and replaced later, in the background: an answer
    built on one can be older than the rows it was searched among. Whoever reads a copy while
    :func:`noting_copies_read` is in effect notes its generation (:func:`note_copy_read`);
    the answer cache keeps an answer only if every copy it rests on is as new as the
    generation it would be kept under (``api/answer_cache.py``).

    ``under``: that generation, which the answer cache learned just before the answer began
    (None when unknown). What is kept per generation for the searches (whether a column holds
    multi-valued entries, :class:`~skyarchive.search.tokens.TokenAnswers`) is looked up under
    it (:func:`generation_computed_under`) instead of asking the catalogue's watch a second
    time: a second read of ``PRAGMA data_version`` cost an uncached search 24-29 µs on SQLite.
    """

    __slots__ = ("oldest", "unknown", "under")

    def __init__(self, under: int | None = None) -> None:
        self.oldest: int | None = None  # the oldest generation noted; None: nothing noted
        self.unknown = False  # a copy of unknown generation was read
        self.under = under

    def note(self, generation: int | None) -> None:
        if generation is None:
            self.unknown = True
        elif self.oldest is None or generation < self.oldest:
            self.oldest = generation

    def as_new_as(self, generation: int) -> bool:
        """Whether every copy read holds every write up to ``generation`` (true if none)."""
        return not self.unknown and (self.oldest is None or self.oldest >= generation)


_COPIES_READ: ContextVar[CopiesRead | None] = ContextVar("catalogue_copies_read", default=None)


@contextmanager
def noting_copies_read(record: CopiesRead) -> Iterator[CopiesRead]:
    """Note in ``record`` the copies read in this context (this thread's, or this task's)
    until the block ends."""
    token = _COPIES_READ.set(record)
    try:
        yield record
    finally:
        _COPIES_READ.reset(token)


def generation_computed_under() -> int | None:
    """The generation the answer being computed in this context is to be kept under (the
    answer cache's, learned before it began: :attr:`CopiesRead.under`); None when there is no
    such answer or it is unknown. Every row the answer is searched among is at least as new."""
    record = _COPIES_READ.get()
    return None if record is None else record.under


def note_copy_read(generation: int | None) -> None:
    """A copy of the catalogue read at ``generation`` (None: unknown) is being answered from;
    noted when some answer under way asked (:func:`noting_copies_read`), else a no-op."""
    record = _COPIES_READ.get()
    if record is not None:
        record.note(generation)


def mark_catalogue_written(conn: Connection) -> None:
    """Have ``conn``'s transaction bump the generation when it commits (for writes that
    bypass SQLAlchemy's statements, such as PostgreSQL ``COPY`` on the driver's cursor)."""
    conn.connection.info[_WROTE] = True


class _Watch(Protocol):
    def expect(self, generation: int) -> None: ...


_LOCAL_WATCHES: weakref.WeakSet[_Watch] = weakref.WeakSet()


def expect_local_bumps(watch: _Watch) -> None:
    """Tell ``watch`` the generation each transaction of this process commits (PostgreSQL),
    just before it commits: a watch learning of writes by notification sees this process's
    own writes at once."""
    _LOCAL_WATCHES.add(watch)


def forget_generation_table(conn: Connection) -> None:
    """Have ``conn`` look for the generation's table again at its next bump: a migration
    (a downgrade below 0038 drops it, an upgrade creates it) changes what it remembered."""
    conn.connection.info.pop(_TABLE_SEEN, None)


def _bump(dbapi_connection: Any, info: dict, dialect: str) -> None:
    cursor = dbapi_connection.cursor()  # a cursor of its own: the write's may hold results
    try:
        if not info.get(_TABLE_SEEN):
            # Migrations before 0038 write catalogue rows before the table exists. A failed
            # UPDATE would end a PostgreSQL transaction, so the table is looked for first.
            cursor.execute(_TABLE_QUERY[dialect])
            if cursor.fetchone()[0] is None:
                return
            info[_TABLE_SEEN] = True
        if dialect != "postgresql":
            cursor.execute(_BUMP)
            return
        cursor.execute(_BUMP_AND_NOTIFY)
        row = cursor.fetchone()
        if row is not None:
            for watch in list(_LOCAL_WATCHES):
                watch.expect(int(row[0]))
    finally:
        cursor.close()


def watch_catalogue_writes(engine: Engine) -> None:
    """Bump the generation in each transaction that wrote a catalogue table, as it commits.

    Bumping just before the commit rather than at the first write keeps the row lock on the
    generation (PostgreSQL) for the commit alone, so parallel ingest transactions still
    overlap. A write in a savepoint rolled back leaves the mark: one bump too many only
    empties the caches once more.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def note_write(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        info = conn.connection.info
        if not info.get(_WROTE) and writes_catalogue(statement):
            info[_WROTE] = True

    @event.listens_for(engine, "commit")
    def bump_before_commit(conn) -> None:  # type: ignore[no-untyped-def]
        info = conn.connection.info
        if info.pop(_WROTE, False):
            _bump(conn.connection.dbapi_connection, info, conn.dialect.name)

    @event.listens_for(engine, "begin")
    @event.listens_for(engine, "rollback")
    def forget_writes(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.invalidated:
            # The connection was lost (its info goes with it); asking for it here would
            # raise PendingRollbackError over the original disconnect error.
            return
        conn.connection.info.pop(_WROTE, None)
