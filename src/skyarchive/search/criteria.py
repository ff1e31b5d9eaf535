"""Search criteria as MAST sends them, turned into SQL expressions with bound parameters.

Semantics (MAST's, as astroquery relies on them): criteria are AND-ed; the values of one
criterion and its ``freeText`` pattern are OR-ed; ranges are inclusive; string comparisons
ignore case; ``*`` and ``%`` are wildcards; on ``;``-separated columns (filters,
obs_collection, ...) a row matches when the whole value or any one token matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import BigInteger, ColumnElement, Float, and_, bindparam, func, literal, or_, true
from sqlalchemy.types import TypeEngine

from skyarchive.access.rights import DATA_RIGHTS
from skyarchive.errors import BadQuery
from skyarchive.search.columns import ColumnInfo
from skyarchive.search.wildcards import like_match

Range = tuple[float | None, float | None]
#: A SQL type a supplied value is given (:meth:`Supply.one`), as SQLAlchemy takes it.
SqlType = TypeEngine[Any] | type[TypeEngine[Any]]
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


#: Columns shown as text (as MAST shows them) but stored as integers: their values are read
#: as numbers, else PostgreSQL refuses to compare them (``bigint = character varying``).
#: ``objID1`` is ``objID`` under the name Filtered.Position's answers give it.
_INTEGER_IDS = frozenset({"obsid", "objID", "objID1", "obsID", "parent_obsid"})
#: What a column's values are compared as (:func:`compared_as`).
NUMBERS, FLAGS, TEXT = "numbers", "flags", "text"


def compared_as(column: ColumnInfo) -> str:
    """What ``column``'s stored values are, so what a criterion's values are compared as:
    ``numbers`` (numeric columns, and identifiers shown as text but stored as integers),
    ``flags`` (true or false) or ``text``.

    The one rule of which criteria a column takes, so that PostgreSQL, which compares only
    values of compatible types, and SQLite, which compares anything, answer alike: values
    are read as the column's kind; ranges need numbers (or dates, on MJD columns); wildcards
    and ``freeText`` need text.
    """
    if column.numeric or column.name in _INTEGER_IDS:
        return NUMBERS
    if column.type == "boolean":
        return FLAGS
    return TEXT


def _criterion(column: ColumnInfo, raw_values: Any, free_text: Any) -> Criterion:
    if not isinstance(raw_values, list):
        raw_values = [raw_values]
    if len(raw_values) > _MAX_VALUES:
        raise BadQuery(f"Too many values for {column.name} ({len(raw_values)} > {_MAX_VALUES}).")
    if column.name == RIGHTS:
        return Criterion(column, _rights(column, raw_values, free_text))
    kind = compared_as(column)
    values: list[str | float] = []
    ranges: list[Range] = []
    patterns: list[str] = []
    if free_text not in (None, ""):
        patterns.append(_like_pattern(_text(column, free_text)))
    for value in raw_values:
        if isinstance(value, Mapping):
            if kind != NUMBERS:
                raise BadQuery(_no_ranges(column, kind))
            ranges.append((_bound(column, value.get("min")), _bound(column, value.get("max"))))
        elif isinstance(value, str) and ("*" in value or "%" in value):
            patterns.append(_like_pattern(_text(column, value)))
        elif kind == NUMBERS:
            values.append(_number(column, value))
        elif isinstance(value, bool | float | str) or (
            isinstance(value, int) and value.bit_length() <= 128
        ):
            values.append(_text(column, value).strip().lower())
        else:
            raise BadQuery(f"Unsupported value {_shown(value)} for {column.name}.")
    if patterns and kind == NUMBERS:
        raise BadQuery(f"Wildcards are not allowed on numeric column {column.name}, nor "
                       "freeText: give numbers or a range {min, max}.")  # fmt: skip
    if patterns and kind == FLAGS:
        raise BadQuery(f"Wildcards are not allowed on true/false column {column.name}, nor "
                       "freeText: give true or false.")  # fmt: skip
    return Criterion(column, tuple(values), tuple(ranges), tuple(patterns))


#: The column computed from the release date, whose values are the
#: :data:`~skyarchive.access.rights.DATA_RIGHTS` alone.
RIGHTS = "dataRights"


def _rights(column: ColumnInfo, raw_values: list[Any], free_text: Any) -> tuple[str, ...]:
    """The rights a ``dataRights`` criterion asks for, in lower case as text values are kept:
    its values, compared case-insensitively, and the rights its patterns (``*`` or ``%``
    wildcards, ``freeText``) match. Anything else (another text, a number, a range, a pattern
    that matches neither right) is refused: it would match no row, so a mistyped right would
    silently find nothing."""
    accepted = [right.lower() for right in DATA_RIGHTS]
    texts = [*raw_values, *([] if free_text in (None, "") else [free_text])]
    asked: dict[str, None] = {}
    for j, value in enumerate(texts):
        if not isinstance(value, str):
            raise BadQuery(_no_right(column, value))
        pattern = j >= len(raw_values) or "*" in value or "%" in value
        text = value.strip().lower()
        if pattern:
            pattern_text = _like_pattern(value)
            matched = [right for right in accepted if like_match(pattern_text, right)]
        else:
            matched = [text] if text in accepted else []
        if not matched:
            raise BadQuery(_no_right(column, value))
        asked.update(dict.fromkeys(matched))
    return tuple(asked)


def _no_right(column: ColumnInfo, value: Any) -> str:
    rights = " or ".join(DATA_RIGHTS)
    return (f"Value {_shown(value)} for {column.name} is not a data right: give {rights} "
            "(any case; * is a wildcard, and freeText a pattern, matching either).")  # fmt: skip


def _no_ranges(column: ColumnInfo, kind: str) -> str:
    if kind == FLAGS:
        return f"Ranges {{min, max}} take numbers; {column.name} holds true or false."
    return (f"Ranges {{min, max}} take numbers or dates; {column.name} holds text: give its "
            "values, or a pattern with * wildcards.")  # fmt: skip


#: Characters no criterion's text may hold: C0 controls and DEL. PostgreSQL takes no NUL in
#: text (SQLite does): refused on both, the databases answer alike.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def control_character(text: str) -> str | None:
    """The first control character inside ``text`` (blanks at its edges are stripped
    anyway), as ``U+XXXX``; None when it has none. The one rule of the search faces'
    criteria and MastMissions' conditions."""
    found = _CONTROL.search(text.strip())
    return None if found is None else f"U+{ord(found.group()):04X}"


