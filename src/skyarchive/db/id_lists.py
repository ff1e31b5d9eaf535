"""A list of ids bound as one parameter: ``column IN <the list>`` with a statement of one shape.

An ``expanding`` IN list renders one placeholder per id at every execution: for a list of
1,000 obsids SQLAlchemy names and renders 1,000 parameters (a third of a product list's CPU
on SQLite) and the database parses a different statement for each length. Bound as one value
instead, the statement's text never changes: on SQLite the ids go as a JSON array read by
``json_each`` (searched in the index once per id, as an IN list is), on PostgreSQL as a
``bigint[]`` compared with ``= ANY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.types import TypeDecorator


class _IdsAsText(TypeDecorator[Sequence[int]]):
    """The ids as one text value: the JSON array ``json_each`` reads (SQLite), the array
    literal ``bigint[]`` is cast from (PostgreSQL; the driver's own list adaptation examines
    each element in Python: 2 ms for 1,000 ids)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[int] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        listed = ",".join(map(str, map(int, value)))
        return f"{{{listed}}}" if dialect.name == "postgresql" else f"[{listed}]"


def in_ids(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN`` the ids bound, at execution, to the parameter ``name`` (a list of ints);
    ``dialect``: the name of the database's dialect (``sqlite``, ``postgresql``)."""
    if dialect == "postgresql":
        # ARRAY(SELECT ...) is computed once (an InitPlan) and the planner, not seeing its
        # length, plans for a few ids: an index probe for each. Shown the 1,000 ids it weighs
        # 1,000 index descents (at the default random_page_cost) against reading the table
        # whole and picks the scan: 80 ms for 1,000 obsids at 2 * 10^5 file links, against
        # about 1 ms probing. A product list is bounded (Settings.max_obsids), so probing is
        # always the right plan.
        ids = func.unnest(cast(bindparam(name, type_=_IdsAsText()), ARRAY(BigInteger)))
        return column == any_(func.array(select(ids).scalar_subquery()))
    listed = func.json_each(bindparam(name, type_=_IdsAsText())).table_valued("value")
    return column.in_(select(listed.c.value).scalar_subquery())


class _TextsAsJson(TypeDecorator[Sequence[str]]):
    """Texts as one JSON array, which quotes any text safely on both databases."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Any) -> str | None:
        return None if value is None else orjson.dumps([str(text) for text in value]).decode()


def in_texts(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN`` the texts bound, at execution, to the parameter ``name`` (a list of
    strings, program ids say), as :func:`in_ids` binds ids: one value, a statement of one
    text for any number of them, which the driver's cursor takes as it is
    (``db/driver_rows.py``)."""
    texts = bindparam(name, type_=_TextsAsJson())
    if dialect == "postgresql":  # computed once, then an index probe per text (see in_ids)
        listed = func.json_array_elements_text(cast(texts, JSON))
        return column == any_(func.array(select(listed).scalar_subquery()))
    values = func.json_each(texts).table_valued("value")
    return column.in_(select(values.c.value).scalar_subquery())
