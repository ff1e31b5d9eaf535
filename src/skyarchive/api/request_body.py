"""Request bodies read with a bound, so a huge upload is refused as it arrives."""

from __future__ import annotations

from fastapi import Request

from skyarchive.errors import PayloadTooLarge


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, refused with :class:`PayloadTooLarge` as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; at most {limit} are read.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"The request body is over {limit} bytes; at most {limit} are read."
            )
        chunks.append(chunk)
    return b"".join(chunks)
