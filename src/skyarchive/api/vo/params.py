"""DALI request parameters: names compare without case, values may repeat, GET or POST form.

DALI 1.1 makes parameter names case-insensitive (``ra`` is ``RA``) and lets a parameter be
given several times (DataLink's ``ID``). The VO adapters read them through :func:`dali_params`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

#: The most values one request may give in all: beyond it, a 400 rather than work.
MAX_VALUES = 1000


class DaliParams:
    """The request's parameters by upper-case name, each with its values in order."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name.upper(), []).append(value)

    def first(self, name: str) -> str | None:
        """The first value of ``name`` (any case), or None when it is not given."""
        values = self._values.get(name.upper())
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` (any case), in the order given."""
        return list(self._values.get(name.upper(), []))

    def items(self) -> list[tuple[str, str]]:
        """Every (upper-case name, value) pair, for a service that keeps them all (UWS)."""
        return [(name, value) for name, values in self._values.items() for value in values]


async def dali_params(request: Request) -> DaliParams:
    """The query string's parameters, and a POSTed form's after them.

    Raises
    ------
    BadQuery
        For more than :data:`MAX_VALUES` values in all.
    """
    from skyarchive.errors import BadQuery

    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=MAX_VALUES + 1)
        pairs += [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    if len(pairs) > MAX_VALUES:
        raise BadQuery(
            f"{len(pairs)} parameters are more than the {MAX_VALUES} a request may give."
        )
    return DaliParams(pairs)


def add_dali_route(
    router: APIRouter, path: str, endpoint: Callable[..., Any], *, summary: str, name: str
) -> None:
    """A DALI resource answers GET and POST alike; each method is its own OpenAPI operation,
    since OpenAPI wants one operation id per method (a shared one breaks ``/openapi.json``)."""
    for method in ("GET", "POST"):
        router.add_api_route(path, endpoint, methods=[method], summary=summary,
                             operation_id=f"{name}_{method.lower()}")  # fmt: skip
