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
    ids = bindparam(name, type_=_IdsAsText())
    if dialect == "postgresql":
        return _among(column, func.unnest(cast(ids, ARRAY(BigInteger))), dialect)
    return _among(column, _json_values(ids), dialect)


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
    if dialect == "postgresql":
        return _among(column, func.json_array_elements_text(cast(texts, JSON)), dialect)
    return _among(column, _json_values(texts), dialect)


def _json_values(array: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQLite: the values of a JSON array, one row each."""
    return func.json_each(array).table_valued("value").c.value


def _among(
    column: ColumnElement[Any], values: ColumnElement[Any], dialect: str
) -> ColumnElement[bool]:
    """``column`` among the rows of ``values``. On PostgreSQL ``= ANY(ARRAY(SELECT ...))``:
    the array is computed once (an InitPlan) and the planner, not seeing its length, plans
    for a few values: an index probe for each. Shown 1,000 ids it weighs 1,000 index
    descents (at the default random_page_cost) against reading the table whole and picks the
    scan: 80 ms for 1,000 obsids at 2 * 10^5 file links, against about 1 ms probing. A
    product list is bounded (Settings.max_obsids), so probing is always the right plan. On
    SQLite an ``IN (SELECT ...)``, searched in the index once per value, as an IN list is."""
    listed = select(values).scalar_subquery()
    if dialect == "postgresql":
        return column == any_(func.array(listed))
    return column.in_(listed)
