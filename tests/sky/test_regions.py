"""Footprint parsing/formatting, exact distances against an independent reference, angles."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyarchive.errors import BadQuery
from skyarchive.sky.angles import parse_coordinates, parse_radius
from skyarchive.sky.regions import (
    Circle,
    MultiRegion,
    Polygon,
    distance_arcsec,
    distances_arcsec,
    format_s_region,
    intersects_cone,
    parse_s_region,
    region_center,
)

# Polygons below 0.5 deg: the reference samples edges finely enough for this (arcsec).
DISTANCE_TOLERANCE_ARCSEC = 0.05

RA0_SQUARE = Polygon(((359.9, -0.1), (0.1, -0.1), (0.1, 0.1), (359.9, 0.1)))
NORTH_CAP = Polygon(((0.0, 89.5), (90.0, 89.5), (180.0, 89.5), (270.0, 89.5)))


# ----------------------------------------------------------------------------- strategies


@st.composite
def footprints(draw: st.DrawFn, max_size_deg: float = 0.5) -> tuple[Polygon, float, float, float]:
    """A simple (star-shaped) polygon of 1 arcsec to ``max_size_deg``, anywhere, often near
    a pole or RA 0; returns (polygon, centre ra, centre dec, size in deg)."""
    ra = draw(
        st.one_of(
            st.floats(0, 360, exclude_max=True),
            st.floats(-0.6, 0.6).map(lambda x: x % 360.0),
        )
    )
    dec = draw(st.one_of(st.floats(-90, 90), st.floats(85, 90), st.floats(-90, -85)))
    size = 10 ** draw(st.floats(math.log10(1 / 3600), math.log10(max_size_deg)))
    n = draw(st.integers(3, 8))
    # angular gaps of 0.6..1 (relative) keep every gap below 180 deg: a star-shaped polygon
    gaps = np.array(draw(st.lists(st.floats(0.6, 1.0), min_size=n, max_size=n)))
    start = draw(st.floats(0, 360))
    angles = start + 360.0 * np.cumsum(gaps) / gaps.sum()
    reach = draw(st.lists(st.floats(0.4, 1.0), min_size=n, max_size=n))
    vertices = [reference.offset(ra, dec, a, size * f) for a, f in zip(angles, reach, strict=True)]
    if draw(st.booleans()):
        vertices.reverse()
    return Polygon(tuple(vertices)), ra, dec, size


# ----------------------------------------------------------------------------- STC-S


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON ICRS  151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "POLYGON 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "polygon icrs 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "POLYGON J2000 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "POLYGON FK5 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "POLYGON ICRS GEOCENTER 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "POLYGON ICRS TOPOCENTER 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "Polygon UNKNOWNFRAME 151.73 -40.43 151.76 -40.45 151.70 -40.47",
        "  POLYGON\tICRS\n151.73  -40.43 151.76 -40.45\n 151.70 -40.47  ",
        "POLYGON ICRS 151.73 -40.43 151.76 -40.45 151.70 -40.47 151.73 -40.43",  # closed
    ],
)
def test_parse_polygon_forms(text: str) -> None:
    region = parse_s_region(text)
    assert region == Polygon(((151.73, -40.43), (151.76, -40.45), (151.70, -40.47)))
    assert format_s_region(region) == "POLYGON 151.73 -40.43 151.76 -40.45 151.7 -40.47"


def test_parse_and_format_circle() -> None:
    region = parse_s_region("CIRCLE ICRS 283.39 33.02 0.01")
    assert region == Circle(283.39, 33.02, 0.01)
    assert format_s_region(region) == "CIRCLE 283.39 33.02 0.01"


def test_format_keeps_caom_precision() -> None:
    text = "POLYGON 151.732347616 -40.439019403 151.766291823 -40.45339712 151.7 -40.47"
    assert format_s_region(parse_s_region(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON ICRS 1 1 2 1 2 2 POLYGON ICRS 5 5 6 5 6 6",
        "UNION ICRS (POLYGON 1 1 2 1 2 2 POLYGON 5 5 6 5 6 6)",
        "UNION (Polygon ICRS 1 1 2 1 2 2 1 1 Polygon ICRS 5 5 6 5 6 6)",
    ],
)
def test_parse_unions(text: str) -> None:
    region = parse_s_region(text)
    assert isinstance(region, MultiRegion)
    assert [len(p.vertices) for p in region.regions] == [3, 3]
    assert format_s_region(region) == "UNION (POLYGON 1 1 2 1 2 2 POLYGON 5 5 6 5 6 6)"
    assert parse_s_region(format_s_region(region)) == region
    assert distance_arcsec(region, 5.5, 5.2) == 0.0
    assert distance_arcsec(region, 1.5, 1.2) == 0.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("POLYGON ICRS", "at least 3"),
        ("POLYGON 1 2 3 4", "at least 3"),
        ("POLYGON 1 2 3 4 5", "at least 3"),
        ("POLYGON 1 2 3 4 5 x", "'x'"),
        ("POLYGON 1 2 3 4 5 nan", "stray value"),
        ("POLYGON 1 1 1 1 2 2", "3 distinct"),
        ("CIRCLE ICRS 1 2", "ra dec radius"),
        ("CIRCLE ICRS 1 2 -1", "radius"),
        ("BOX ICRS 10 10 1 1", "BOX"),
        ("POLYGON GALACTIC 1 1 2 1 2 2", "frame GALACTIC"),
        ("POLYGON 1 95 2 1 2 2", "Dec 95"),
        ("POLYGON 400 1 2 1 2 2", "RA 400"),
        ("UNION (POLYGON 1 1 2 1 2 2", "unmatched"),
        ("hello world", "'hello'"),
        ("12 13 14", "stray value"),
    ],
)
def test_parse_errors_name_the_text(text: str, fragment: str) -> None:
    with pytest.raises(BadQuery) as info:
        parse_s_region(text)
    assert repr(text) in str(info.value)
    assert fragment in str(info.value)


def test_polygon_normalises_vertices() -> None:
    polygon = Polygon(((-0.1, 0.0), (360.0, 1.0), (1.0, 1.0), (1.0, 1.0), (-0.1, 0.0)))
    assert polygon.vertices == ((359.9, 0.0), (0.0, 1.0), (1.0, 1.0))
    with pytest.raises(BadQuery, match="antipodal"):
        Polygon(((0.0, 0.0), (180.0, 0.0), (90.0, 45.0)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(footprints(max_size_deg=5.0))
def test_format_parse_round_trip(case: tuple[Polygon, float, float, float]) -> None:
    polygon = case[0]
    text = format_s_region(polygon)
    again = parse_s_region("POLYGON ICRS " + text.removeprefix("POLYGON "))
    assert format_s_region(again) == text
    assert np.allclose(np.array(again.vertices), np.array(polygon.vertices), atol=1e-9, rtol=0)


# ----------------------------------------------------------------------------- distances


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    footprints(),
    st.floats(0, 360),
    st.one_of(st.floats(0, 3), st.floats(0, 180).map(lambda d: -d)),
)
def test_distance_matches_reference(
    case: tuple[Polygon, float, float, float], angle: float, reach: float
) -> None:
    """Non-negative ``reach`` puts the point within 3 sizes of the footprint; negative
    ``reach`` is a plain separation in degrees, anywhere on the sky."""
    polygon, ra, dec, size = case
    separation = size * reach if reach >= 0 else -reach
    p_ra, p_dec = reference.offset(ra, dec, angle, separation)
    expected = reference.distance_arcsec(list(polygon.vertices), p_ra, p_dec)
    got = distance_arcsec(polygon, p_ra, p_dec)
    assert got == pytest.approx(expected, abs=DISTANCE_TOLERANCE_ARCSEC)
    # orientation does not matter
    backwards = Polygon(polygon.vertices[::-1])
    assert distance_arcsec(backwards, p_ra, p_dec) == pytest.approx(got, abs=1e-6)


def test_distance_across_ra_zero() -> None:
    assert distance_arcsec(RA0_SQUARE, 359.99, 0.05) == 0.0
    assert distance_arcsec(RA0_SQUARE, 0.0, 0.0) == 0.0
    assert distance_arcsec(RA0_SQUARE, 0.2, 0.0) == pytest.approx(360.0, abs=1e-6)
    assert distance_arcsec(RA0_SQUARE, 359.8, 0.0) == pytest.approx(360.0, abs=1e-6)
    # from the far side of the sky the nearest points are corners
    far = (180 - math.degrees(math.acos(math.cos(math.radians(0.1)) ** 2))) * 3600
    assert distance_arcsec(RA0_SQUARE, 180.0, 0.0) == pytest.approx(far, abs=1e-3)
    assert region_center(RA0_SQUARE) == pytest.approx((0.0, 0.0), abs=1e-9)


def test_distance_around_the_pole() -> None:
    assert distance_arcsec(NORTH_CAP, 0.0, 90.0) == 0.0
    assert distance_arcsec(NORTH_CAP, 123.0, 89.9) == 0.0
    # the cap's edges are great circles, which bulge poleward between the vertices
    expected = reference.distance_arcsec(list(NORTH_CAP.vertices), 45.0, 89.0)
    assert distance_arcsec(NORTH_CAP, 45.0, 89.0) == pytest.approx(expected, abs=0.01)
    assert distance_arcsec(NORTH_CAP, 0.0, -90.0) == pytest.approx(179.5 * 3600, abs=1e-3)
    assert region_center(NORTH_CAP)[1] == pytest.approx(90.0)


def test_large_polygon_either_orientation() -> None:
    octant = Polygon(((0.0, 0.0), (90.0, 0.0), (0.0, 90.0)))
    for polygon in (octant, Polygon(octant.vertices[::-1])):
        assert polygon.area_sr == pytest.approx(math.pi / 2)
        assert distance_arcsec(polygon, 45.0, 30.0) == 0.0
        assert distance_arcsec(polygon, 45.0, -10.0) == pytest.approx(10 * 3600, abs=1e-6)
        for ra, dec in [(200.0, -30.0), (100.0, 40.0), (350.0, 60.0)]:
            expected = reference.distance_arcsec(list(polygon.vertices), ra, dec)
            assert distance_arcsec(polygon, ra, dec) == pytest.approx(expected, abs=0.05)


def test_circle_distance() -> None:
    circle = Circle(283.39, 33.02, 0.01)
    assert distance_arcsec(circle, 283.39, 33.02) == 0.0
    assert distance_arcsec(circle, 283.39, 33.05) == pytest.approx(0.02 * 3600, abs=1e-6)
    assert Circle(359.999, 0.0, 0.01) == Circle(-0.001, 0.0, 0.01)
    assert distance_arcsec(Circle(359.999, 0.0, 0.01), 0.02, 0.0) == pytest.approx(39.6, abs=1e-6)


def test_vectorised_distances_match_scalar() -> None:
    union = MultiRegion((RA0_SQUARE, Circle(10.0, 0.0, 1.0)))
    regions = [RA0_SQUARE, NORTH_CAP, Circle(1.0, 1.0, 0.5), union, Polygon(RA0_SQUARE.vertices)]
    for ra, dec in [(0.3, 0.0), (9.5, 0.2), (0.0, 89.0), (200.0, -60.0)]:
        many = distances_arcsec(regions, ra, dec)
        assert many.shape == (len(regions),)
        assert many == pytest.approx([distance_arcsec(r, ra, dec) for r in regions], abs=1e-9)
    assert distances_arcsec([], 0.0, 0.0).shape == (0,)


def test_intersects_cone() -> None:
    assert intersects_cone(RA0_SQUARE, 0.2, 0.0, 0.1)  # touches the edge exactly
    assert not intersects_cone(RA0_SQUARE, 0.2, 0.0, 0.0999)
    assert intersects_cone(RA0_SQUARE, 359.95, 0.0, 0.0)


def test_region_center_is_mean_direction() -> None:
    ra, dec = region_center(Polygon(((10.0, 10.0), (12.0, 10.0), (12.0, 12.0), (10.0, 12.0))))
    assert ra == pytest.approx(11.0)
    assert 10.9 < dec < 11.1
    assert region_center(Circle(283.39, 33.02, 0.01)) == (283.39, 33.02)


# ----------------------------------------------------------------------------- angles


@pytest.mark.parametrize(
    ("value", "degrees"),
    [
        (1, 1.0),
        (0, 0.0),
        (0.2, 0.2),
        ("0.2", 0.2),
        ("0.2 deg", 0.2),
        ("0.2d", 0.2),
        ("1m", 1 / 60),
        ("1 arcmin", 1 / 60),
        ("1'", 1 / 60),
        ("30s", 30 / 3600),
        ("30 arcsec", 30 / 3600),
        ('30"', 30 / 3600),
        (" 90 ", 90.0),
        (3 * u.arcmin, 0.05),
        (0.1 * u.deg, 0.1),
    ],
)
def test_parse_radius(value: object, degrees: float) -> None:
    assert parse_radius(value) == pytest.approx(degrees, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (-1, "Radius -1 deg is outside [0, 90] deg"),
        (95, "Radius 95 deg is outside [0, 90] deg"),
        ("95d", "Radius 95 deg"),
        ("abc", "'abc'"),
        ("1 parsec", "'1 parsec'"),
        ("", "''"),
        (float("nan"), "not a finite"),
        (3 * u.m, "not an angle"),
        (True, "not an angle"),
        (None, "not an angle"),
    ],
)
def test_parse_radius_errors(value: object, fragment: str) -> None:
    with pytest.raises(BadQuery) as info:
        parse_radius(value)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "ra", "dec"),
    [
        ("283.396 33.029", 283.396, 33.029),
        ("283.396, 33.029", 283.396, 33.029),
        ("283.396,33.029", 283.396, 33.029),
        ("18:53:35.079 +33:01:45.03", 283.39616, 33.02918),
        ("18h53m35.079s +33d01m45.03s", 283.39616, 33.02918),
        ("18 53 35.079 +33 01 45.03", 283.39616, 33.02918),
        ("18:53:35.079, +33:01:45.03", 283.39616, 33.02918),
        ("00:00:00 -89:59:59", 0.0, -89.99972),
        ("-10 5", 350.0, 5.0),
        ("360 0", 0.0, 0.0),
    ],
)
def test_parse_coordinates(text: str, ra: float, dec: float) -> None:
    got = parse_coordinates(text)
    assert got == pytest.approx((ra, dec), abs=1e-5)
    assert 0.0 <= got[0] < 360.0


@pytest.mark.parametrize("text", ["M57", "NGC 6720", "Ring Nebula", "3C 273", "1 2 3", "", "  "])
def test_names_are_not_coordinates(text: str) -> None:
    with pytest.raises(BadQuery, match="not coordinates|empty"):
        parse_coordinates(text)


@pytest.mark.parametrize("text", ["10 95", "18:53:35 +95:00:00"])
def test_declination_out_of_range(text: str) -> None:
    with pytest.raises(BadQuery, match=r"Declination 95 deg .* outside \[-90, 90\] deg"):
        parse_coordinates(text)
