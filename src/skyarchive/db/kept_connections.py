"""A connection of an engine kept by each thread that searches on it, from one search to the next.

Taking a pooled connection and giving it back costs more than a short search's statements: on
PostgreSQL a count on a search thread spent about 50 µs of its 320 µs in process on it (the
connection object, the pool's check-out and check-in listeners, the autocommit set on the
way out and reset on the way back, the rollback that resets it: docs/performance.md, issue
20's twenty-eighth pass); on SQLite the event loop's searches spent 30 µs of a count's 122
(the twenty-fourth pass). A thread that runs one search at a time keeps its connection
instead: the event loop's thread, each of the search threads.

What the pool checks as it hands a connection out is checked here as it is lent: one the
database has ended (a restart, a failover) or that fails a ping after sitting idle is put
aside and another taken from the pool, so no search is handed a dead connection. A search
that fails gives its connection up (whatever state the error left it in is not the next
search's), and one that holds it past its return (a streamed answer) takes it over: who
lends and takes back is ``api/search_threads.py``. Idle, a kept connection holds no snapshot:
each is given back with any transaction a statement began ended (pysqlite begins none for a
read; PostgreSQL's searches run in autocommit, but for a stream's server-side cursor).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from skyarchive.db.engine import IDLE_PING_SECONDS, check_alive


class KeptConnections:
    """One connection of ``engine`` per thread that asks (:meth:`lend`), kept open between its
    searches, until :meth:`close`. A thread uses its connection for one search at a time; a
    connection lent and never given back (a search took it over, to close it itself) is
    simply not lent again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        # thread ident -> its connection, while kept (not lent), and since when it is idle
        self._kept: dict[int, tuple[Connection, float]] = {}
        self._round = 0  # moved on by close(): a connection lent before is closed when back
        self._lent_in = threading.local()  # the round the thread's connection was lent in
        self._isolation_level = engine.get_execution_options().get("isolation_level")
        # SQLite has no server to end a connection, nor a network to lose it on.
        self._checked = engine.dialect.name != "sqlite"

    def lend(self) -> Connection:
        """The calling thread's connection, alive as far as can be told; to be handed back with
        :meth:`give_back` (or :meth:`give_up`) before the thread lends it again."""
        with self._lock:
            kept = self._kept.pop(threading.get_ident(), None)
            self._lent_in.round = self._round
        if kept is not None:
            conn, since = kept
            if not conn.invalidated and self._alive(conn, since):
                return conn
            conn.close()
        return self.engine.connect()

    def give_back(self, conn: Connection) -> None:
        """Keep ``conn`` for the thread's next search: any transaction a statement began is
        ended. It is closed instead when :meth:`close` was called meanwhile, and when the
        search changed its isolation level (``db/streaming.stream_rows`` takes a search's
        connection out of autocommit on PostgreSQL; the pool puts it back)."""
        if conn.get_execution_options().get("isolation_level") != self._isolation_level:
            conn.close()
            return
        if conn.in_transaction():
            try:
                conn.rollback()
            except SQLAlchemyError:  # lost meanwhile: the search's answer is whole, still
                conn.close()
                return
        with self._lock:
            if self._lent_in.round == self._round and not conn.closed:
                self._kept[threading.get_ident()] = (conn, time.monotonic())
                return
        conn.close()

    def give_up(self, conn: Connection) -> None:
        """Close ``conn`` (back to its pool, or thrown away if it was lost): the thread's next
        search takes another."""
        conn.close()

    def close(self) -> None:
        """Close every kept connection now (those lent out are closed as they come back); a
        thread that lends again later opens another. When an app stops, and the archive."""
        with self._lock:
            kept, self._kept = list(self._kept.values()), {}
            self._round += 1
        for conn, _since in kept:
            conn.close()

    def _alive(self, conn: Connection, since: float) -> bool:
        if not self._checked:
            return True
        try:
            check_alive(self.engine.dialect, conn.connection.dbapi_connection,
                        idle=time.monotonic() - since, ping_after=IDLE_PING_SECONDS)  # fmt: skip
        except DisconnectionError:
            conn.invalidate()
            return False
        return True
