"""The shared parsers of bad values, in process (the e2e tests go through the server)."""

from __future__ import annotations

import pytest
from astropy.time import Time

from skyarchive.delivery.files import RangeNotSatisfiable, byte_range
from skyarchive.errors import BadQuery
from skyarchive.search.criteria import parse_identifier, parse_mjd
from skyarchive.search.paging import MAX_OFFSET, parse_paging


@pytest.mark.parametrize("value", [123, "123", " 123 ", "+123", "0000123"])
def test_identifiers(value: object) -> None:
    assert parse_identifier(value) == 123


@pytest.mark.parametrize(
    "value",
    ["\u0661\u0662\u0663", "\uff11\uff12\uff13", "1_000", "1.0", "", "12a", "9" * 5000,
     2**63, -(2**63), pytest.param(10**5000, id="5000-digit-int"), True, 1.0, None, [1]],
)  # fmt: skip
def test_bad_identifiers(value: object) -> None:
    with pytest.raises(BadQuery, match="obsid"):
        parse_identifier(value)


@pytest.mark.parametrize(
    "text", ["2023-07-12", "2023-07-12 09:30", "2023-07-12T09:30:15", "2023-07-12T09:30:15.250Z"]
)
def test_dates_agree_with_astropy(text: str) -> None:
    expected = Time(text.rstrip("Z").replace(" ", "T"), scale="utc").mjd
    assert parse_mjd(text, "t_min") == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("text", ["yesterday", "2023-02-30", "12/07/2023", "2023-07-12 25:00"])
def test_bad_dates_name_the_field_and_the_forms(text: str) -> None:
    with pytest.raises(BadQuery, match=r"Start Time \(t_min\).*YYYY-MM-DD"):
        parse_mjd(text, "Start Time (t_min)")


def test_mjd_numbers_pass() -> None:
    assert parse_mjd("60000.5", "t_min") == 60000.5 and parse_mjd(60000, "t_min") == 60000


@pytest.mark.parametrize(
    ("page", "size"), [(1e30, 10), (1, float("inf")), (0, 10), (2.5, 10), ("x", 10), (True, 10),
                       (MAX_OFFSET, 10), (1, 10**6)],
)  # fmt: skip
def test_bad_paging(page: object, size: object) -> None:
    with pytest.raises(BadQuery, match="page"):
        parse_paging(page, size, max_page_size=500_000)


def test_paging() -> None:
    assert parse_paging(2.0, "50", max_page_size=100) == (2, 50)


def test_ranges_of_thousands_of_digits() -> None:
    huge = "9" * 5000
    with pytest.raises(RangeNotSatisfiable):
        byte_range(f"bytes={huge}-", 100)
    assert byte_range(f"bytes=10-{huge}", 100) == (10, 99)
    assert byte_range(f"bytes=-{huge}", 100) == (0, 99)
    assert byte_range("bytes=\u0661-\u0662", 100) is None  # not ASCII digits: the whole file
