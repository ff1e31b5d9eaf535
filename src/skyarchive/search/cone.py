"""Cone matching on footprints: an indexed HEALPix-cell pre-selection, then the exact test.

A cone matches an observation when it intersects the observation's footprint (not only its
centre); the distance reported is 0 inside the footprint, else to its nearest edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from skyarchive.db.tables import footprint_cells, observations
from skyarchive.sky.cells import cone_ranges
from skyarchive.sky.regions import CONE_EPSILON_ARCSEC, s_region_distances_arcsec


@dataclass(frozen=True)
class Cone:
    """A search cone; all in degrees (ICRS)."""

    ra: float
    dec: float
    radius: float


def cells_clause(cone: Cone) -> ColumnElement[bool]:
    return ranges_clause(cone_ranges(cone.ra, cone.dec, cone.radius))


def ranges_clause(ranges: Sequence[tuple[int, int]]) -> ColumnElement[bool]:
    """Footprint cells in any of the half-open cell ranges (as from ``sky.cells``)."""
    cell = footprint_cells.c.cell
    return or_(*(and_(cell >= lo, cell < hi) if hi - lo > 1 else cell == lo for lo, hi in ranges))


def cone_matches(
    conn: Connection, cone: Cone, where: ColumnElement[bool] | None = None
) -> list[tuple[int, float]]:
    """(obsid, distance in arcsec) of every observation the cone touches, nearest first."""
    candidates = select(footprint_cells.c.obsid).where(cells_clause(cone)).distinct()
    query = select(observations.c.obsid, observations.c.obs_id, observations.c.s_region).where(
        observations.c.obsid.in_(candidates.scalar_subquery())
    )
    if where is not None:
        query = query.where(where)
    rows = [r for r in conn.execute(query) if r.s_region]
    if not rows:
        return []
    distances = s_region_distances_arcsec([r.s_region for r in rows], cone.ra, cone.dec)
    limit = cone.radius * 3600.0 + CONE_EPSILON_ARCSEC
    matched = [
        (row.obs_id, row.obsid, float(d))
        for row, d in zip(rows, distances, strict=True)
        if d <= limit
    ]
    matched.sort(key=lambda m: (m[2], m[0]))
    return [(obsid, distance) for _, obsid, distance in matched]