def _text(column: ColumnInfo, value: Any) -> str:
    """A text value or pattern, refused when it holds control characters."""
    text = str(value)
    control = control_character(text)
    if control is not None:
        raise BadQuery(
            f"Value {_shown(value)} for {column.name} holds a control character "
            f"({control}); criteria take printable text."
        )
    return text


#: How a criterion compares each of its values (:func:`criterion_shape`): a whole number, a
#: real number, a flag, text without letters (exactly), text with letters (in lower case).
WHOLE, NUMBER, FLAG, EXACT, FOLDED = "whole", "number", "flag", "exact", "folded"
#: The SQL type a number is given, by its kind: its own, not the column's. PostgreSQL then
#: compares the number as it is: a whole number beyond an ``integer`` column's range matches
#: nothing instead of failing the cast, 2.5 stays 2.5 instead of being rounded to 2, and an
#: ``integer`` column's index still serves ``column = bigint``.
VALUE_TYPES: dict[str, SqlType] = {WHOLE: BigInteger, NUMBER: Float}


def number_kind(value: float) -> str:
    """:data:`WHOLE` for an int, :data:`NUMBER` for a float."""
    return WHOLE if isinstance(value, int) else NUMBER


class CriterionShape(NamedTuple):
    """What a criterion's SQL depends on, its values apart: how each value is compared
    (``kinds``), which bounds each range has, how many patterns there are."""

    kinds: tuple[str, ...]
    #: Per range, the kind of its low and high bound (:func:`number_kind`); None when open.
    bounds: tuple[tuple[str | None, str | None], ...]
    patterns: int


def criterion_shape(criterion: Criterion, prefix: str, params: dict[str, Any]) -> CriterionShape:
    """The criterion's shape; the values it compares put in ``params``, named after ``prefix``
    (``<prefix>v<j>`` values, ``<prefix>lo<j>``/``<prefix>hi<j>`` bounds, ``<prefix>p<j>``
    patterns), as :func:`shaped_clause` reads them.

    Numbers compare as they are, flags once each; text without letters compares exactly, so
    the plain index on the column serves it, text with letters in lower case, served by the
    expression indexes on ``lower(column)``.
    """
    values, column = criterion.values, criterion.column
    compared: tuple[Any, ...] = ()
    kinds: tuple[str, ...] = ()
    if values:
        if column.numeric or isinstance(values[0], float | int):
            compared = values
            kinds = tuple(number_kind(v) for v in values)  # type: ignore[arg-type]
        elif column.type == "boolean":
            compared = tuple(sorted({parse_flag(column, v) for v in values}))
            kinds = (FLAG,) * len(compared)
        else:
            compared = tuple(str(v) for v in values)
            kinds = tuple(FOLDED if any(ch.isalpha() for ch in v) else EXACT for v in compared)
    params.update((f"{prefix}v{j}", value) for j, value in enumerate(compared))
    bounds = []
    for j, (low, high) in enumerate(criterion.ranges):
        if low is not None:
            params[f"{prefix}lo{j}"] = low
        if high is not None:
            params[f"{prefix}hi{j}"] = high
        bounds.append((None if low is None else number_kind(low),
                       None if high is None else number_kind(high)))  # fmt: skip
    params.update((f"{prefix}p{j}", pattern) for j, pattern in enumerate(criterion.patterns))
    return CriterionShape(kinds, tuple(bounds), len(criterion.patterns))


