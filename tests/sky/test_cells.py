"""The HEALPix cell index: no footprint a cone touches may be missed by the cell pre-selection."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
import reference
from astropy.coordinates import SkyCoord
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_regions import NORTH_CAP, RA0_SQUARE, footprints

from skyarchive.sky.cells import (
    CELL_DEPTH,
    _to_ranges,
    cell_of,
    cone_ranges,
    query_depth,
    ranges_contain,
    region_cells,
    region_ranges,
)
from skyarchive.sky.regions import Circle, MultiRegion, Polygon, intersects_cone

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cone_points(ra: float, dec: float, radius: float, n: int = 720) -> np.ndarray:
    """(n, 2) positions on the rim of a cone (a hair inside) and scattered inside it."""
    rng = np.random.default_rng(12345)
    angles = np.concatenate([np.linspace(0, 360, n, endpoint=False), rng.uniform(0, 360, n)])
    reach = np.concatenate([np.full(n, radius * (1 - 1e-9)), radius * np.sqrt(rng.uniform(size=n))])
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(angles * u.deg, reach * u.deg)
    return np.stack([moved.ra.deg, moved.dec.deg], axis=1)


def well_formed(ranges: list[tuple[int, int]]) -> bool:
    flat = [x for r in ranges for x in r]
    return all(lo < hi for lo, hi in ranges) and all(
        a < b for a, b in zip(flat[1::2], flat[2::2], strict=False)
    )


# ----------------------------------------------------------------------------- the key property


@PROPERTY
@given(
    footprints(),
    st.floats(math.log10(1 / 3600), 1.0),
    st.floats(0, 360),
    st.floats(-1.0, 2.0),
)
def test_cone_never_misses_a_footprint_it_touches(
    case: tuple[Polygon, float, float, float], log_radius: float, angle: float, slack: float
) -> None:
    """Cones are placed so that they often just touch the footprint (cone centre at
    radius + slack * footprint size from the footprint centre)."""
    polygon, ra, dec, size = case
    radius = 10**log_radius
    c_ra, c_dec = reference.offset(ra, dec, angle, max(0.0, radius + slack * size))
    touching = intersects_cone(polygon, c_ra, c_dec, radius)
    event("cone touches footprint" if touching else "cone misses footprint")
    if touching:
        cells = region_cells(polygon)
        assert ranges_contain(cone_ranges(c_ra, c_dec, radius), cells).any()


@PROPERTY
@given(
    st.floats(0, 360, exclude_max=True),
    st.one_of(st.floats(-90, 90), st.floats(80, 90), st.floats(-90, -80)),
    st.floats(math.log10(1 / 3600), 1.0),
)
def test_cone_ranges_cover_the_cone(ra: float, dec: float, log_radius: float) -> None:
    radius = 10**log_radius
    ranges = cone_ranges(ra, dec, radius)
    assert well_formed(ranges)
    points = cone_points(ra, dec, radius, n=360)
    assert ranges_contain(ranges, cell_of(points[:, 0], points[:, 1])).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(footprints(max_size_deg=2.0))
def test_footprint_cells_cover_the_footprint(case: tuple[Polygon, float, float, float]) -> None:
    """Every point of the footprint's border, and just inside it, lies in one of its cells
    and in its polygon ranges (the footprints are star-shaped about (ra, dec))."""
    polygon, ra, dec, _ = case
    cells = region_cells(polygon)
    assert cells.dtype == np.int64 and np.all(np.diff(cells) > 0)
    vertices = reference.unit(*np.array(polygon.vertices).T)
    kernel = reference.unit(np.array(ra), np.array(dec))
    points = []
    for i in range(len(vertices)):
        following = vertices[(i + 1) % len(vertices)]
        edge = reference.slerp(vertices[i], following, np.linspace(0, 1, 300))
        nudged = edge * (1 - 1e-7) + kernel * 1e-7
        points += [edge, nudged / np.linalg.norm(nudged, axis=1)[:, None]]
    xyz = np.concatenate(points)
    ra_s = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360
    dec_s = np.degrees(np.arcsin(np.clip(xyz[:, 2], -1, 1)))
    sample_cells = cell_of(ra_s, dec_s)
    assert np.isin(sample_cells, cells).all()
    assert ranges_contain(region_ranges(polygon), sample_cells).all()


# ----------------------------------------------------------------------------- explicit cases


def test_footprint_across_ra_zero_found_from_359_99() -> None:
    cells = region_cells(RA0_SQUARE)
    assert ranges_contain(cone_ranges(359.99, 0.0, 1 / 3600), cells).any()
    assert ranges_contain(cone_ranges(0.15, 0.0, 0.06), cells).any()
    assert not ranges_contain(cone_ranges(10.0, 0.0, 1.0), cells).any()
    # the cover is not the 360-deg-wide box a naive RA range would give
    assert len(cells) < 40


def test_north_pole_inside_a_footprint() -> None:
    cells = region_cells(NORTH_CAP)
    assert cell_of(0.0, 90.0) in cells
    assert cell_of(0.0, 90.0) == cell_of(180.0, 90.0) or cell_of(180.0, 90.0) in cells
    for ra in (0.0, 45.0, 135.0, 225.0, 315.0):
        assert ranges_contain(cone_ranges(ra, 89.9, 0.0), cells).any()
    assert ranges_contain(cone_ranges(0.0, 88.0, 1.6), cells).any()  # touches from outside
    assert not intersects_cone(NORTH_CAP, 0.0, 88.0, 1.4)


def test_cone_containing_the_pole() -> None:
    """cdshealpix 0.7.2's cone_search drops cells near such cones' rims; ours must not."""
    ra, dec, radius = 136.4145921102099, -88.89243478648523, 1.6375618510901302
    points = cone_points(ra, dec, radius, n=5000)
    assert ranges_contain(cone_ranges(ra, dec, radius), cell_of(points[:, 0], points[:, 1])).all()
    circle_cells = region_cells(Circle(ra, dec, radius))
    assert np.isin(cell_of(points[:, 0], points[:, 1]), circle_cells).all()


def test_footprint_with_an_edge_near_the_pole() -> None:
    """cdshealpix 0.7.2's polygon_search drops cells along the first edge; ours must not."""
    triangle = Polygon(((50.12844, -89.52134), (305.90923, -88.94675), (0.0, -88.1875)))
    vertices = reference.unit(*np.array(triangle.vertices).T)
    edge = reference.slerp(vertices[0], vertices[1], np.linspace(0, 1, 2000))
    ra = np.degrees(np.arctan2(edge[:, 1], edge[:, 0])) % 360
    dec = np.degrees(np.arcsin(edge[:, 2]))
    assert np.isin(cell_of(ra, dec), region_cells(triangle)).all()


