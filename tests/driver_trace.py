"""What psycopg really sends to PostgreSQL, read from libpq's own protocol trace.

:class:`DriverTrace` traces every pooled connection the given engines hand out while it is
open, one file per connection, and reads back the frontend's messages: the simple queries
(``BEGIN``, ``ROLLBACK``, ``COMMIT`` among them) and the statements parsed for execution.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

#: A frontend message carrying SQL: a simple ``Query``, or the ``Parse`` of a statement.
_SQL_MESSAGE = re.compile(r"\tF\t\d+\t(Query|Parse)\t(.*)$")
_TRANSACTION_COMMAND = re.compile(r'"(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b', re.IGNORECASE)


class DriverTrace:
    """libpq's trace of the connections ``engines`` hand out inside a ``with`` block."""

    def __init__(self, folder: Path, *engines: Engine) -> None:
        self._folder = folder
        self._engines = engines
        self._traced: dict[int, Any] = {}  # id of the psycopg connection -> its pgconn
        self._files: list[Path] = []

    def __enter__(self) -> DriverTrace:
        self._folder.mkdir(parents=True, exist_ok=True)
        for engine in self._engines:
            event.listen(engine, "checkout", self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        for engine in self._engines:
            event.remove(engine, "checkout", self._trace)
        for pgconn in self._traced.values():
            pgconn.untrace()  # flushes and closes the trace file
        self._traced.clear()

    def _trace(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if id(dbapi_connection) in self._traced:
            return
        path = self._folder / f"connection-{len(self._files)}.trace"
        self._files.append(path)
        with path.open("w") as trace_file:
            # libpq closes the descriptor it is given on untrace: a duplicate of its own
            dbapi_connection.pgconn.trace(os.dup(trace_file.fileno()))
        self._traced[id(dbapi_connection)] = dbapi_connection.pgconn

    def sql_sent(self) -> list[str]:
        """The frontend's SQL messages (type and quoted text), every connection's, in order."""
        sent = []
        for path in self._files:
            for line in path.read_text().splitlines():
                found = _SQL_MESSAGE.search(line)
                if found:
                    sent.append(f"{found[1]} {found[2]}")
        return sent

    def transaction_commands(self) -> list[str]:
        """The BEGIN, COMMIT and ROLLBACK commands sent (their first word), in order."""
        found = (_TRANSACTION_COMMAND.search(message) for message in self.sql_sent())
        return [command[1].upper() for command in found if command]