class Supply(Protocol):
    """How a clause gets the values of :func:`criterion_shape`'s ``params``, by name."""

    def one(self, name: str, type_: SqlType | None = None) -> Any:
        """A value compared alone (a bound, a pattern); of SQL type ``type_`` when one is given
        (else the type of what it is compared with)."""

    def many(self, names: list[str], type_: SqlType | None = None) -> Any:
        """The values an ``IN`` compares with; of SQL type ``type_`` when one is given."""


class Written:
    """The values written in the clause (SQLAlchemy binds them per execution; a list as an
    expanding ``IN``): for a clause built per search."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params

    def one(self, name: str, type_: SqlType | None = None) -> Any:
        value = self.params[name]
        return value if type_ is None else literal(value, type_)

    def many(self, names: list[str], type_: SqlType | None = None) -> Any:
        values = [self.params[name] for name in names]
        if type_ is None:
            return values
        return bindparam(None, values, type_=type_, expanding=True, unique=True)


class Bound:
    """A bound parameter per value, given at execution: for a clause kept per shape."""

    def one(self, name: str, type_: SqlType | None = None) -> Any:
        return bindparam(name, type_=type_)

    def many(self, names: list[str], type_: SqlType | None = None) -> list[Any]:
        return [bindparam(name, type_=type_) for name in names]


def shaped_clause(
    shape: CriterionShape,
    expr: ColumnElement,
    supply: Supply,
    prefix: str,
    *,
    parts_match: Callable[[Any, list[Any]], ColumnElement[bool]] | None = None,
    folded: bool = False,
) -> ColumnElement[bool]:
    """SQL for a criterion of ``shape`` on column expression ``expr``, its values from
    ``supply`` (named after ``prefix``): the one place the comparison rules are written.

    ``parts_match(values, patterns)`` is OR-ed in: for ``;``-separated columns, the rows where
    one part of a multi-valued entry matches (see :mod:`skyarchive.search.tokens`). ``folded``
    says that ``expr`` holds text already lower-cased when stored: it is compared as it is,
    so a plain index on it serves the comparison.
    """
    kinds = shape.kinds

    def values(*wanted: str, type_: SqlType | None = None) -> Any:
        names = [f"{prefix}v{j}" for j, kind in enumerate(kinds) if kind in wanted]
        return supply.many(names, type_)

    parts: list[ColumnElement[bool]] = []
    if kinds and kinds[0] in (WHOLE, NUMBER):
        numbers = [expr.in_(values(kind, type_=VALUE_TYPES[kind]))
                   for kind in (WHOLE, NUMBER) if kind in kinds]  # fmt: skip
        parts.append(or_(*numbers) if len(numbers) > 1 else numbers[0])
    elif kinds and kinds[0] == FLAG:
        parts.append(expr.in_(values(FLAG)))
    elif kinds and folded:  # criterion values are lower-case too
        parts.append(expr.in_(values(EXACT, FOLDED)))
    elif kinds:
        compared = []
        if EXACT in kinds:
            compared.append(expr.in_(values(EXACT)))
        if FOLDED in kinds:
            compared.append(func.lower(expr).in_(values(FOLDED)))
        parts.append(or_(*compared) if len(compared) > 1 else compared[0])
    for j, (low, high) in enumerate(shape.bounds):
        limits = []
        if low:
            limits.append(expr >= supply.one(f"{prefix}lo{j}", VALUE_TYPES[low]))
        if high:
            limits.append(expr <= supply.one(f"{prefix}hi{j}", VALUE_TYPES[high]))
        parts.append(and_(*limits) if limits else expr.is_not(None))
    patterns = [supply.one(f"{prefix}p{j}") for j in range(shape.patterns)]
    text = expr if folded else func.lower(expr)
    parts += [text.like(pattern, escape="\\") for pattern in patterns]
    if parts_match is not None:
        # every value: no ``;``-separated column holds numbers or flags
        parts.append(parts_match(values(*kinds), patterns))
    return or_(*parts) if len(parts) > 1 else parts[0]


def criterion_clause(
    criterion: Criterion, expr: ColumnElement, *, folded: bool = False
) -> ColumnElement[bool]:
    """SQL for one criterion on column expression ``expr``, its values written in
    (:func:`shaped_clause`)."""
    if criterion.empty:
        return true()
    params: dict[str, Any] = {}
    shape = criterion_shape(criterion, "", params)
    return shaped_clause(shape, expr, Written(params), "", folded=folded)


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
