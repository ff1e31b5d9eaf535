"""The catalogue's generation, learned by each process as it changes instead of read per request.

The answer cache (``api/answer_cache.py``) keeps an answer while the catalogue's
generation (:mod:`skyarchive.db.catalogue_generation`) is unchanged. Reading it on every
cached request cost a pool checkout and a primary-key read: on PostgreSQL a round trip, five
times the rest of a cached answer's work. A watch knows the generation without a query:

* **SQLite**: ``PRAGMA data_version`` on a connection of the watch's own changes whenever
  another connection (of any process) commits, and costs no I/O; the generation is read again
  only then. A write is seen by the very next request, as before.
* **PostgreSQL**: the transaction that bumps the generation also sends it on the channel
  :data:`CHANNEL` (``NOTIFY``, delivered as it commits); a thread per process listens and
  re-reads the generation every second as well (a lost notification then costs a second,
  not a stale cache; a connection dead without notice, about ten seconds). Between a
  commit in *another* process and the notification's arrival (a message on an open
  connection) a request may still be answered from the cache: the small stale window
  docs/deployment.md accepts. A write in this process is seen at once: its commit tells the
  watch what generation to wait for.

Where the watch cannot know (the listener is connecting or lost its connection, a write of
this process has not been heard of yet, the database is in memory) it answers None, and the
request reads the generation itself, as without a watch. ``answer_cache_notify = false``
(PgBouncer in transaction mode cannot ``LISTEN``) and a read replica (a standby applies a write
after the primary announced it) leave the watch off.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from skyarchive.db.catalogue_generation import CHANNEL, expect_local_bumps

log = logging.getLogger(__name__)

_READ = "SELECT generation FROM catalogue_generation WHERE id = 1"
#: How often the PostgreSQL listener reads the generation besides the notifications (seconds).
RECHECK_SECONDS = 1.0
#: The listener's ``application_name`` (``pg_stat_activity``): one connection per process.
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

    def generation(self) -> int | None:
        with self._lock:
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
        expect_local_bumps(self)

    def generation(self) -> int | None:
        if self._pid != os.getpid():
            self._start()
        known = self._generation
        if known is None or known < self._awaited:
            return None
        return known

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
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._generation = None
        thread = threading.Thread(
            target=_listen, args=(weakref.ref(self), self._conninfo),
            name="skyarchive-generation-watch", daemon=True,
        )  # fmt: skip
        thread.start()


def _listen(watch_ref: weakref.ref[PostgresWatch], conninfo: str) -> None:
    """Listen for the generation while the watch lives; reconnect after a lost connection."""
    import psycopg

    pause = 0.5
    while watch_ref() is not None:
        try:
            with psycopg.connect(conninfo, autocommit=True, **_LISTENER_OPTIONS) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                while (watch := watch_ref()) is not None:
                    # After LISTEN, so no commit falls between the read and the first note.
                    row = conn.execute(_READ).fetchone()
                    watch._learn(None if row is None else int(row[0]), afresh=True)
                    del watch  # hold no reference while waiting
                    pause = 0.5
                    for note in conn.notifies(timeout=RECHECK_SECONDS):
                        if (watch := watch_ref()) is None:
                            return
                        watch._learn(int(note.payload))
                        del watch
        except Exception as exc:  # noqa: BLE001  (any failure: fall back, reconnect)
            log.warning("catalogue generation watch: %s; reading it per request meanwhile", exc)
        if (watch := watch_ref()) is not None:
            watch._learn(None)
            del watch
        threading.Event().wait(pause)
        pause = min(pause * 2, 30.0)
