"""Criteria values: identifiers compare exactly, impossible numbers are clear errors, each
column takes the values its stored type can be compared with."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from skyarchive.db.tables import observations
from skyarchive.errors import BadQuery
from skyarchive.search.columns import observation_column
from skyarchive.search.criteria import (
    NUMBER,
    WHOLE,
    Bound,
    criterion_shape,
    parse_criteria,
    shaped_clause,
)


def _values(column: str, *values: object) -> tuple:
    filters = [{"paramName": column, "values": list(values)}]
    return parse_criteria(filters, observation_column)[0].values


def test_large_identifiers_are_not_rounded_through_floats() -> None:
    # 2**53 + 1 is the first integer a float cannot hold.
    assert _values("obsid", "9007199254740993", " 9223372036854775807 ") == (
        9007199254740993,
        9223372036854775807,
    )


def test_whole_numbers_in_other_spellings() -> None:
    assert _values("calib_level", "2", 3, 3.0, "1e0") == (2, 3, 3, 1)


@pytest.mark.parametrize("value", ["9223372036854775808", "-9223372036854775809", "1e30"])
def test_out_of_range_identifiers(value: str) -> None:
    with pytest.raises(BadQuery, match="out of range"):
        _values("obsid", value)


@pytest.mark.parametrize("value", ["x", "nan", "inf"])
def test_not_numbers(value: str) -> None:
    with pytest.raises(BadQuery, match="obsid"):
        _values("obsid", value)


# What a column takes follows what it stores (criteria.compared_as), so that PostgreSQL, which
# compares only compatible types, answers as SQLite, which compares anything
# (tests/e2e/test_filter_value_types.py sends every kind of value to both).


def _filter(column: str, values: list, free_text: str | None = None) -> list:
    return parse_criteria(
        [{"paramName": column, "values": values, "freeText": free_text}], observation_column
    )


@pytest.mark.parametrize(
    ("column", "values", "free_text", "message"),
    [
        ("target_name", [{"min": 1, "max": 5}], None, "target_name holds text"),
        ("mtFlag", [{"min": 0, "max": 1}], None, "mtFlag holds true or false"),
        ("obsid", ["2007*"], None, "Wildcards are not allowed on numeric column obsid"),
        ("objID1", [], "12", "numeric column objID1, nor freeText"),
        ("mtFlag", ["t*"], None, "true/false column mtFlag"),
        ("mtFlag", [], "true", "true/false column mtFlag, nor freeText"),
        ("target_name", ["a\x00b"], None, "target_name holds a control character (U+0000)"),
        ("target_name", ["ngc*\x01"], None, "control character (U+0001)"),
        ("obs_collection", [], "jw\x7fst", "control character (U+007F)"),
    ],
)  # fmt: skip
def test_what_a_column_cannot_take(
    column: str, values: list, free_text: str | None, message: str
) -> None:
    with pytest.raises(BadQuery, match=re.escape(message)):
        _filter(column, values, free_text)


def test_surrounding_white_space_is_no_control_character() -> None:
    assert _values("target_name", "\tNGC 6720\n") == ("ngc 6720",)


def test_numbers_are_bound_as_their_own_sql_type() -> None:
    # not as the column's: PostgreSQL would cast 3000000000 to an integer column's type (and
    # fail) and 2.5 to 2; bigint and double precision compare with any number column
    (criterion,) = _filter("calib_level", [3_000_000_000, 2.5, {"min": 1, "max": 2.5}])
    shape = criterion_shape(criterion, "", {})
    assert shape.kinds == (WHOLE, NUMBER) and shape.bounds == ((WHOLE, NUMBER),)
    clause = shaped_clause(shape, observations.c.calib_level, Bound(), "")
    sql = str(clause.compile(dialect=PGDialect_psycopg()))
    assert "::BIGINT" in sql and "::INTEGER" not in sql


@pytest.mark.timeout(20)  # a guard, not a measure: the regex this replaced took minutes here
@pytest.mark.parametrize("value", ["*" * 40 + "x", "*x" * 200_000, "%_" * 5_000 + "y"])
def test_a_pattern_of_many_wildcards_is_refused_without_backtracking(value: str) -> None:
    with pytest.raises(BadQuery, match="dataRights"):
        _values("dataRights", value)
