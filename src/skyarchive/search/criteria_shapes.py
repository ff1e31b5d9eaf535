"""The criteria's WHERE clause on the observations: built from the criteria's shape, the one
builder of that clause, kept per shape with a bound parameter per value.

Built per search, a criteria query's clause (and SQLAlchemy's cache key walk of it) cost more
than the database's own work: 40% of a count on the demo archive. Two searches of the same
shape differ in their values only, so the clause is built once per shape with a bound
parameter per value, and each search gives the parameters (:attr:`ShapedCriteria.where`).
Where a statement is built per search anyway (the portal's sorted pages and facet counts,
exports) or a criterion lists more than :data:`MOST_VALUES` values (a one-off, kept nowhere),
the same builder writes the values in (:attr:`ShapedCriteria.written`).

The shape is what the SQL depends on: for each criterion its column, how each value is
compared and which bounds each range has and how many patterns there are
(:func:`skyarchive.search.criteria.criterion_shape`), and whether the parts of a
``;``-separated column's entries are matched too; for ``dataRights`` which of the two it asks
for (the time is the parameter ``now``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, and_, or_, true

from skyarchive.access.rights import (
    EXCLUSIVE_ACCESS,
    PUBLIC,
    released_clause,
    restricted_clause,
)
from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search.criteria import (
    Bound,
    Criterion,
    Supply,
    Written,
    criterion_shape,
    shaped_clause,
)
from skyarchive.search.tokens import SEPARATORS, token_match

#: Most values, ranges and patterns one criterion may list for its shape to be kept: a longer
#: list is rare (a list of programs pasted in) and would fill the kept shapes with one-offs.
MOST_VALUES = 32
#: Most shapes whose clause is kept.
MOST_SHAPES = 256


@dataclass(frozen=True)
class ShapedCriteria:
    """Criteria as a shape (hashable: the kept statements' key) and the parameters of their
    values."""

    shape: tuple[Hashable, ...]
    params: dict[str, Any]
    #: Whether the shape may be kept (no criterion lists more than :data:`MOST_VALUES`).
    kept: bool = True

    @property
    def where(self) -> ColumnElement[bool]:
        """The clause for the shape (built once), to be executed with :attr:`params`."""
        return _kept_clause(self.shape)

    @property
    def written(self) -> ColumnElement[bool]:
        """The clause with the values written in (built per call), executed as it is."""
        return _criteria_clause(self.shape, Written(self.params))


def criteria_shape(
    criteria: Sequence[Criterion], *, now: float, has_tokens: Callable[[str], bool]
) -> ShapedCriteria:
    """The shape and parameters of ``criteria``. ``has_tokens(column)`` tells whether a
    ``;``-separated column holds a multi-valued entry, whose parts must be matched too
    (:func:`skyarchive.search.tokens.asked_once`).

    Raises
    ------
    BadQuery
        For a criterion on ``distance``.
    """
    shape: list[Hashable] = []
    params: dict[str, Any] = {}
    kept = True
    for criterion in criteria:
        if criterion.empty:
            continue
        kept = kept and not lists_too_many(criterion)
        shape.append(_part_shape(criterion, f"c{len(shape)}_", params, now, has_tokens))
    return ShapedCriteria(tuple(shape), params, kept)


def lists_too_many(criterion: Criterion) -> bool:
    """Whether ``criterion`` lists more than :data:`MOST_VALUES` values, ranges and patterns:
    a statement of its shape is not kept (a one-off)."""
    return len(criterion.values) + len(criterion.ranges) + len(criterion.patterns) > MOST_VALUES


def _part_shape(
    criterion: Criterion,
    prefix: str,
    params: dict[str, Any],
    now: float,
    has_tokens: Callable[[str], bool],
) -> Hashable:
    """One criterion's shape; its parameters, named after ``prefix``, added to ``params``."""
    name = criterion.column.name
    if name == "dataRights":
        params["now"] = now
        return ("dataRights", _rights_asked(criterion.values))
    if name == "distance":
        raise BadQuery("Filtering on distance is not supported; give a search radius instead.")
    tokens = name in SEPARATORS and has_tokens(name)
    return ("column", name, criterion_shape(criterion, prefix, params), tokens)


#: The rows a ``dataRights`` criterion keeps. Never none: parse_criteria refuses a value that
#: is no right (:func:`skyarchive.search.criteria._rights`) and a criterion with no value at
#: all is empty, left out of the shape like any empty criterion.
RightsAsked = Literal["released", "restricted", "either"]


def _rights_asked(values: tuple[str | float, ...]) -> RightsAsked:
    wanted = {str(v).upper() for v in values}
    if wanted == {PUBLIC}:
        return "released"
    if wanted == {EXCLUSIVE_ACCESS}:
        return "restricted"
    if wanted == {PUBLIC, EXCLUSIVE_ACCESS}:
        return "either"
    # parse_criteria builds no such criterion; a clause for it would be a guess
    raise ValueError(f"dataRights values that are not the data rights: {values!r}")


@functools.lru_cache(maxsize=MOST_SHAPES)
def _kept_clause(shape: tuple[Hashable, ...]) -> ColumnElement[bool]:
    return _criteria_clause(shape, Bound())


def _criteria_clause(shape: tuple[Hashable, ...], supply: Supply) -> ColumnElement[bool]:
    clauses = [_part_clause(part, f"c{i}_", supply) for i, part in enumerate(shape)]
    return and_(*clauses) if clauses else true()


def _part_clause(part: Any, prefix: str, supply: Supply) -> ColumnElement[bool]:
    if part[0] == "dataRights":
        asked: RightsAsked = part[1]
        release = observations.c.t_obs_release
        now = supply.one("now", Float)
        if asked == "released":
            return released_clause(release, now)
        if asked == "restricted":
            return restricted_clause(release, now)
        return or_(released_clause(release, now), restricted_clause(release, now))
    _, name, shape, tokens = part

    def parts_match(values: Any, patterns: list[Any]) -> ColumnElement[bool]:
        return token_match(name, values, patterns)

    expr = observations.c["objID" if name == "objID1" else name]
    return shaped_clause(shape, expr, supply, prefix, parts_match=parts_match if tokens else None)
