"""Request bodies read with a bound, so a huge upload is refused as it arrives, and the one
field of a url-encoded form read without the general form parser."""

from __future__ import annotations

import binascii
import re
from urllib.parse import parse_qs

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


#: A ``%`` not followed by two hex digits (kept as it is by url-decoding).
_LONE_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def form_field(body: bytes, name: str) -> str | None:
    """The first value of field ``name`` of the url-encoded form ``body`` (None when absent or
    empty), as :func:`urllib.parse.parse_qs` reads it.

    astroquery posts one field, ``request=`` and its JSON percent-encoded: a hundred escapes,
    which ``parse_qs`` decodes one by one in Python (~18 us a request, a tenth of what the
    framework costs to answer it). Such a body is decoded in C instead: a percent-escape
    ``%XX`` is quoted-printable's ``=XX``, which :func:`binascii.a2b_qp` decodes. Only a body
    where the two read alike takes that path: ASCII, the one field, no ``=`` of its own and no
    ``%`` without its two hex digits (so every ``=`` the decoder sees begins an escape, never
    a soft line break); any other goes to ``parse_qs``.
    """
    prefix = name.encode("ascii") + b"="
    if body.startswith(prefix) and body.isascii():
        value = body[len(prefix) :]
        if (
            value
            and b"&" not in value
            and b"=" not in value
            and _LONE_PERCENT.search(value) is None
        ):
            decoded = binascii.a2b_qp(value.replace(b"+", b" ").replace(b"%", b"="))
            return decoded.decode("utf-8", "replace")
    return parse_qs(body.decode("utf-8", "replace")).get(name, [None])[0]
