"""SQL the two catalog backends spell differently, as SQLAlchemy constructs.

``mjd_to_timestamp(x)`` is the ISO 8601 UTC text of an MJD (``2024-05-01T12:00:00.000``), the
form DALI timestamps take; ISO text sorts and compares as the moments do, so an ADQL
``obs_release_date > '2024-01-01'`` is a plain comparison of text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnClause,
    String,
    Subquery,
    false,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_UNIX_EPOCH_MJD = 40587.0


class mjd_to_timestamp(FunctionElement[str]):  # noqa: N801  (SQL function style)
    """ISO 8601 text (milliseconds, UTC, no zone letter) of an MJD; NULL stays NULL."""

    type = String()
    inherit_cache = True
    name = "mjd_to_timestamp"


@compiles(mjd_to_timestamp, "sqlite")
def _mjd_sqlite(element: mjd_to_timestamp, compiler: Any, **kw: Any) -> str:
    (mjd,) = list(element.clauses)
    # SQLite reads a bare number as a Julian day: MJD + 2400000.5
    return f"strftime('%Y-%m-%dT%H:%M:%f', {compiler.process(mjd, **kw)} + 2400000.5)"


@compiles(mjd_to_timestamp, "postgresql")
def _mjd_postgresql(element: mjd_to_timestamp, compiler: Any, **kw: Any) -> str:
    (mjd,) = list(element.clauses)
    value = compiler.process(mjd, **kw)
    return (
        f"to_char(to_timestamp(({value} - {_UNIX_EPOCH_MJD}) * 86400.0) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS')"
    )


class case_sensitive_like(FunctionElement[bool]):  # noqa: N801  (SQL function style)
    """ADQL's LIKE: ``%`` and ``_`` wildcards, letters compared with their case."""

    type = Boolean()
    inherit_cache = True
    name = "case_sensitive_like"


@compiles(case_sensitive_like)
def _like_default(element: case_sensitive_like, compiler: Any, **kw: Any) -> str:
    text, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f"({text} LIKE {pattern})"


@compiles(case_sensitive_like, "sqlite")
def _like_sqlite(element: case_sensitive_like, compiler: Any, **kw: Any) -> str:
    # SQLite's LIKE ignores case; its GLOB keeps it. The pattern is rewritten in SQL: the GLOB
    # wildcards and brackets it holds are bracketed first ([ before the others, so that the
    # brackets added next are not bracketed again), then % and _ become * and ?. (Switching
    # LIKE with PRAGMA case_sensitive_like on pooled connections crashed SQLite under load.)
    text, pattern = (compiler.process(c, **kw) for c in element.clauses)
    glob = f"replace({pattern}, '[', '[[]')"
    for plain, bracketed in (("*", "[*]"), ("?", "[?]"), ("%", "*"), ("_", "?")):
        glob = f"replace({glob}, '{plain}', '{bracketed}')"
    return f"({text} GLOB {glob})"


def constant_rows(
    name: str, columns: Sequence[ColumnClause[Any]], rows: Sequence[Sequence[Any]]
) -> Subquery:
    """Rows given in Python as a subquery (``SELECT ... UNION ALL SELECT ...``): SQLite takes
    no ``(VALUES ...) AS t (columns)``, and this reads the same on both backends."""
    selects = [
        select(
            *[literal(value, c.type).label(c.name) for c, value in zip(columns, row, strict=True)]
        )
        for row in rows
    ]
    if not selects:
        selects = [select(*[literal(None, c.type).label(c.name) for c in columns]).where(false())]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)
