"""The criteria's WHERE clause built once per shape, the criteria's values bound per search.

Built per search, a criteria query's clause (and SQLAlchemy's cache key walk of it) cost more
than the database's own work: 40% of a count on the demo archive. Two searches of the same
shape differ in their values only, so the clause is built once per shape with a bound
parameter per value, and each search gives the parameters.

The shape is what the SQL of :func:`skyarchive.search.observations.where_clause` depends on:
for each criterion its column, how each value is compared (as a number, a flag, exactly or in
lower case: the split :func:`skyarchive.search.criteria.criterion_clause` makes), which
bounds each range has, how many patterns there are, and whether the parts of a ``;``-separated
column's entries are matched too; for ``dataRights`` which of the two it asks for (the time
is bound as ``now``). The clause built from a shape must be the one ``where_clause`` builds
for the same criteria, the values bound instead of written in
(tests/search/test_criteria_shapes.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, bindparam, func, or_, select, true

from skyarchive.access.rights import (
    EXCLUSIVE_ACCESS,
    PUBLIC,
    released_clause,
    restricted_clause,
)
from skyarchive.db.tables import observation_tokens, observations
from skyarchive.search.criteria import Criterion, parse_flag
from skyarchive.search.tokens import SEPARATORS

#: Most values, ranges and patterns one criterion may list for its shape to be kept: a longer
#: list is rare (a list of programs pasted in) and would fill the kept shapes with one-offs.
MOST_VALUES = 32
#: Most shapes whose clause is kept.
MOST_SHAPES = 256

_NUMBER, _FLAG, _EXACT, _FOLDED = "number", "flag", "exact", "folded"


@dataclass(frozen=True)
class ShapedCriteria:
    """Criteria as a shape (hashable: the kept statements' key) and the parameters of their
    values."""

    shape: tuple[Hashable, ...]
    params: dict[str, Any]

    @property
    def where(self) -> ColumnElement[bool]:
        """The clause for the shape (built once), to be executed with :attr:`params`."""
        return _shape_clause(self.shape)


def shaped_criteria(
    criteria: Sequence[Criterion], *, now: float, has_tokens: Callable[[str], bool]
) -> ShapedCriteria | None:
    """The shape and parameters of ``criteria``; None when a criterion lists too many values
    (or is refused: the unkept path says why). ``has_tokens(column)`` tells whether a
    ``;``-separated column holds a multi-valued entry, whose parts must be matched too."""
    shape: list[Hashable] = []
    params: dict[str, Any] = {}
    for criterion in criteria:
        if criterion.empty:
            continue
        part = _criterion_shape(criterion, f"c{len(shape)}_", params, now, has_tokens)
        if part is None:
            return None
        shape.append(part)
    return ShapedCriteria(tuple(shape), params)


def _criterion_shape(
    criterion: Criterion,
    prefix: str,
    params: dict[str, Any],
    now: float,
    has_tokens: Callable[[str], bool],
) -> Hashable | None:
    """One criterion's shape; its parameters, named after ``prefix``, added to ``params``."""
    values, ranges, patterns = criterion.values, criterion.ranges, criterion.patterns
    if len(values) + len(ranges) + len(patterns) > MOST_VALUES:
        return None
    column = criterion.column
    name = column.name
    if name == "dataRights":
        wanted = {str(v).upper() for v in values}
        params["now"] = now
        return ("dataRights", PUBLIC in wanted, EXCLUSIVE_ACCESS in wanted)
    if name == "distance":
        return None
    compared: tuple[Any, ...] = ()
    kinds: tuple[str, ...] = ()
    if values:
        if column.numeric or isinstance(values[0], float | int):
            compared, kinds = values, (_NUMBER,) * len(values)
        elif column.type == "boolean":
            # a set, as criterion_clause makes: each flag once
            compared = tuple(sorted({parse_flag(column, v) for v in values}))
            kinds = (_FLAG,) * len(compared)
        else:
            compared = tuple(str(v) for v in values)
            kinds = tuple(_FOLDED if any(ch.isalpha() for ch in v) else _EXACT for v in compared)
    tokens = name in SEPARATORS and has_tokens(name)
    if tokens and _NUMBER in kinds:
        return None  # parts are matched as text: not kept (no such column has numbers)
    params.update((f"{prefix}v{j}", value) for j, value in enumerate(compared))
    bounds = []
    for j, (low, high) in enumerate(ranges):
        if low is not None:
            params[f"{prefix}lo{j}"] = low
        if high is not None:
            params[f"{prefix}hi{j}"] = high
        bounds.append((low is not None, high is not None))
    params.update((f"{prefix}p{j}", pattern) for j, pattern in enumerate(patterns))
    return ("column", name, kinds, tuple(bounds), len(patterns), tokens)


@functools.lru_cache(maxsize=MOST_SHAPES)
def _shape_clause(shape: tuple[Hashable, ...]) -> ColumnElement[bool]:
    clauses = [_part_clause(part, f"c{i}_") for i, part in enumerate(shape)]
    return and_(*clauses) if clauses else true()


def _part_clause(part: Any, prefix: str) -> ColumnElement[bool]:
    """As ``observations._clause`` and ``criterion_clause`` write a criterion of this shape."""
    if part[0] == "dataRights":
        _, public, exclusive = part
        release = observations.c.t_obs_release
        now = bindparam("now", type_=Float)
        rights = []
        if public:
            rights.append(released_clause(release, now))
        if exclusive:
            rights.append(restricted_clause(release, now))
        return or_(*rights) if rights else observations.c.obsid.is_(None)
    _, name, kinds, bounds, patterns, tokens = part
    expr = observations.c["objID" if name == "objID1" else name]

    def values(*wanted: str) -> list[Any]:
        return [bindparam(f"{prefix}v{j}") for j, kind in enumerate(kinds) if kind in wanted]

    def pattern(j: int) -> Any:
        return bindparam(f"{prefix}p{j}")

    parts: list[ColumnElement[bool]] = []
    if kinds and kinds[0] in (_NUMBER, _FLAG):
        parts.append(expr.in_(values(_NUMBER, _FLAG)))
    elif kinds:
        compared = []
        if _EXACT in kinds:
            compared.append(expr.in_(values(_EXACT)))
        if _FOLDED in kinds:
            compared.append(func.lower(expr).in_(values(_FOLDED)))
        parts.append(or_(*compared) if len(compared) > 1 else compared[0])
    for j, (low, high) in enumerate(bounds):
        limits = []
        if low:
            limits.append(expr >= bindparam(f"{prefix}lo{j}"))
        if high:
            limits.append(expr <= bindparam(f"{prefix}hi{j}"))
        parts.append(and_(*limits) if limits else expr.is_not(None))
    parts += [func.lower(expr).like(pattern(j), escape="\\") for j in range(patterns)]
    if tokens:
        token = observation_tokens.c.token
        tests = [token.in_(values(_EXACT, _FOLDED))] if kinds else []
        tests += [token.like(pattern(j), escape="\\") for j in range(patterns)]
        matching = select(observation_tokens.c.obsid).where(
            observation_tokens.c.column_name == name, or_(*tests)
        )
        parts.append(observations.c.obsid.in_(matching.scalar_subquery()))
    return or_(*parts) if len(parts) > 1 else parts[0]
