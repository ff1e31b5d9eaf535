"""Search criteria as MAST sends them, turned into SQL expressions with bound parameters.

Semantics (MAST's, as astroquery relies on them): criteria are AND-ed; the values of one
criterion and its ``freeText`` pattern are OR-ed; ranges are inclusive; string comparisons
ignore case; ``*`` and ``%`` are wildcards; on ``;``-separated columns (filters,
obs_collection, ...) a row matches when the whole value or any one token matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
        elif isinstance(value, bool | float | str) or (
            isinstance(value, int) and value.bit_length() <= 128
        ):
            values.append(str(value).strip().lower())
        else:
            raise BadQuery(f"Unsupported value {_shown(value)} for {column.name}.")
    if patterns and column.numeric:
        raise BadQuery(f"Wildcards are not allowed on numeric column {column.name}.")
    return Criterion(column, tuple(values), tuple(ranges), tuple(patterns))


def criterion_clause(
    criterion: Criterion,
    expr: ColumnElement,
    *,
    parts_match: ColumnElement[bool] | None = None,
    folded: bool = False,
) -> ColumnElement[bool]:
    """SQL for one criterion on column expression ``expr``.

    ``parts_match`` is OR-ed in: for ``;``-separated columns, the rows where one part of a
    multi-valued entry matches (see :mod:`skyarchive.search.tokens`). ``folded`` says that
    ``expr`` holds text already lower-cased when stored: it is compared as it is, so a plain
    index on it serves the comparison.
    """
    if criterion.empty:
        return true()
    parts: list[ColumnElement[bool]] = []
    column = criterion.column
    if criterion.values:
        if column.numeric or isinstance(criterion.values[0], float | int):
            parts.append(expr.in_(list(criterion.values)))
        elif column.type == "boolean":
            flags = {parse_flag(column, v) for v in criterion.values}
            parts.append(expr.in_(list(flags)))
        elif folded:  # criterion values are lower-case too
            parts.append(expr.in_([str(v) for v in criterion.values]))
        else:
            parts.append(_text_equals(expr, [str(v) for v in criterion.values]))
    for low, high in criterion.ranges:
        bounds = []
        if low is not None:
            bounds.append(expr >= low)
        if high is not None:
            bounds.append(expr <= high)
        parts.append(and_(*bounds) if bounds else expr.is_not(None))
    text = expr if folded else func.lower(expr)
    parts += [text.like(pattern, escape="\\") for pattern in criterion.patterns]
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
# Numbers as clients write them, in ASCII only: Python's int() and float() would also read
# "١٢٣", "１２３" or "1_000", and a 5,000-digit integer costs quadratic time to convert.
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_MAX_NUMBER_TEXT = 64
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?Z?", re.ASCII
)
_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
DATE_FORMS = "YYYY-MM-DD, 'YYYY-MM-DD hh:mm[:ss]' (UTC) or an MJD number"


def parse_identifier(value: Any, name: str = "obsid") -> int:
    """A whole-number identifier (obsid, product id) written in ASCII digits, as a 64-bit int.

    Raises
    ------
    BadQuery
        For anything else, naming ``name`` and the value (cut short when long).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadQuery(f"{name} {_shown(value)} is not a whole number.")
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise BadQuery(
                f"{name} {_shown(text)} is not a whole number written with the digits 0-9."
            )
        if len(text.lstrip("+-").lstrip("0")) > len(str(_LARGEST_INTEGER)):
            raise BadQuery(f"{name} {_shown(text)} is out of range (at most {_LARGEST_INTEGER}).")
        value = int(text)
    if abs(value) > _LARGEST_INTEGER:
        raise BadQuery(f"{name} {_shown(value)} is out of range (at most {_LARGEST_INTEGER}).")
    return value


def parse_mjd(value: Any, name: str) -> float:
    """An instant as MJD: an MJD number, or an ISO date/time (UTC) such as ``2023-07-12``.

    Raises
    ------
    BadQuery
        Naming the field and the forms it accepts.
    """
    if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
        match = _ISO_DATE.fullmatch(value.strip())
        if match is None:
            raise BadQuery(f"{name}: {_shown(value)} is not a date; write {DATE_FORMS}.")
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
        try:
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:  # 2023-02-30, 25:00 ...
            raise BadQuery(f"{name}: {_shown(value)} is not a date; write {DATE_FORMS}.") from None
        fraction = float("0." + (match.group(7) or "0"))
        return ((when - _MJD_EPOCH).total_seconds() + fraction) / 86_400.0
    return _float(value, name)


def _shown(value: Any) -> str:
    """The value for a message, cut short when long."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"(an integer of {value.bit_length()} bits)"
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "...' (" + f"{len(str(value))} characters)"


def _bound(column: ColumnInfo, value: Any) -> float | None:
    if value in (None, ""):
        return None
    if column.unit == "MJD":
        return parse_mjd(value, f"{column.label} ({column.name})")
    return _number(column, value)


def _number(column: ColumnInfo, value: Any) -> float:
    exact = column.type != "float" and not isinstance(value, bool | float)
    if exact and (
        isinstance(value, int) or (isinstance(value, str) and _WHOLE.fullmatch(value.strip()))
    ):
        return parse_identifier(value, column.name)  # exactly: ids exceed a float's 53 bits
    number = _float(value, column.name)
    if number.is_integer() and column.type != "float":
        return parse_identifier(int(number), column.name)
    return number


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadQuery(f"Value {_shown(value)} for {name} is not a number.")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            raise BadQuery(f"Value {_shown(value)} for {name} is not a number.")
        value = text
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float's range
        number = math.inf
    if not math.isfinite(number):
        raise BadQuery(f"Value {_shown(value)} for {name} is not a finite number.")
    return number


def parse_flag(column: ColumnInfo, value: Any) -> bool:
    """A boolean criterion's value as True or False."""
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    raise BadQuery(f"Value {value!r} for {column.name} is not true or false.")
