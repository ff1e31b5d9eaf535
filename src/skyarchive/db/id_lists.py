"""A list of ids bound as one parameter: ``column IN <the list>`` with a statement of one shape.

An ``expanding`` IN list renders one placeholder per id at every execution: for a list of
1,000 obsids SQLAlchemy names and renders 1,000 parameters (a third of a product list's CPU
on SQLite) and the database parses a different statement for each length. Bound as one value
instead, the statement's text never changes: on SQLite the ids go as a JSON array read by
``json_each`` (searched in the index once per id, as an IN list is), on PostgreSQL as a
``bigint[]`` compared with ``= ANY``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeDecorator


class _IdsAsJson(TypeDecorator[Sequence[int]]):
    """The ids as the JSON array ``json_each`` reads (SQLite)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[int] | None, dialect: Any) -> str | None:
        return None if value is None else json.dumps([int(i) for i in value])


def in_ids(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN`` the ids bound, at execution, to the parameter ``name`` (a list of ints);
    ``dialect``: the name of the database's dialect (``sqlite``, ``postgresql``)."""
    if dialect == "postgresql":
        return column == any_(cast(bindparam(name), ARRAY(BigInteger)))
    ids = func.json_each(bindparam(name, type_=_IdsAsJson())).table_valued("value")
    return column.in_(select(ids.c.value).scalar_subquery())
