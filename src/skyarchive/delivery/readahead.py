"""Read the next chunk of a delivery while the current one is being sent.

A synchronous stream handed to the HTTP server alternates: read a chunk (in a worker thread),
then send it, then read the next. When the files come from disk rather than the page cache,
the disk waits while the socket is busy and the socket waits while the disk is busy. Here the
read of chunk *n + 1* starts before chunk *n* is handed on, so both run at once; at most two
chunks are held, so memory stays flat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator


async def read_ahead(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` as an async stream whose next chunk is always being read in advance."""
    iterator = iter(chunks)
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[bytes | None] = loop.run_in_executor(None, next, iterator, None)
    exhausted = False
    try:
        while (chunk := await pending) is not None:
            pending = loop.run_in_executor(None, next, iterator, None)
            yield chunk
        exhausted = True
    finally:
        if not exhausted:
            # Stopped early (client gone, error): close the source once the read in flight
            # is over, so its files are released without racing that read.
            pending.add_done_callback(lambda done: _close(iterator, done))


def _close(iterator: Iterator[bytes], done: asyncio.Future[bytes | None]) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: a failed read in flight is not worth a warning
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
