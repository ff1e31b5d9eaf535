"""Each request's CPU in the app itself, with no server: back to back, and with the core's
caches emptied between requests.

Served, an uncached search costs the server two to three times what the same request costs
the app run back to back in process, while the floor (the same answer with no work behind it)
costs about the same either way. The difference is not the HTTP server's, which the floor
pays too. Between two served requests the kernel's network code and uvicorn run, and the
next request finds the code and data it walks gone from the core's caches (docs/performance.md,
issue 20's twenty-second pass). This measures both cases in process, for the service and for its
floor, each request sent through the app's ASGI interface:

* **warm**: the same request back to back;
* **cold**: :data:`COLD_BYTES` of other memory walked between two requests, a cache line at a
  time. The walk's own time is measured apart and taken off.

A search whose own work (service less floor) grows much from warm to cold is paying for the
size of what it walks (objects, code), not for its statements. Its figures have to be judged
against the served ones, not against a profile of warm runs. The walk empties the caches of
the core it runs on: a search run on a search thread (every search on PostgreSQL, unless
``postgres_search_on_loop_ms`` is set; the long ones on SQLite) may run on another core, so its
cold figure is a lower bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.floor import Ask, Exchange, floor_app
from skyarchive.archive import Archive

#: Memory walked between two cold requests: twice the 2 MiB L2 cache of a core of the
#: benchmark machine, about what a served request's neighbours (the kernel's network code,
#: uvicorn) leave of it (the served figures match this within a tenth of a millisecond).
COLD_BYTES = 4 << 20
_LINE = 64  # bytes of a cache line: the walk touches each once
#: Process CPU time each round runs for; a figure is the least of :data:`ROUNDS` rounds.
ROUND_SECONDS = 0.3
ROUNDS = 3
WARM_UP = 30


def in_process_ms(
    archive: Archive, asks: Sequence[Ask], exchanges: Sequence[Exchange]
) -> dict[str, dict[str, float]]:
    """Per ask's label: ``service_warm``, ``service_cold``, ``floor_warm`` and ``floor_cold``,
    ms of the process's CPU a request (the app's, built by ``web.create_app`` over
    ``archive``, whose answer cache must be off; the floor's, replaying ``exchanges``)."""
    from skyarchive.web import create_app

    service, floor = create_app(archive), floor_app(archive, exchanges)
    walk = _cache_walk()
    walk_ms = asyncio.run(_least_seconds(_sync(walk), ROUND_SECONDS / 3)) * 1000  # taken off
    figures: dict[str, dict[str, float]] = {}
    for ask in asks:
        found: dict[str, float] = {}
        for name, app in (("service", service), ("floor", floor)):
            found[f"{name}_warm"] = asyncio.run(_cpu_ms(app, ask, between=None))
            found[f"{name}_cold"] = asyncio.run(_cpu_ms(app, ask, between=walk)) - walk_ms
        figures[ask.label] = {key: round(value, 3) for key, value in found.items()}
    return figures


def _cache_walk() -> Callable[[], None]:
    """A function that reads and writes every cache line of :data:`COLD_BYTES` of memory."""
    lines = np.zeros(COLD_BYTES // 8)
    step = _LINE // lines.itemsize

    def walk() -> None:
        lines[::step] += 1.0

    return walk


async def _cpu_ms(app: Any, ask: Ask, *, between: Callable[[], None] | None) -> float:
    """The process's CPU a request of ``ask`` costs ``app`` (ms), ``between()`` run after each
    request (its cost counted in)."""
    for _ in range(WARM_UP):
        await _send(app, ask)

    async def request() -> None:
        await _send(app, ask)
        if between is not None:
            between()

    return await _least_seconds(request, ROUND_SECONDS) * 1000


def _sync(call: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """``call`` as a step :func:`_least_seconds` awaits."""

    async def step() -> None:
        call()

    return step


async def _least_seconds(step: Callable[[], Awaitable[None]], seconds: float) -> float:
    """The least, over :data:`ROUNDS` rounds of ``seconds`` of the process's CPU time each,
    of what one ``await step()`` costs (CPU seconds)."""
    rounds = []
    for _ in range(ROUNDS):
        start, steps = time.process_time(), 0
        while time.process_time() - start < seconds:
            await step()
            steps += 1
        rounds.append((time.process_time() - start) / steps)
    return min(rounds)


async def _send(app: Any, ask: Ask) -> None:
    """``ask`` through ``app``'s ASGI interface, as uvicorn would hand it over; raises
    RuntimeError unless it is answered 200 (a figure of an error would measure nothing).
    Not through httpx's ASGI transport (``bare_sql.request_statements``): its client's work
    for each request would be counted in the process's CPU time with the app's."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": ask.method, "scheme": "http", "path": ask.path,
        "raw_path": ask.path.encode(), "query_string": ask.query, "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in ask.headers]
        + [(b"host", b"bench"), (b"content-length", str(len(ask.body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # the whole body was read: what follows is the client going away
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": ask.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"{ask.label}: HTTP {status} in process")
