"""The statements a request runs, replayed on the bare database driver: the database's share.

The floor (:mod:`benchmarks.floor`) says what the framework costs to send an answer; this says
what the SQL behind it costs with nothing around it. Each request is made once in process
(the app of ``web.create_app``, answer cache off), after one request to warm it, with every
statement the engines send recorded as the driver received it (SQL text and converted
parameters). The recording is replayed on a pooled DB-API connection of the same engine (its
pragmas and registered functions included), every row fetched, many times over.

On SQLite the replay's time is the CPU the process spends in the statements, so
``floor CPU / (floor CPU + bare SQL)`` is the highest floor-to-service ratio of CPU per
request a server issuing exactly these statements could have, with nothing else to do: about
the best throughput ratio on an idle machine (a little more where the statements, which let go
of the GIL, run on the other core beside the event loop). On PostgreSQL part of the work is
the database server's, on the other core: a reference, not such a bound.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, event

from benchmarks.floor import Ask
from skyarchive.archive import Archive

Statement = tuple[str, Any]

_WRITES = ("insert", "update", "delete", "create", "drop", "alter")


@contextmanager
def _recorded() -> Iterator[list[tuple[Engine, str, Any]]]:
    """Every statement any engine sends inside the block, once (an engine made by
    ``execution_options`` reports to its parent's listeners: listening on both would hear
    each twice), with the engine that sent it."""
    statements: list[tuple[Engine, str, Any]] = []

    def heard(conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((conn.engine, sql, params))

    event.listen(Engine, "before_cursor_execute", heard)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", heard)


def request_statements(archive: Archive, ask: Ask) -> list[tuple[Engine, str, Any]]:
    """The statements ``ask`` runs on ``archive`` (the answer cache must be off), the second
    time it is asked: the first fills per-process caches that a served request finds full."""
    from skyarchive.web import create_app

    app = create_app(archive)

    async def send() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            answer = await client.request(
                ask.method, ask.target, content=ask.body, headers=dict(ask.headers)
            )
        if answer.status_code >= 400:
            raise RuntimeError(f"{ask.label}: HTTP {answer.status_code}")

    asyncio.run(send())
    with _recorded() as statements:
        asyncio.run(send())
    return [s for s in statements if not s[1].lstrip().lower().startswith(_WRITES)]


@dataclass(frozen=True)
class Replay:
    """Median milliseconds (wall clock, one at a time) of running every statement once, and
    the rows each statement fetched."""

    ms: float
    rows: tuple[int, ...]


def replay(statements: Sequence[tuple[Engine, str, Any]], *, seconds: float = 1.0) -> Replay:
    """``statements`` run on a bare driver connection of their engines, every row fetched,
    over and over for about ``seconds`` (at least five times)."""
    if not statements:
        return Replay(0.0, ())
    engines = list(dict.fromkeys(engine for engine, _, _ in statements))
    raw = {engine: engine.raw_connection() for engine in engines}
    try:
        for engine, connection in raw.items():
            _set_autocommit(engine, connection, True)  # as the searches run
        cursors = [(raw[engine].cursor(), sql, params) for engine, sql, params in statements]
        times: list[float] = []
        rows: list[int] = []
        until = time.perf_counter() + seconds
        while time.perf_counter() < until or len(times) < 5:
            rows.clear()
            start = time.perf_counter()
            for cursor, sql, params in cursors:
                cursor.execute(sql, params)
                rows.append(len(cursor.fetchall()) if cursor.description is not None else 0)
            times.append(time.perf_counter() - start)
        return Replay(round(statistics.median(times) * 1000, 3), tuple(rows))
    finally:
        for engine, connection in raw.items():
            _set_autocommit(engine, connection, False)  # as the pool hands it out
            connection.close()


def _set_autocommit(engine: Engine, connection: Any, on: bool) -> None:
    """psycopg's autocommit (PostgreSQL's searches run in it); SQLite has no round trips."""
    if engine.dialect.name == "postgresql":
        connection.driver_connection.autocommit = on


def bare_sql_ms(archive: Archive, asks: Sequence[Ask]) -> dict[str, float]:
    """Each ask's statements replayed on the bare driver, by label (ms, median)."""
    return {ask.label: replay(request_statements(archive, ask)).ms for ask in asks}