def test_ten_degree_cone() -> None:
    assert query_depth(10.0) in (4, 5)
    ranges = cone_ranges(83.6, 22.0, 10.0)
    assert well_formed(ranges)
    assert len(ranges) <= 100
    covered = sum(hi - lo for lo, hi in ranges) * 4 * math.pi / (12 << (2 * CELL_DEPTH))
    cone_area = 2 * math.pi * (1 - math.cos(math.radians(10.0)))
    assert cone_area < covered < 3 * cone_area
    far_polygon = Polygon(((83.6, 31.95), (83.7, 31.95), (83.65, 32.05)))  # 9.95 deg north
    assert intersects_cone(far_polygon, 83.6, 22.0, 10.0)
    assert ranges_contain(ranges, region_cells(far_polygon)).any()


def test_zero_radius_inside_a_footprint() -> None:
    footprint = Polygon(((150.0, 2.0), (150.03, 2.0), (150.03, 2.03), (150.0, 2.03)))
    ranges = cone_ranges(150.015, 2.015, 0.0)
    assert ranges_contain(ranges, [cell_of(150.015, 2.015)]).all()
    assert ranges_contain(ranges, region_cells(footprint)).any()
    assert intersects_cone(footprint, 150.015, 2.015, 0.0)


def test_tiny_footprint_has_a_cell() -> None:
    tiny = Polygon(((10.0, 20.0), (10.0001, 20.0), (10.0001, 20.0001)))
    cells = region_cells(tiny)
    assert len(cells) >= 1
    assert cell_of(10.00005, 20.00003) in cells


def test_circle_and_union_cells() -> None:
    circle = Circle(283.39, 33.02, 0.2)
    cells = region_cells(circle)
    points = cone_points(283.39, 33.02, 0.2, n=400)
    assert np.isin(cell_of(points[:, 0], points[:, 1]), cells).all()
    union = MultiRegion((circle, RA0_SQUARE))
    assert set(region_cells(union)) == set(cells) | set(region_cells(RA0_SQUARE))
    assert ranges_contain(region_ranges(union), region_cells(RA0_SQUARE)).all()


def test_query_depth_rule() -> None:
    assert query_depth(0.0) == CELL_DEPTH
    assert query_depth(1 / 60) == CELL_DEPTH
    assert query_depth(1.0) == 7
    assert query_depth(10.0) == 4
    assert query_depth(90.0) == 1
    assert query_depth(180.0) == 0
    assert [query_depth(r, depth=3) for r in (0.0, 1.0, 10.0)] == [3, 3, 3]
    assert cone_ranges(1.0, 2.0, 180.0) == [(0, 12 << (2 * CELL_DEPTH))]


def test_ranges_contain() -> None:
    ranges = [(0, 4), (10, 11), (20, 40)]
    cells = np.array([0, 3, 4, 9, 10, 11, 19, 20, 39, 40, 1000])
    expected = [True, True, False, False, True, False, False, True, True, False, False]
    assert ranges_contain(ranges, cells).tolist() == expected
    assert ranges_contain([], cells).tolist() == [False] * len(cells)


def test_cell_of_shapes() -> None:
    assert np.shape(cell_of(10.0, 20.0)) == ()
    assert cell_of([10.0, 370.0], [20.0, 20.0]).tolist() == [cell_of(10.0, 20.0)] * 2


@pytest.mark.parametrize("radius", [0.0, 1 / 3600, 0.5, 10.0, 90.0])
def test_cone_ranges_at_other_depths(radius: float) -> None:
    ranges = cone_ranges(12.0, -45.0, radius, depth=12)
    assert well_formed(ranges)
    assert ranges_contain(ranges, [cell_of(12.0, -45.0, depth=12)]).all()


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 12 * 4**6 - 1)), max_size=200))
def test_cells_become_the_ranges_of_what_they_cover(cells: list[tuple[int, int]]) -> None:
    """A cover of a few cells (plain Python) and of many (numpy) alike: sorted, disjoint,
    non-adjacent ranges of exactly the depth-6 cells the cells hold."""
    depth = 6
    coarse = [(d, i >> 2 * (depth - d)) for d, i in cells]  # a cell of depth d holding i
    depths = np.array([d for d, _ in coarse], dtype=np.int64)
    ipix = np.array([i for _, i in coarse], dtype=np.int64)
    ranges = _to_ranges(ipix, depths, depth)
    held = {c for d, i in coarse for c in range(i << 2 * (depth - d), (i + 1) << 2 * (depth - d))}
    assert well_formed(ranges)
    assert {c for lo, hi in ranges for c in range(lo, hi)} == held
    with pytest.raises(ValueError, match="deeper"):
        _to_ranges(np.append(ipix, 0), np.append(depths, depth + 1), depth)
