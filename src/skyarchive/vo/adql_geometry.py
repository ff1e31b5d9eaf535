"""ADQL geometry onto the archive's footprint cell index, with the exact test applied.

Two kinds of test, both ending in an exact answer:

* **A row's position in a constant shape** (``CONTAINS(POINT(s_ra, s_dec), CIRCLE(...)) = 1``,
  ``DISTANCE(POINT(s_ra, s_dec), POINT(...)) < r``, a convex POLYGON): one SQL condition, the
  observation among those with a footprint cell in the shape's cover (``footprint_cells``,
  the index the MAST cone uses) and the exact spherical test on the position, written in SQL
  (a haversine for circles, one half-space per edge for convex polygons). The cover is
  complete for positions that lie in their own footprint's cells, which ingest makes true:
  ``s_ra``/``s_dec`` are the footprint's centre, whose cell is always among its cells.
* **A row's footprint against a constant shape** (``INTERSECTS(s_region, CIRCLE(...))``,
  ``CONTAINS(POINT(...), s_region)``, ``INTERSECTS(s_region, POLYGON(...))``): the footprints
  are STC-S text, which SQL cannot test, so the matching observations are found first (cells,
  then the exact test of :mod:`skyarchive.sky.regions` in Python, as the MAST cone does) and
  the condition becomes ``obsid IN (...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    and_,
    case,
    false,
    func,
    literal,
    select,
    true,
)

from skyarchive.db.tables import footprint_cells, observations
from skyarchive.errors import BadQuery, PayloadTooLarge
from skyarchive.search.cone import Cone, cone_matches, ranges_clause
from skyarchive.sky.cells import cone_ranges, region_ranges
from skyarchive.sky.regions import (
    CONE_EPSILON_ARCSEC,
    Circle,
    MultiRegion,
    Polygon,
    _distances_rad,
    parse_s_region,
    radec_to_xyz,
)
from skyarchive.vo.adql_shapes import ParameterPlan

#: A footprint test that matches more observations than this is refused: its ``IN`` list
#: would cost more than the query (ask for positions, which SQL tests, instead).
MAX_FOOTPRINT_MATCHES = 200_000
_EPSILON_RAD = math.radians(CONE_EPSILON_ARCSEC / 3600.0)


@dataclass(frozen=True)
class ConstPoint:
    ra: float
    dec: float


@dataclass(frozen=True)
class RowPoint:
    """``POINT(ra, dec)`` of a row's columns; ``obsid`` when they are an indexed position."""

    ra: ColumnElement[Any]
    dec: ColumnElement[Any]
    obsid: ColumnElement[Any] | None


@dataclass(frozen=True)
class RowRegion:
    """A row's footprint (``s_region``) and the observation id it belongs to."""

    obsid: ColumnElement[Any]


Shape = Circle | Polygon
Geometry = ConstPoint | RowPoint | RowRegion | Circle | Polygon


def circle(ra: float, dec: float, radius: float) -> Circle:
    return Circle(ra, dec, radius)


def polygon(coords: Sequence[float]) -> Polygon:
    if len(coords) % 2 or len(coords) < 6:
        raise BadQuery(f"POLYGON takes at least three (ra, dec) pairs; got {len(coords)} numbers.")
    return Polygon(tuple(zip(coords[0::2], coords[1::2], strict=True)))


def point(ra: float, dec: float) -> ConstPoint:
    Circle(ra, dec, 0.0)  # the same checks of the position
    return ConstPoint(ra % 360.0, dec)


def contains(
    inner: Geometry, outer: Geometry, conn: Connection, plan: ParameterPlan | None = None
) -> ColumnElement[bool]:
    """``CONTAINS(inner, outer) = 1`` as SQL; ``plan`` learns which of the query's numbers
    the statement binds and which it was made for (``adql_shapes``)."""
    if plan is None:
        plan = ParameterPlan(None)
    if isinstance(outer, Circle | Polygon):
        if isinstance(inner, ConstPoint):
            plan.fix_shape(outer)
            return true() if _point_inside(inner, outer) else false()
        if isinstance(inner, RowPoint):
            return _row_point_in(inner, outer, plan)
        if isinstance(inner, Circle | Polygon):
            raise BadQuery("CONTAINS of two constant shapes is not supported; use POINTs.")
        raise BadQuery(
            "CONTAINS(s_region, ...) (a footprint inside a shape) is not supported; "
            "use INTERSECTS(s_region, ...) or CONTAINS(POINT(s_ra, s_dec), ...)."
        )
    if isinstance(outer, RowRegion) and isinstance(inner, ConstPoint):
        return _footprints_touching(outer, Circle(inner.ra, inner.dec, 0.0), conn, plan)
    raise BadQuery(
        "CONTAINS takes a POINT and a CIRCLE or POLYGON, or a constant POINT and s_region."
    )


