"""The archive as one object: settings, catalog engine and storage, opened once per process."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from skyarchive.config import Settings
from skyarchive.db.catalogue_generation import mark_catalogue_written, read_generation
from skyarchive.db.engine import current_revision, make_engine, make_loop_engine, upgrade
from skyarchive.db.kept_connections import KeptConnections
from skyarchive.errors import BadQuery
from skyarchive.search.tokens import ANSWERS_OPTION, TokenAnswers
from skyarchive.storage import Storage, open_storage, storage_at

if TYPE_CHECKING:
    from skyarchive.db.generation_watch import GenerationWatch
    from skyarchive.sky.resolver import OpenNgcResolver
    from skyarchive.sky.targets import ArchiveTargets
    from skyarchive.storage.base import StoredObject
    from skyarchive.storage.migrate import StorageMigration
    from skyarchive.storage.sweep import SweepReport

log = logging.getLogger(__name__)


@dataclass
class Archive:
    settings: Settings
    engine: Engine
    storage: Storage
    #: A read-only replica's engine (``database_read_url``), or None to read from ``engine``.
    replica: Engine | None = field(default=None, kw_only=True)
    # The generation watch (generation_watch()): made at first use, dropped by close().
    _watch: GenerationWatch | None = field(default=None, init=False, repr=False, compare=False)
    _watch_made: bool = field(default=False, init=False, repr=False, compare=False)
    _watch_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def read_engine(self) -> Engine:
        """The engine of searches: the replica when there is one. Searches tolerate a replica
        a moment behind; anything that writes, or decides who may read a file, uses
        :attr:`engine` (the primary), so a grant or a log-in takes effect at once."""
        return self.replica or self.engine

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Archive:
        """Open (and by default create or upgrade) the archive that ``settings`` describe."""
        settings.ensure_home()
        engine = make_engine(settings.resolved_database_url)
        if migrate:
            upgrade(engine)
        replica = make_engine(settings.database_read_url) if settings.database_read_url else None
        return cls(settings, engine, open_storage(settings), replica=replica)

    def generation_watch(self) -> GenerationWatch | None:
        """How this process learns of catalogue writes without a query
        (``db/generation_watch.py``): one watch per archive, made at the first call and shared
        by every answer cache of every app over it and by :attr:`target_names`, so a process
        holds one listening connection on PostgreSQL however many apps it builds. None where
        no watch may be used (``search/catalogue_epoch.generation_watch``: the setting
        ``answer_cache_notify`` off, a PostgreSQL read replica) and after :meth:`close`."""
        with self._watch_lock:
            if not self._watch_made:
                from skyarchive.search.catalogue_epoch import generation_watch

                self._watch = generation_watch(self.settings)
                self._watch_made = True
            return self._watch

    def close(self) -> None:
        """Let go of what the archive holds open: the generation watch is closed (on
        PostgreSQL its listener is woken and ends, with its connection) and not made again
        (whoever still holds it reads the generation per request from now on), and the
        engines' pooled connections are closed (an engine used again reconnects). Call it
        when done with the archive: before its database is dropped, say."""
        with self._watch_lock:
            watch, self._watch, self._watch_made = self._watch, None, True
        if watch is not None:
            watch.close()
        for kept in ("search_connections", "loop_connections"):  # made only if asked for
            connections = self.__dict__.get(kept)
            if connections is not None:
                connections.close()
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()
        for made in ("loop_read_engine", "loop_search_engine"):  # made only if asked for
            loop_engine = self.__dict__.get(made)
            if loop_engine is not None:
                loop_engine.dispose()

    @cached_property
    def target_names(self) -> ArchiveTargets:
        """The archive's own target names, the resolver's first: read on :attr:`search_engine`
        (at server start, :meth:`start_name_indexes`, else in the first lookup), refreshed
        in the background as soon as :meth:`generation_watch` tells of a catalogue write
        (without a watch, once a minute when the catalogue has changed)."""
        from skyarchive.sky.targets import ArchiveTargets

        return ArchiveTargets(self.search_engine, watch=self.generation_watch())

    @cached_property
    def resolver(self):  # type: ignore[no-untyped-def]
        """The name resolver: the archive's own target names (:attr:`target_names`), OpenNGC,
        opt-in Sesame."""
        from skyarchive.sky.targets import archive_resolver_chain

        return archive_resolver_chain(self.target_names, online=self.settings.online_resolver)

    def start_name_indexes(self) -> None:
        """Begin reading what names are looked up in, each in a thread of its own: the
        archive's target names (a GROUP BY over every observation, about a second at 10^6)
        and the OpenNGC catalogue (about 0.2 s). A server calls this as it starts, so that no
        request pays for the first reads; a request that comes sooner waits for them, and a
        failed read is left to the first lookup. Code that never resolves names (the CLI's
        ingest) never calls it."""
        import threading

        from skyarchive.sky.resolver import OpenNgcResolver

        self.target_names.start_loading()
        for resolver in self.resolver.resolvers:
            if isinstance(resolver, OpenNgcResolver):
                threading.Thread(target=_read_openngc, args=(resolver,), daemon=True,
                                 name="openngc-load").start()  # fmt: skip

    @cached_property
    def lookup_engine(self) -> Engine:
        """:attr:`engine` for the per-request look-ups of the hot paths (the caller of a token
        or session, a file's row for ``Download/file``): each is a single statement (or a
        statement and a rare one-row update), so on PostgreSQL it runs in autocommit, without
        the BEGIN and ROLLBACK/COMMIT round trips of a transaction; same pool as
        :attr:`engine`. SQLite has no such round trips: the engine itself."""
        return _autocommit(self.engine)

    @cached_property
    def search_engine(self) -> Engine:
        """:attr:`read_engine` for the short read-only searches of the faces (the MAST API's
        invoke services and MastMissions, the portal's searches, the VO's cone search and
        coverage): in autocommit on PostgreSQL, same pool, so a search sends its own
        statements only, without the BEGIN before the first and the ROLLBACK when the pool
        takes the connection back.

        Nothing is lost: at PostgreSQL's READ COMMITTED each statement of a transaction reads
        its own snapshot anyway (a count and its page never shared one). A page long enough
        to be streamed reads through a server-side cursor, which lives in a transaction only:
        ``db/streaming.stream_rows`` opens one for it. What writes, or needs a transaction
        for ``SET LOCAL`` (TAP's deadline) or a long stream (exports), keeps
        :attr:`read_engine` or :attr:`engine`."""
        return self._searching(_autocommit(self.read_engine))

    @cached_property
    def loop_read_engine(self) -> Engine:
        """An engine of the read database for the event loop's thread alone (the answer
        cache's look-ups, ``api/answer_cache.py``): it never waits for a connection held by a
        search in a worker thread, so the loop never stalls on the pool. Its look-ups are
        single reads: in autocommit on PostgreSQL, as :attr:`search_engine`. On SQLite the
        short searches tried on the loop run on it too (``api/search_threads.py``), and a
        statement is stopped once their budget is spent (:mod:`skyarchive.loop_budget`)."""
        return self._searching(_autocommit(make_loop_engine(self._read_url)))

    @cached_property
    def loop_search_engine(self) -> Engine:
        """The engine of the short searches tried on the event loop (``api/search_threads.py``):
        on SQLite :attr:`loop_read_engine` itself; on PostgreSQL one of its own (its own pool,
        in autocommit), whose statements the database stops once they run longer than the
        loop budget (:attr:`search_on_loop_ms`), as the loop waits for each. Not the answer
        cache's engine, whose look-ups run outside any budget and must not be stopped."""
        if self.engine.dialect.name == "sqlite":
            return self.loop_read_engine
        made = make_loop_engine(self._read_url, statement_ms=self.search_on_loop_ms)
        return self._searching(_autocommit(made))

    @property
    def search_on_loop_ms(self) -> float:
        """How long an uncached search may run on the event loop (``api/search_threads.py``):
        ``settings.search_on_loop_ms`` on SQLite, ``settings.postgres_search_on_loop_ms`` on
        PostgreSQL (0: always in a thread)."""
        if self.engine.dialect.name == "sqlite":
            return self.settings.search_on_loop_ms
        return self.settings.postgres_search_on_loop_ms

    @property
    def _read_url(self) -> str:
        return self.settings.database_read_url or self.settings.resolved_database_url

    @cached_property
    def search_connections(self) -> KeptConnections:
        """A connection of :attr:`search_engine` kept by each search thread from one search to
        the next (``db/kept_connections.py``: taken from the pool and given back per search, it
        cost a PostgreSQL count a sixth of its CPU)."""
        return KeptConnections(self.search_engine)

    @cached_property
    def loop_connections(self) -> KeptConnections:
        """The connection of :attr:`loop_search_engine` the event loop's thread keeps for the
        searches it tries (``api/search_threads.py``)."""
        return KeptConnections(self.loop_search_engine)

    def _searching(self, engine: Engine) -> Engine:
        """``engine`` (same pool) for the faces' searches: whether a column holds
        multi-valued entries is asked once per catalogue generation, shared by both search
        engines (:class:`~skyarchive.search.tokens.TokenAnswers`)."""
        return engine.execution_options(**{ANSWERS_OPTION: self._token_answers})

    @cached_property
    def _token_answers(self) -> TokenAnswers:
        return TokenAnswers(_watched_generation(self))

    def schema_revision(self) -> str | None:
        """The catalogue's schema revision (Alembic), as ``skyarchive migrate`` reports it."""
        return current_revision(self.engine)

    def note_catalogue_changed(self) -> int | None:
        """Move the catalogue's generation on as a write through skyarchive does, after its
        rows were edited past it (with ``sqlite3`` or ``psql``): every server process then
        answers from the rows as they are (its kept answers dropped, its target names read
        again). The new generation (None on a schema older than its table)."""
        with self.engine.begin() as conn:
            mark_catalogue_written(conn)
        with self.engine.connect() as conn:
            return read_generation(conn)

    def sweep_storage(
        self, *, older_than: float, dry_run: bool,
        on_orphan: Callable[[StoredObject], None] = lambda _found: None,
    ) -> SweepReport:  # fmt: skip
        """Remove (or list) stored product files no catalogue row names and older than
        ``older_than`` seconds: what an ingest killed between storing and cataloguing left."""
        from skyarchive.storage.sweep import sweep_orphans

        return sweep_orphans(self.engine, self.storage, older_than=older_than, dry_run=dry_run,
                             on_orphan=on_orphan)  # fmt: skip

    def storage_migration(self, to_url: str) -> StorageMigration:
        """The move of this archive's files to the storage at ``to_url`` (not yet run)."""
        from skyarchive.storage.migrate import StorageMigration

        target = storage_at(to_url, s3_endpoint_url=self.settings.s3_endpoint_url)
        if str(target) == str(self.storage):
            raise BadQuery(f"{to_url} is already this archive's storage.")
        return StorageMigration(self.engine, self.storage, target)


def _read_openngc(resolver: OpenNgcResolver) -> None:
    try:
        resolver.names()  # builds the process's index, which its lookups then share
    except Exception:  # e.g. pyongc not installed: the lookups will say so
        log.warning("Could not read the OpenNGC catalogue as the server started", exc_info=True)


def _watched_generation(archive: Archive) -> Callable[[], int | None]:
    """The catalogue's generation as ``archive``'s :meth:`~Archive.generation_watch` tells it
    without a query (None when there is no watch); the archive held weakly, as its engines
    hold what asks this."""
    held = weakref.ref(archive)

    def generation() -> int | None:
        found = held()
        watch = None if found is None else found.generation_watch()
        return None if watch is None else watch.generation()

    return generation


def _autocommit(engine: Engine) -> Engine:
    """``engine`` (same pool) running each statement in autocommit on PostgreSQL, so a read
    costs no BEGIN and ROLLBACK round trips; on SQLite the engine itself: pysqlite begins a
    transaction only before a write, and its rollback of a connection without one sends
    nothing to the database."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")
