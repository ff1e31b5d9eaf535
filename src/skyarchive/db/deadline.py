"""One connection's time limit for the statements it runs, on SQLite and PostgreSQL alike.

PostgreSQL has ``statement_timeout``. SQLite has none, so a watchdog thread calls the
connection's ``interrupt()`` when the time is up: the limit is the clock's, which another
thread can watch, and the statement pays nothing per step. A Python progress handler was
once suspected of segfaults in full test runs, later traced to astropy's C VOTable writer
(CHANGELOG); the event loop's budget, which counts the loop thread's own CPU time, does use
one, on the loop's engine alone (:mod:`skyarchive.loop_budget`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

#: How often a connection past its deadline is interrupted again (seconds).
REPEAT_SECONDS = 0.05


@contextlib.contextmanager
def statement_deadline(conn: Connection, seconds: float) -> Iterator[None]:
    """Stop what ``conn`` runs after ``seconds``; the transaction is rolled back on leaving.

    A stopped statement raises :class:`OperationalError`; :func:`timed_out` recognises it.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
        try:
            yield
        finally:
            conn.rollback()
        return
    watchdog = _Interrupter(conn.connection.driver_connection, seconds)
    try:
        yield
    finally:
        watchdog.stop()  # before the connection can serve anyone else
        conn.rollback()


def timed_out(exc: OperationalError) -> bool:
    """Whether a statement was stopped by :func:`statement_deadline`."""
    message = str(exc.orig).lower()
    return "interrupted" in message or "statement timeout" in message or "canceling" in message


class _Interrupter:
    """Interrupts one SQLite connection from the deadline on, until stopped.

    ``interrupt()`` stops only statements running at that moment, so after the deadline it
    is repeated every :data:`REPEAT_SECONDS`: a statement begun late is stopped too. The lock
    makes ``stop`` final: after it returns the connection, which is about to go back to the
    pool and run someone else's statements, is never interrupted again.
    """

    def __init__(self, raw: Any, seconds: float) -> None:
        self._raw = raw
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(seconds,), daemon=True)
        self._thread.start()

    def _watch(self, seconds: float) -> None:
        if self._stopped.wait(seconds):
            return
        while True:
            with self._lock:
                if self._stopped.is_set():
                    return
                self._raw.interrupt()
            if self._stopped.wait(REPEAT_SECONDS):
                return

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
