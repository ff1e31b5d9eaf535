"""The catalogue's generation, learned by each process as it changes instead of read per request.

The answer cache (``api/answer_cache.py``) keeps an answer while the catalogue's
generation (:mod:`skyarchive.db.catalogue_generation`) is unchanged. Reading it on every
cached request cost a pool checkout and a primary-key read: on PostgreSQL a round trip, five
times the rest of a cached answer's work. A watch knows the generation without a query:

* **SQLite**: ``PRAGMA data_version`` on a connection of the watch's own changes whenever
  another connection (of any process) commits, and costs no I/O; the generation is read again
  only then. A write is seen by the very next request, as before.
* **PostgreSQL**: the transaction that bumps the generation also sends it on the channel
  :data:`CHANNEL` (``NOTIFY``, delivered as it commits); a thread per watch listens and
  re-reads the generation every second as well (a lost notification then costs a second,
  not a stale cache; a connection dead without notice, about ten seconds). Between a
  commit in *another* process and the notification's arrival (a message on an open
  connection) a request may still be answered from the cache: the small stale window
  docs/deployment.md accepts. A write in this process is seen at once: its commit tells the
  watch what generation to wait for.

A process keeps one watch per archive (``Archive.generation_watch``), shared by the answer
caches of every app over it and by its target names (``sky/targets.py``, which re-reads the
names as soon as the watch tells of a newer generation): on PostgreSQL one listening
connection per process. :meth:`~GenerationWatch.close` (``Archive.close``) stops it: the
listener is woken at once and its connection closed.

Where the watch cannot know (the listener is connecting or lost its connection, a write of
this process has not been heard of yet, the database is in memory, the watch is closed) it
answers None, and the request reads the generation itself, as without a watch.
``answer_cache_notify = false`` (PgBouncer in transaction mode cannot ``LISTEN``) and a read
replica (a standby applies a write after the primary announced it) leave the watch off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import sqlite3
import threading
import time
import weakref
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from skyarchive.db.catalogue_generation import CHANNEL, expect_local_bumps

log = logging.getLogger(__name__)

_READ = "SELECT generation FROM catalogue_generation WHERE id = 1"
#: How often the PostgreSQL listener reads the generation besides the notifications (seconds).
RECHECK_SECONDS = 1.0
#: The listener's ``application_name`` (``pg_stat_activity``): one connection per watch, so
#: one per process serving an archive (``Archive.generation_watch``).
APPLICATION = "skyarchive generation watch"
#: A connection that dies without notice (a network cut) is given up within about 10 s, not
#: the kernel's 15 minutes: meanwhile the watch would still vouch for the old generation.
_LISTENER_OPTIONS: dict[str, Any] = {
    "application_name": APPLICATION,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 10_000,
}


class GenerationWatch(Protocol):
    def generation(self) -> int | None:
        """The catalogue's generation as last learned, or None: read it yourself."""

    def close(self) -> None:
        """Stop watching (let go of the connection; end the listener): from now on the
        generation is None. Never blocks on the database."""


