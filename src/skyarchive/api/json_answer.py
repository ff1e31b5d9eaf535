"""JSON answers written by orjson, for endpoints whose answers are large (the portal's search).

A dict returned from a FastAPI route goes through ``jsonable_encoder``, which walks every value
in Python, and then ``json.dumps``: 3-5 ms of CPU for a 50-row page of the portal's grid, more
than finding the rows. orjson writes the same JSON in a hundredth of that. Return a
:class:`JsonAnswer` from the route instead of the dict (docs/performance.md, "Per-request
cost").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


class JsonAnswer(Response):
    """``content`` (dicts, lists, strings, numbers, None) as ``application/json``; a float
    that is not a number (NaN, infinity) is written as null, which JSON can carry."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_plain)


def _plain(value: object) -> object:
    """The JSON form of what orjson does not write itself (PostgreSQL's NUMERIC)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