def intersects(
    a: Geometry, b: Geometry, conn: Connection, plan: ParameterPlan | None = None
) -> ColumnElement[bool]:
    """``INTERSECTS(a, b) = 1`` as SQL (either order)."""
    if plan is None:
        plan = ParameterPlan(None)
    if isinstance(b, RowRegion | RowPoint):
        a, b = b, a
    if isinstance(a, RowPoint):
        if isinstance(b, ConstPoint):
            raise BadQuery("INTERSECTS of two POINTs is not supported; use DISTANCE.")
        return contains(a, b, conn, plan)
    if isinstance(a, RowRegion):
        if isinstance(b, ConstPoint):
            b = Circle(b.ra, b.dec, 0.0)
        if isinstance(b, Circle | Polygon):
            return _footprints_touching(a, b, conn, plan)
    raise BadQuery("INTERSECTS takes s_region or a POINT of columns, and a constant shape.")


def distance_sql(a: Geometry, b: Geometry) -> ColumnElement[Any]:
    """``DISTANCE(a, b)`` in degrees as SQL (the haversine, which keeps small angles exact)."""
    a_ra, a_dec = _point_sql(a)
    b_ra, b_dec = _point_sql(b)
    h = _haversine_sql(a_ra, a_dec, b_ra, b_dec)
    return func.degrees(2.0 * func.asin(func.sqrt(_clip_unit(h))))


def within_distance(
    a: Geometry, b: Geometry, radius: float, plan: ParameterPlan
) -> ColumnElement[bool] | None:
    """``DISTANCE(a, b) <= radius`` through the index when one side is a row's position and
    the other a constant point (both fixed in ``plan``); None when it is not that case."""
    if isinstance(a, ConstPoint) and isinstance(b, RowPoint):
        a, b = b, a
    if isinstance(a, RowPoint) and isinstance(b, ConstPoint) and radius >= 0:
        return _row_point_in(a, Circle(b.ra, b.dec, min(radius, 180.0)), plan)
    return None


def coordinate(g: Geometry, index: int) -> ColumnElement[Any]:
    ra, dec = _point_sql(g)
    return ra if index == 1 else dec


# ------------------------------------------------------------------------------ internals


def _point_sql(g: Geometry) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    if isinstance(g, RowPoint):
        return g.ra, g.dec
    if isinstance(g, ConstPoint):
        return literal(g.ra), literal(g.dec)
    raise BadQuery("DISTANCE, COORD1 and COORD2 take POINTs.")


def _clip_unit(value: ColumnElement[Any]) -> ColumnElement[Any]:
    # rounding may take a haversine a hair outside [0, 1], where asin and sqrt fail
    return case((value > 1.0, 1.0), (value < 0.0, 0.0), else_=value)


def _haversine_sql(
    ra1: ColumnElement[Any], dec1: ColumnElement[Any], ra2: Any, dec2: Any
) -> ColumnElement[Any]:
    half_dec = func.sin(func.radians(dec1 - dec2) / 2.0)
    half_ra = func.sin(func.radians(ra1 - ra2) / 2.0)
    return (
        half_dec * half_dec
        + func.cos(func.radians(dec1)) * func.cos(func.radians(dec2)) * half_ra * half_ra
    )


def _point_inside(p: ConstPoint, shape: Shape) -> bool:
    xyz = radec_to_xyz(p.ra, p.dec)[None, :]
    return bool(_distances_rad([shape], xyz)[0, 0] <= _EPSILON_RAD)