def watch_generation(url: str) -> GenerationWatch | None:
    """A watch over the catalogue at ``url``; None where none can work (an in-memory SQLite
    database, an unknown dialect)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or parsed.query.get("uri"):
            return None
        return SqliteWatch(database)
    if backend == "postgresql":
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresWatch(conninfo)
    return None


class SqliteWatch:
    """``PRAGMA data_version`` on a connection of its own; the generation re-read on change."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._version: int | None = None
        self._generation: int | None = None
        self._closed = False

    def generation(self) -> int | None:
        with self._lock:
            if self._closed:
                return None
            try:
                conn = self._connection()
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != self._version or self._generation is None:
                    # The version first: a commit between the two reads changes it again.
                    self._version = version
                    row = conn.execute(_READ).fetchone()
                    self._generation = None if row is None else int(row[0])
                return self._generation
            except sqlite3.Error:  # e.g. before schema 0038: no generation to watch
                self._forget()
                return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._forget()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # not a parent's, after a fork
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._pid = os.getpid()
            self._version = self._generation = None
        return self._conn

    def _forget(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
        self._version = self._generation = None


class PostgresWatch:
    """The generation as notified on :data:`CHANNEL`, heard by a thread of this process."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._generation: int | None = None  # None: not listening (yet), read it
        self._awaited = 0  # a generation this process committed, maybe not heard of yet
        self._lock = threading.Lock()
        self._pid = 0
        self._closed = False
        self._listener: _Listener | None = None  # this process's (after a fork: the child's)
        expect_local_bumps(self)

    def generation(self) -> int | None:
        if self._pid != os.getpid():
            self._start()
        known = self._generation
        if known is None or known < self._awaited or self._closed:
            return None
        return known

    def close(self) -> None:
        """End the listener and its connection: it is woken at once, and waited for up to
        :data:`CLOSE_WAIT_SECONDS` (in the middle of connecting it ends later, by itself)."""
        with self._lock:
            self._closed = True
            self._generation = None
            listener, self._listener = self._listener, None
        if listener is not None and self._pid == os.getpid():
            listener.stop(CLOSE_WAIT_SECONDS)

    def expect(self, generation: int) -> None:
        """A transaction of this process is committing ``generation``: until it is heard of,
        requests read the generation themselves (so they see the write at once)."""
        with self._lock:
            self._awaited = max(self._awaited, generation)

    def _learn(self, generation: int | None, *, afresh: bool = False) -> None:
        with self._lock:
            if generation is None or afresh or self._generation is None:
                self._generation = generation
            else:
                self._generation = max(self._generation, generation)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or self._closed:
                return
            self._pid = os.getpid()
            self._generation = None
            self._listener = _Listener(weakref.ref(self), self._conninfo)


#: How long :meth:`PostgresWatch.close` waits for its listener to end (seconds).
CLOSE_WAIT_SECONDS = 2.0


class _Listener:
    """The thread that listens for a :class:`PostgresWatch`, while the watch lives and until
    :meth:`stop`. It waits on its connection and on a socket of its own, which :meth:`stop`
    makes readable, so that it ends at once rather than at its next recheck."""

    def __init__(self, watch_ref: weakref.ref[PostgresWatch], conninfo: str) -> None:
        self._watch_ref = watch_ref
        self._conninfo = conninfo
        self._stopped = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread = threading.Thread(
            target=self._run, name="skyarchive-generation-watch", daemon=True
        )
        self._thread.start()

    def stop(self, wait: float) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):  # the thread has ended and closed its end
            self._wake_writer.send(b"!")
        self._thread.join(wait)
        self._wake_writer.close()

    def _watching(self) -> PostgresWatch | None:
        return None if self._stopped.is_set() else self._watch_ref()

    def _run(self) -> None:
        try:
            self._listen()
        finally:
            self._wake_reader.close()

    def _listen(self) -> None:
        """Listen; reconnect after a lost connection."""
        import psycopg

        pause = 0.5
        while self._watching() is not None:
            try:
                with psycopg.connect(self._conninfo, autocommit=True, **_LISTENER_OPTIONS) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while (watch := self._watching()) is not None:
                        # After LISTEN, so no commit falls between the read and the first note.
                        row = conn.execute(_READ).fetchone()
                        watch._learn(None if row is None else int(row[0]), afresh=True)
                        del watch  # hold no reference while waiting
                        pause = 0.5
                        if not self._hear(conn, time.monotonic() + RECHECK_SECONDS):
                            return
            except Exception as exc:  # noqa: BLE001  (any failure: fall back, reconnect)
                if self._stopped.is_set():
                    return  # stopped: its database may be gone (dropped) on purpose
                log.warning("catalogue generation watch: %s; reading it per request meanwhile", exc)
            if (watch := self._watching()) is not None:
                watch._learn(None)
                del watch
            self._stopped.wait(pause)
            pause = min(pause * 2, 30.0)

    def _hear(self, conn: Any, until: float) -> bool:
        """Pass on the notifications ``conn`` receives until ``until`` (monotonic); False
        once the watch is gone or stopped."""
        while True:
            # Those that came with the last statement's answer first, then any arrived since
            # (a timeout of 0 reads what is there, and waits for nothing).
            for note in conn.notifies(timeout=0):
                if (watch := self._watching()) is None:
                    return False
                watch._learn(int(note.payload))
                del watch
            remaining = until - time.monotonic()
            if remaining <= 0:
                return self._watching() is not None
            ready, _, _ = select.select([conn.fileno(), self._wake_reader], [], [], remaining)
            if self._watching() is None:
                return False
            if self._wake_reader in ready:  # woken, yet not stopped: nothing to do but read
                self._wake_reader.recv(64)
