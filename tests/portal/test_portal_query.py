"""The portal's search-box syntax: names, coordinates, radii, program lists, and their errors."""

from __future__ import annotations

import pytest

from skyarchive.errors import BadQuery
from skyarchive.search.portal_query import (
    DEFAULT_RADIUS_DEG,
    parse_position_text,
    parse_program_ids,
    split_radius,
)
from skyarchive.search.portal_search import lenient_target_names
from skyarchive.sky.resolver import ResolverChain, StaticResolver

M57 = (283.396, 33.029, "MESSIER 057")


@pytest.fixture
def resolver() -> ResolverChain:
    return ResolverChain([StaticResolver({"M57": M57, "WASP-39": (217.3266, -5.4445)})])


@pytest.mark.parametrize(
    ("text", "radius"),
    [("m57 r=1m", 1 / 60), ("m57 r=30s", 30 / 3600), ("m57 r=0.02d", 0.02), ("m57 R=0.1", 0.1),
     ("m57 radius=2arcmin", 2 / 60), ("m57", None)],
)  # fmt: skip
def test_split_radius(text: str, radius: float | None) -> None:
    target, got = split_radius(text)
    assert target == "m57"
    assert got == pytest.approx(radius) if radius is not None else got is None


def test_name_with_radius_is_resolved_and_displayed(resolver: ResolverChain) -> None:
    query = parse_position_text("m57 r=1m", resolver)
    assert (query.ra, query.dec) == (283.396, 33.029)
    assert query.radius == pytest.approx(1 / 60)
    assert query.canonical_name == "MESSIER 057" and query.name == "m57"
    assert query.display == "MESSIER 057, radius: 0.01667°"


def test_name_without_radius_uses_the_default(resolver: ResolverChain) -> None:
    query = parse_position_text("WASP-39", resolver)
    assert query.radius == DEFAULT_RADIUS_DEG == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("text", "ra", "dec", "radius"),
    [
        ("18:53:35 +33:01:45 r=30s", 283.395833, 33.029167, 30 / 3600),
        ("283.396 33.029 r=0.02d", 283.396, 33.029, 0.02),
        ("283.396, 33.029", 283.396, 33.029, DEFAULT_RADIUS_DEG),
        ("18h53m35s +33d01m45s r=1m", 283.395833, 33.029167, 1 / 60),
    ],
)
def test_coordinates(resolver, text: str, ra: float, dec: float, radius: float) -> None:  # type: ignore[no-untyped-def]
    query = parse_position_text(text, resolver)
    assert query.ra == pytest.approx(ra, abs=1e-5) and query.dec == pytest.approx(dec, abs=1e-5)
    assert query.radius == pytest.approx(radius)
    assert query.canonical_name is None
    assert resolver.resolvers[0].calls == []  # coordinates never reach the resolver


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuchobject", "Could not resolve 'nosuchobject'"),
        ("m57 r=abc", "Radius 'abc' is not understood"),
        ("m57 r=", "radius after 'r=' is missing"),
        ("m57 r=100d", "outside [0, 90]"),
        ("283.396 95", "outside [-90, 90]"),
        ("", "Type an object name"),
        ("r=1m", "before the radius"),
    ],
)
def test_errors_are_bad_queries_with_the_reason(resolver, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadQuery, match=None) as caught:
        parse_position_text(text, resolver)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("1073", ["1073"]),
        ("1073,1558", ["1073", "1558"]),
        (" 01073 , jw1558; 1073 ", ["1073", "1558"]),
    ],
)
def test_program_ids(text: str, ids: list[str]) -> None:
    assert parse_program_ids(text) == ids


@pytest.mark.parametrize("text", ["", "1073, abc", "10 73x"])
def test_bad_program_ids(text: str) -> None:
    with pytest.raises(BadQuery):
        parse_program_ids(text)


def test_target_names_match_with_or_without_a_separator() -> None:
    filters = [{"paramName": "target_name", "values": ["NGC6720*", "WASP-39"]},
               {"paramName": "instrument_name", "values": ["MIRI*"]}]  # fmt: skip
    lenient = lenient_target_names(filters)
    assert lenient[0]["values"] == [
        "NGC6720*", "NGC 6720*", "NGC-6720*", "NGC_6720*", "WASP39", "WASP 39", "WASP-39", "WASP_39"
    ]  # fmt: skip
    assert lenient[1] == filters[1]
