"""The parameters of a VO request: DALI takes them from the query string or a form body
(``application/x-www-form-urlencoded`` or ``multipart/form-data``), names in any case."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


async def request_parameters(request: Request) -> list[tuple[str, str]]:
    """Every parameter of the request, query string first, then the form body."""
    given = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        given += [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return given


ParametersDep = Annotated[list[tuple[str, str]], Depends(request_parameters)]
