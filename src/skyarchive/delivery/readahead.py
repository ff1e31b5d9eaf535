"""Read the next chunk of a delivery while the current one is being sent.

A synchronous stream handed to the HTTP server alternates: read a chunk (in a worker thread),
then send it, then read the next. When the files come from disk rather than the page cache,
the disk waits while the socket is busy and the socket waits while the disk is busy. Here the
read of chunk *n + 1* starts before chunk *n* is handed on, so both run at once; at most two
chunks are held, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import cast

from skyarchive.errors import StreamInterrupted

log = logging.getLogger("skyarchive.delivery")
_END = object()


async def read_ahead(chunks: Iterable[bytes], *, name: str = "download") -> AsyncIterator[bytes]:
    """``chunks`` as an async stream whose next chunk is always being read in advance.

    A stream stopped before its end (the client went away) is logged as one line naming
    ``name`` and the bytes sent; its source is closed once the read in flight is over. A read
    that fails (the object store went away, a file vanished) is logged as one line too, and
    ends the stream with :class:`StreamInterrupted`: the HTTP layer then drops the connection
    without logging it again, so the client sees a short download, never a complete-looking
    one.
    """
    iterator = iter(chunks)
    busy = threading.Lock()  # held while a thread reads: closing waits for it

    def read() -> object:
        with busy:
            return next(iterator, _END)

    loop = asyncio.get_running_loop()
    pending: asyncio.Future[object] | None = loop.run_in_executor(None, read)
    sent = 0
    try:
        while pending is not None:
            try:
                chunk = await pending
            except Exception as exc:  # the store failed mid-way: the status was sent already
                pending = None
                reason = " ".join(str(exc).split()) or type(exc).__name__
                log.error("%s failed after %d bytes: %s", name, sent, reason)
                raise StreamInterrupted(f"{name} failed after {sent} bytes: {reason}") from exc
            if chunk is _END:
                pending = None
                break
            pending = loop.run_in_executor(None, read)
            yield cast(bytes, chunk)
            sent += len(cast(bytes, chunk))
    finally:
        if pending is not None:
            failed = pending.done() and not pending.cancelled() and pending.exception()
            if not failed:  # a failed read in flight is the client's loss, not worth a line
                log.info("%s stopped after %d bytes: the client went away", name, sent)
            pending.add_done_callback(_retrieve)
            threading.Thread(target=_close, args=(iterator, busy), daemon=True).start()


def _retrieve(done: asyncio.Future[object]) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: a failed read in flight is not worth a warning


def _close(iterator: Iterator[bytes], busy: threading.Lock) -> None:
    """Close the source after the read in flight (if any) is over; never while it runs."""
    close = getattr(iterator, "close", None)
    if close is not None:
        with busy:
            close()
