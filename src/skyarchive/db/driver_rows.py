"""A fixed SELECT read straight from the database driver's cursor, for the hottest look-ups.

``Download/file`` reads one file's row (and, with a token or a session, its caller's) for
every request. Through SQLAlchemy's ``Connection.execute`` that one indexed read cost about
four times what the driver itself spends on it (the execution context, the result's metadata
and row objects: docs/performance.md, "Per-request cost"). :class:`DriverRows` compiles the
statement once per dialect, SQLAlchemy's own compilation, and runs it on the driver's cursor
of the connection the caller already holds (the same transaction), making each row a named
tuple, with SQLAlchemy's own bind and result processors for the types applied. A statement
that needs more than that (expanding or literal parameters; for named rows, columns sharing a
name) simply goes through ``Connection.execute``, and so does a failed execution, so that a
connection the database dropped is found out, and thrown away, as everywhere else.
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from keyword import iskeyword
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Select
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


class ReadBySqlAlchemy(UserWarning):
    """A statement given to :class:`DriverRows` that the driver's cursor cannot take (an
    expanding or literal parameter, rendered per execution): it is read through SQLAlchemy,
    at SQLAlchemy's cost. The test suite turns every warning into an error, so such a
    statement fails the tests that run it instead of going slower unseen."""


@dataclass
class _Plan:
    sql: str
    positions: tuple[str, ...] | None  # names in order for a positional paramstyle
    defaults: dict[str, Any]
    binds: dict[str, Processor]  # the parameters whose type converts them
    row: Callable[..., Any] | None  # None: the columns' names make no named tuple (tuples only)
    types: list[Any]  # of the selected columns
    # what the result processors of the selected columns do to a row: known from the first
    # description (``described``); None when no column's values are converted
    convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None
    described: bool = False


class DriverRows:
    """``statement``'s rows for given parameters, read on the driver's cursor."""

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan | None] = {}

    def all(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows, each a named tuple (or SQLAlchemy's ``Row``, which reads the same)."""
        plan, fetched = self._fetch(conn, params, named=True)
        if plan is None or plan.row is None:
            return fetched
        convert = plan.convert
        if convert is None:
            return [plan.row(*values) for values in fetched]
        return [plan.row(*convert(values)) for values in fetched]

    def tuples(
        self, conn: Connection, params: Mapping[str, Any], *, most: int | None = None
    ) -> Sequence[Sequence[Any]]:
        """The rows as the driver's own tuples, read by position: for a statement of many
        rows, where a named tuple per row (a third of a microsecond) is work worth sparing,
        or of columns sharing a name. With ``most``, no more than ``most`` rows are read."""
        plan, fetched = self._fetch(conn, params, most=most)
        if plan is None:
            return fetched
        convert = plan.convert
        if convert is None:
            return fetched
        return [tuple(convert(values)) for values in fetched]

    def _fetch(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        *,
        named: bool = False,
        most: int | None = None,
    ) -> tuple[_Plan | None, Any]:
        """The plan and the driver's rows (at most ``most``); no plan when SQLAlchemy ran the
        statement (so also for ``named`` rows of columns that make no named tuple)."""
        dialect = conn.dialect
        try:
            plan = self._plans[dialect.name]
        except KeyError:
            plan = self._plans[dialect.name] = _plan(self.statement, dialect)
        if plan is None or (named and plan.row is None):
            return None, self._through_sqlalchemy(conn, params, most)
        arguments = _arguments(plan, params)
        driver = conn.connection.driver_connection
        try:
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                # What listens to the engine's statements (the catalogue-write watch, an
                # operator's SQL log or tracing, tests that explain plans) hears these too;
                # a listener's rewrite (retval=True) is not applied, and there is no context.
                events = conn.dispatch
                events.before_cursor_execute(conn, cursor, plan.sql, arguments, None, False)
                cursor.execute(plan.sql, arguments)
                events.after_cursor_execute(conn, cursor, plan.sql, arguments, None, False)
                fetched = cursor.fetchall() if most is None else cursor.fetchmany(most)
                if not plan.described:  # before it is marked: another thread may read it then
                    processors = _result_processors(plan.types, dialect, cursor.description)
                    plan.convert = _converter(processors)
                    plan.described = True
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error:
            # SQLAlchemy's own execution raises its error, and invalidates a broken connection
            return None, self._through_sqlalchemy(conn, params, most)
        return plan, fetched

    def _through_sqlalchemy(
        self, conn: Connection, params: Mapping[str, Any], most: int | None
    ) -> Sequence[Any]:
        result = conn.execute(self.statement, dict(params))
        if most is None:
            return result.all()
        rows = result.fetchmany(most)
        result.close()
        return rows


def _converter(
    processors: tuple[Processor | None, ...],
) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """A row's values with the columns' result processors applied, to the columns that have
    one only: a row of the portal's 34 columns has one (a flag, on SQLite), and a pass over
    every value cost its 24 rows 72 µs against 33 (a program search costs ~600 µs in
    process). None when no column has one."""
    converted = [(position, p) for position, p in enumerate(processors) if p is not None]
    if not converted:
        return None

    def convert(values: Sequence[Any]) -> Sequence[Any]:
        row = list(values)
        for position, process in converted:
            row[position] = process(row[position])
        return row

    return convert


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
        # expanding IN lists and the like are rendered per execution: the statement is
        # compiled here for nothing, and the read is SQLAlchemy's, all unseen unless told
        shown = " ".join(str(compiled).split())[:200]
        warnings.warn(ReadBySqlAlchemy(f"read through SQLAlchemy: {shown}"), stacklevel=4)
        return None
    binds: dict[str, Processor] = {}
    for name, bind in compiled.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            binds[name] = convert
    columns = list(statement.selected_columns)
    keys = [column.key for column in columns]  # None for an expression without a label
    names = [str(key) for key in keys]
    unnamed = len(set(names)) != len(names) or any(
        key is None or not n.isidentifier() or n[0] == "_" or iskeyword(n)
        for key, n in zip(keys, names, strict=True)
    )
    defaults = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if bind.value is not None and not bind.required
    }
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    row = None if unnamed else namedtuple("Row", names)  # type: ignore[misc]  # noqa: PYI024
    return _Plan(str(compiled), positions, defaults, binds, row, [c.type for c in columns])
