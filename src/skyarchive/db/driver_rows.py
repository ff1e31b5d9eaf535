"""A fixed SELECT read straight from the database driver's cursor, for the hottest look-ups.

``Download/file`` reads one file's row (and, with a token or a session, its caller's) for
every request. Through SQLAlchemy's ``Connection.execute`` that one indexed read cost about
four times what the driver itself spends on it (the execution context, the result's metadata
and row objects: docs/performance.md, "Per-request cost"). :class:`DriverRows` compiles the
statement once per dialect, SQLAlchemy's own compilation, and runs it on the driver's cursor
of the connection the caller already holds (the same transaction), making each row a named
tuple, with SQLAlchemy's own bind and result processors for the types applied. A statement
that needs more than that (expanding or literal parameters, duplicate column names) simply
goes through ``Connection.execute``, and so does a failed execution, so that a
connection the database dropped is found out, and thrown away, as everywhere else.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Select
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


@dataclass
class _Plan:
    sql: str
    positions: tuple[str, ...] | None  # names in order for a positional paramstyle
    defaults: dict[str, Any]
    binds: dict[str, Processor]  # the parameters whose type converts them
    row: Callable[..., Any]
    types: list[Any]  # of the selected columns
    results: tuple[Processor | None, ...] | None = None  # known from the first description


class DriverRows:
    """``statement``'s rows for given parameters, read on the driver's cursor."""

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan | None] = {}

    def all(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows, each a named tuple (or SQLAlchemy's ``Row``, which reads the same)."""
        plan, fetched = self._fetch(conn, params)
        if plan is None:
            return fetched
        results = plan.results
        if not any(results or ()):
            return [plan.row(*values) for values in fetched]
        return [plan.row(*_converted(results, values)) for values in fetched]  # type: ignore[arg-type]

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """The rows as the driver's own tuples, read by position: for a statement of many
        rows, where a named tuple per row (a third of a microsecond) is work worth sparing."""
        plan, fetched = self._fetch(conn, params)
        if plan is None:
            return fetched
        results = plan.results
        if not any(results or ()):
            return fetched
        return [tuple(_converted(results, values)) for values in fetched]  # type: ignore[arg-type]

    def sent(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, Any] | None:
        """The SQL and arguments :meth:`all` gives the driver of ``dialect`` for ``params``
        (None: the statement goes through ``Connection.execute``), for tests that explain
        the statements the server sends."""
        plan = self._plans.get(dialect.name)
        return None if plan is None else (plan.sql, _arguments(plan, params))

    def _fetch(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Plan | None, Any]:
        """The plan and the driver's rows; no plan when SQLAlchemy ran the statement."""
        dialect = conn.dialect
        try:
            plan = self._plans[dialect.name]
        except KeyError:
            plan = self._plans[dialect.name] = _plan(self.statement, dialect)
        if plan is None:
            return None, conn.execute(self.statement, dict(params)).all()
        arguments = _arguments(plan, params)
        driver = conn.connection.driver_connection
        try:
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(plan.sql, arguments)
                fetched = cursor.fetchall()
                if plan.results is None:
                    plan.results = _result_processors(plan.types, dialect, cursor.description)
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error:
            # SQLAlchemy's own execution raises its error, and invalidates a broken connection
            return None, conn.execute(self.statement, dict(params)).all()
        return plan, fetched


def _converted(results: tuple[Processor | None, ...], values: Sequence[Any]) -> Iterator[Any]:
    return (v if p is None else p(v) for p, v in zip(results, values, strict=True))


def _arguments(plan: _Plan, params: Mapping[str, Any]) -> Any:
    """``params`` as the driver takes them: converted by the types, in order if positional."""
    values = {**plan.defaults, **params}
    for name, convert in plan.binds.items():
        values[name] = convert(values[name])
    return values if plan.positions is None else tuple(values[name] for name in plan.positions)


def _result_processors(
    types: list[Any], dialect: Dialect, description: Sequence[Any]
) -> tuple[Processor | None, ...]:
    return tuple(
        kind.dialect_impl(dialect).result_processor(dialect, column[1])
        for kind, column in zip(types, description, strict=True)
    )


def _plan(statement: Select[Any] | CompoundSelect, dialect: Dialect) -> _Plan | None:
    """How to run ``statement`` on ``dialect``'s driver, or None to leave it to SQLAlchemy."""
    compiled = statement.compile(dialect=dialect)
    if getattr(compiled, "literal_execute_params", None) or getattr(
        compiled, "post_compile_params", None
    ):
        return None  # expanding IN lists and the like are rendered per execution
    binds: dict[str, Processor] = {}
    for name, bind in compiled.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            binds[name] = convert
    columns = list(statement.selected_columns)
    names = [str(column.key) for column in columns]
    if len(set(names)) != len(names) or any(not n.isidentifier() or n[0] == "_" for n in names):
        return None
    defaults = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if bind.value is not None and not bind.required
    }
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    row = namedtuple("Row", names)  # type: ignore[misc]  # noqa: PYI024
    return _Plan(str(compiled), positions, defaults, binds, row, [c.type for c in columns])
