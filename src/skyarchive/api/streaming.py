"""Streamed answers in chunks: each chunk of a synchronous stream costs the server a hop to a
worker thread, so small pieces (rows, script lines) are sent in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

CHUNK_BYTES = 256 * 1024


def chunked(pieces: Iterable[bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``pieces`` joined into chunks of about ``size`` bytes (the last one may be smaller)."""
    batch: list[bytes] = []
    length = 0
    for piece in pieces:
        batch.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(batch)
            batch, length = [], 0
    if batch:
        yield b"".join(batch)
