"""Criteria values: identifiers compare exactly, impossible numbers are clear errors."""

from __future__ import annotations

import pytest

from skyarchive.errors import BadQuery
from skyarchive.search.columns import observation_column
from skyarchive.search.criteria import parse_criteria


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
