"""Result rows rendered as JSON objects by the database itself.

The MAST API answers with rows of some 35 columns. Building a Python dict per row and encoding
it costs more than the query; SQLite's ``json_object`` and PostgreSQL's ``json_build_object``
produce the same object in C while the row is read, so the service only joins text.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, Text, case, cast, func, literal_column, not_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_object(dialect: str, pairs: Sequence[tuple[str, ColumnElement]]) -> ColumnElement[str]:
    """One JSON object per row, as text: ``{"key": value, ...}`` for ``pairs``."""
    args: list[ColumnElement] = []
    for key, value in pairs:
        if not _KEY.match(key):  # keys are inlined into the SQL: only plain names
            raise ValueError(f"not a plain JSON key: {key!r}")
        args += [literal_column(f"'{key}'"), value]
    if dialect == "postgresql":
        return cast(func.json_build_object(*args), Text)
    return func.json_object(*args, type_=String)


def json_boolean(dialect: str, column: ColumnElement) -> ColumnElement:
    """A boolean column as JSON ``true``/``false``/``null`` (SQLite stores 1/0)."""
    if dialect == "postgresql":
        return column
    flag = case((column.is_(True), "true"), (not_(column), "false"), else_="null")
    return func.json(flag)


def as_text(column: ColumnElement) -> ColumnElement:
    """Identifiers that MAST sends as strings although they are stored as integers."""
    return cast(column, String)


class Prebuilt(ColumnElement[str]):
    """An expression built once, known to SQLAlchemy's statement cache by ``name`` alone.

    A row object of some 35 columns is ~100 expression parts; every statement holding it
    would walk them all for its cache key on each execution (a fifth of a small search's
    time). ``name`` must tell apart every expression it stands for (the column names and the
    dialect do). Bound parameters inside (``now``) are not part of the cache key: give their
    values with each execution.
    """

    inherit_cache = False
    _traverse_internals = [("name", InternalTraversal.dp_plain_obj)]
    type = String()

    def __init__(self, name: Hashable, expression: ColumnElement[Any]) -> None:
        self.name = name
        self.built = expression

    @property
    def _from_objects(self) -> list[Any]:
        return self.built._from_objects


@compiles(Prebuilt)
def _compile_prebuilt(element: Prebuilt, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.built, **kw))