def _candidates(p: RowPoint, ranges: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    if p.obsid is None:
        return true()
    return p.obsid.in_(select(footprint_cells.c.obsid).where(ranges_clause(ranges)))


@lru_cache(maxsize=64)  # a kept shape's variants each ask for the same cone (adql_shapes)
def cone_values(numbers: tuple[float, ...]) -> dict[str, Any]:
    """What a cone's SQL is bound with, from its CIRCLE's (ra, dec, radius): the centre, the
    haversine's limit and the footprint cell ranges (``lo0``, ``hi0``, ...); the whole sky (a
    radius of 180 or more, tested without them) has none. Shared: not to be changed."""
    shape = Circle(*numbers)
    if shape.radius >= 180.0:
        return {}
    values: dict[str, Any] = {
        "ra": shape.ra,
        "dec": shape.dec,
        "limit": math.sin(math.radians(shape.radius) / 2.0 + _EPSILON_RAD) ** 2,
    }
    for k, (lo, hi) in enumerate(cone_ranges(shape.ra, shape.dec, shape.radius)):
        values[f"lo{k}"] = lo
        values[f"hi{k}"] = hi
    return values


def _row_point_in(p: RowPoint, shape: Shape, plan: ParameterPlan) -> ColumnElement[bool]:
    if isinstance(shape, Circle):
        values = cone_values((shape.ra, shape.dec, shape.radius))
        if not values:
            plan.fix_shape(shape)
            return and_(p.ra.is_not(None), p.dec.is_not(None))
        types = {"ra": p.ra.type, "dec": p.dec.type, "limit": Float()}

        def type_of(key: str) -> Any:
            return types.get(key, footprint_cells.c.cell.type)

        bound = plan.bind_cone(shape, values, type_of, cone_values)
        h = _haversine_sql(p.ra, p.dec, bound["ra"], bound["dec"])
        ranges = [(bound[f"lo{k}"], bound[f"hi{k}"]) for k in range((len(values) - 3) // 2)]
        return and_(_candidates(p, ranges), h <= bound["limit"])
    plan.fix_shape(shape)
    normals = _inward_normals(shape)
    cos_dec = func.cos(func.radians(p.dec))
    x = cos_dec * func.cos(func.radians(p.ra))
    y = cos_dec * func.sin(func.radians(p.ra))
    z = func.sin(func.radians(p.dec))
    tests = [x * float(n[0]) + y * float(n[1]) + z * float(n[2]) >= -_EPSILON_RAD for n in normals]
    return and_(_candidates(p, region_ranges(shape)), *tests)


def _inward_normals(shape: Polygon) -> np.ndarray:
    """Unit normals of the edges' great circles, pointing into a convex polygon."""
    v = shape.xyz
    normals = np.cross(v, np.roll(v, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    centre = v.sum(axis=0)
    centre /= np.linalg.norm(centre)
    sides = normals @ centre
    if np.all(sides < 0):
        normals, sides = -normals, -sides
    # convex: every vertex on the inner side of every edge (its own two edges give 0)
    if not (np.all(sides > 0) and np.all(v @ normals.T >= -1e-12)):
        raise BadQuery(
            "A POLYGON tested against positions must be convex (its vertices in order "
            "around it); split a concave one into convex POLYGONs joined with OR."
        )
    return normals


def _footprints_touching(
    region: RowRegion, shape: Shape, conn: Connection, plan: ParameterPlan
) -> ColumnElement[bool]:
    plan.no_reuse()  # the matches are read from the database now, not at execution
    if isinstance(shape, Circle):
        matched = [
            obsid for obsid, _ in cone_matches(conn, Cone(shape.ra, shape.dec, shape.radius))
        ]
    else:
        matched = _footprints_touching_polygon(shape, conn)
    if len(matched) > MAX_FOOTPRINT_MATCHES:
        raise PayloadTooLarge(
            f"The shape touches {len(matched):,} footprints, more than the "
            f"{MAX_FOOTPRINT_MATCHES:,} a footprint test takes; use a smaller shape, or test "
            "positions: CONTAINS(POINT(s_ra, s_dec), ...) = 1."
        )
    if not matched:
        return false()
    return region.obsid.in_(matched)


def _footprints_touching_polygon(shape: Polygon, conn: Connection) -> list[int]:
    candidates = select(footprint_cells.c.obsid).where(ranges_clause(region_ranges(shape)))
    rows = conn.execute(
        select(observations.c.obsid, observations.c.s_region).where(
            observations.c.obsid.in_(candidates.scalar_subquery())  # no DISTINCT: search/cone.py
        )
    ).all()
    return [r.obsid for r in rows if r.s_region and _polygon_touches(shape, r.s_region)]


def _polygon_touches(shape: Polygon, s_region: str) -> bool:
    """Whether a footprint and a polygon share a point: a vertex of one inside the other, or
    two edges that cross."""
    footprint = parse_s_region(s_region)
    parts = footprint.regions if isinstance(footprint, MultiRegion) else (footprint,)
    for part in parts:
        if isinstance(part, Circle):
            if _distances_rad([shape], part.xyz[None, :])[0, 0] <= math.radians(part.radius):
                return True
            continue
        if np.any(_distances_rad([shape], part.xyz)[:, 0] <= _EPSILON_RAD):
            return True
        if np.any(_distances_rad([part], shape.xyz)[:, 0] <= _EPSILON_RAD):
            return True
        if _edges_cross(part.xyz, shape.xyz):
            return True
    return False


def _edges_cross(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether any edge of ring ``a`` crosses any edge of ring ``b`` (unit vectors)."""
    a1, a2 = a, np.roll(a, -1, axis=0)
    b1, b2 = b, np.roll(b, -1, axis=0)
    na = np.cross(a1, a2)  # (n, 3)
    nb = np.cross(b1, b2)  # (m, 3)
    # b's endpoints on opposite sides of a's great circle, and a's of b's
    sb1, sb2 = b1 @ na.T, b2 @ na.T  # (m, n)
    sa1, sa2 = (a1 @ nb.T).T, (a2 @ nb.T).T  # (m, n)
    straddle = (sb1 * sb2 <= 0) & (sa1 * sa2 <= 0)
    if not np.any(straddle):
        return False
    # the two great circles meet at +-t; the crossing is real when t (or -t) is on both arcs
    t = np.cross(nb[:, None, :], na[None, :, :])  # (m, n, 3)
    for sign in (1.0, -1.0):
        s = sign * t
        on_a = (np.einsum("mnk,nk->mn", s, np.cross(a1, na)) <= 1e-15) & (
            np.einsum("mnk,nk->mn", s, np.cross(na, a2)) <= 1e-15
        )
        on_b = (np.einsum("mnk,mk->mn", s, np.cross(b1, nb)) <= 1e-15) & (
            np.einsum("mnk,mk->mn", s, np.cross(nb, b2)) <= 1e-15
        )
        if np.any(straddle & on_a & on_b):
            return True
    return False
