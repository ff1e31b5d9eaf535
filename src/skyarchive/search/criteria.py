"""Search criteria as MAST sends them, turned into SQL expressions with bound parameters.

Semantics (MAST's, as astroquery relies on them): criteria are AND-ed; the values of one
criterion and its ``freeText`` pattern are OR-ed; ranges are inclusive; string comparisons
ignore case; ``*`` and ``%`` are wildcards; on ``;``-separated columns (filters,
obs_collection, ...) a row matches when the whole value or any one token matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, true

from skyarchive.errors import BadQuery
from skyarchive.search.columns import ColumnInfo

Range = tuple[float | None, float | None]
_MAX_VALUES = 10_000


@dataclass(frozen=True)
class Criterion:
    column: ColumnInfo
    values: tuple[str | float, ...] = ()
    ranges: tuple[Range, ...] = ()
    patterns: tuple[str, ...] = ()  # SQL LIKE patterns, already lower-case and escaped

    @property
    def empty(self) -> bool:
        return not (self.values or self.ranges or self.patterns)


def parse_criteria(filters: Any, lookup: Callable[[str], ColumnInfo]) -> list[Criterion]:
    """Validate the ``filters`` list of a MAST request; raise BadQuery with the reason."""
    if filters in (None, ""):
        return []
    if not isinstance(filters, list):
        raise BadQuery("'filters' must be a list of {paramName, values} objects.")
    criteria = []
    for entry in filters:
        if not isinstance(entry, Mapping) or "paramName" not in entry:
            raise BadQuery(f"Each filter needs a 'paramName'; got {entry!r}.")
        column = lookup(str(entry["paramName"]))
        criteria.append(_criterion(column, entry.get("values", []), entry.get("freeText")))
    return criteria


def _criterion(column: ColumnInfo, raw_values: Any, free_text: Any) -> Criterion:
    if not isinstance(raw_values, list):
        raw_values = [raw_values]
    if len(raw_values) > _MAX_VALUES:
        raise BadQuery(f"Too many values for {column.name} ({len(raw_values)} > {_MAX_VALUES}).")
    values: list[str | float] = []
    ranges: list[Range] = []
    patterns: list[str] = []
    if free_text not in (None, ""):
        patterns.append(_like_pattern(str(free_text)))
    for value in raw_values:
        if isinstance(value, Mapping):
            ranges.append((_bound(column, value.get("min")), _bound(column, value.get("max"))))
        elif isinstance(value, str) and ("*" in value or "%" in value):
            patterns.append(_like_pattern(value))
        elif column.numeric or column.name in ("obsid", "objID", "obsID", "parent_obsid"):
            values.append(_number(column, value))
        elif isinstance(value, bool | int | float | str):
            values.append(str(value).strip().lower())
        else:
            raise BadQuery(f"Unsupported value {value!r} for {column.name}.")
    if patterns and column.numeric:
        raise BadQuery(f"Wildcards are not allowed on numeric column {column.name}.")
    return Criterion(column, tuple(values), tuple(ranges), tuple(patterns))


def criterion_clause(
    criterion: Criterion, expr: ColumnElement, *, parts_match: ColumnElement[bool] | None = None
) -> ColumnElement[bool]:
    """SQL for one criterion on column expression ``expr``.

    ``parts_match`` is OR-ed in: for ``;``-separated columns, the rows where one part of a
    multi-valued entry matches (see :mod:`skyarchive.search.tokens`).
    """
    if criterion.empty:
        return true()
    parts: list[ColumnElement[bool]] = []
    column = criterion.column
    if criterion.values:
        if column.numeric or isinstance(criterion.values[0], float | int):
            parts.append(expr.in_(list(criterion.values)))
        elif column.type == "boolean":
            flags = {_flag(column, v) for v in criterion.values}
            parts.append(expr.in_(list(flags)))
        else:
            parts.append(_text_equals(expr, [str(v) for v in criterion.values]))
    for low, high in criterion.ranges:
        bounds = []
        if low is not None:
            bounds.append(expr >= low)
        if high is not None:
            bounds.append(expr <= high)
        parts.append(and_(*bounds) if bounds else expr.is_not(None))
    parts += [func.lower(expr).like(pattern, escape="\\") for pattern in criterion.patterns]
    if parts_match is not None:
        parts.append(parts_match)
    return or_(*parts) if len(parts) > 1 else parts[0]


def _text_equals(expr: ColumnElement, values: Sequence[str]) -> ColumnElement:
    # Values without letters compare exactly so the plain index on the column is used;
    # the others compare lower-case, served by expression indexes on lower(column).
    exact = [v for v in values if not any(ch.isalpha() for ch in v)]
    folded = [v for v in values if v not in exact]
    parts: list[ColumnElement[bool]] = []
    if exact:
        parts.append(expr.in_(exact))
    if folded:
        parts.append(func.lower(expr).in_(folded))
    return or_(*parts) if len(parts) > 1 else parts[0] if parts else false()


def _like_pattern(text: str) -> str:
    return _escape(text.strip().lower()).replace("*", "%")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("_", "\\_")


_LARGEST_INTEGER = 2**63 - 1


def _bound(column: ColumnInfo, value: Any) -> float | None:
    if value in (None, ""):
        return None
    return _number(column, value)


def _number(column: ColumnInfo, value: Any) -> float:
    if column.type != "float" and not isinstance(value, bool):
        whole = _whole_number(value)  # exactly: identifiers exceed a float's 53 bits
        if whole is not None:
            if abs(whole) > _LARGEST_INTEGER:  # no 64-bit column could hold it
                raise BadQuery(f"Value {value!r} for {column.name} is out of range.")
            return whole
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadQuery(f"Value {value!r} for {column.name} is not a number.") from None
    if not math.isfinite(number):
        raise BadQuery(f"Value {value!r} for {column.name} is not a finite number.")
    if number.is_integer() and column.type != "float":
        return _number(column, int(number))
    return number


def _whole_number(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _flag(column: ColumnInfo, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    raise BadQuery(f"Value {value!r} for {column.name} is not true or false.")
