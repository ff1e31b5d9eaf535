"""Cone matching on footprints: an indexed HEALPix-cell pre-selection, then the exact test.

A cone matches an observation when it intersects the observation's footprint (not only its
centre); the distance reported is 0 inside the footprint, else to its nearest edge.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, or_, select

from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.tables import footprint_cells, footprint_vertices, observations
from skyarchive.kept import Kept
from skyarchive.sky.cells import cone_ranges
from skyarchive.sky.regions import CONE_EPSILON_ARCSEC
from skyarchive.sky.stored_footprints import s_region_distances_arcsec


@dataclass(frozen=True)
class Cone:
    """A search cone; all in degrees (ICRS)."""

    ra: float
    dec: float
    radius: float


def cells_clause(cone: Cone) -> ColumnElement[bool]:
    return ranges_clause(cone_ranges(cone.ra, cone.dec, cone.radius))


def ranges_clause(ranges: Sequence[tuple[int, int]]) -> ColumnElement[bool]:
    """Footprint cells in any of the half-open cell ranges (as from ``sky.cells``).

    Every range is written ``lo <= cell < hi``, a single cell too: the clause's form then
    depends only on the number of ranges, so SQLAlchemy's compiled cache serves every cone
    with as many ranges (compiling the ObsCore statement anew cost ten times its execution).
    """
    cell = footprint_cells.c.cell
    return or_(*(and_(cell >= lo, cell < hi) for lo, hi in ranges))


def cone_matches(
    conn: Connection,
    cone: Cone,
    where: ColumnElement[bool] | None = None,
    *,
    where_shape: Hashable | None = None,
    params: dict[str, Any] | None = None,
) -> list[tuple[int, float]]:
    """(obsid, distance in arcsec) of every observation the cone touches, nearest first.

    ``where_shape``: names ``where``, a clause of bound parameters given in ``params``; the
    statement is then kept per shape, as without ``where``."""
    shape = "matches only" if where_shape is None else ("matches only", where_shape)
    found = _touching(conn, cone, where, (), shape, params or {},
                      where_kept=where_shape is not None)  # fmt: skip
    assert found is not None  # nothing carried, no limit
    return [(obsid, distance) for obsid, distance, _ in found]


def cone_rows(
    conn: Connection,
    cone: Cone,
    carried: Sequence[ColumnElement[Any]],
    *,
    shape: Hashable,
    where: ColumnElement[bool] | None = None,
    where_kept: bool = False,
    params: dict[str, Any] | None = None,
    most: int = 5000,
) -> list[tuple[Sequence[Any], float]] | None:
    """(``carried`` columns, distance in arcsec) of every observation the cone touches,
    nearest first, read with the candidates in one query; None when more than ``most``
    candidates would have to be held (then read the matches' rows a window at a time).

    ``shape`` names ``carried`` (the same shape, the same columns): without ``where``, or
    with ``where_kept`` (``shape`` then names ``where`` too: a clause of bound parameters,
    given in ``params``), the statement is built once per shape and number of cell ranges.
    """
    found = _touching(conn, cone, where, tuple(carried), shape, params or {}, most,
                      where_kept=where_kept)  # fmt: skip
    return None if found is None else [(row, distance) for _, distance, row in found]


_LEADING = 4  # obsid, obs_id, s_region, stored vertices, before the carried columns


def _touching(
    conn: Connection,
    cone: Cone,
    where: ColumnElement[bool] | None,
    carried: tuple[ColumnElement[Any], ...],
    shape: Hashable,
    params: dict[str, Any],
    most: int | None = None,
    *,
    where_kept: bool = False,
) -> list[tuple[int, float, Sequence[Any]]] | None:
    ranges = cone_ranges(cone.ra, cone.dec, cone.radius)
    bounds = {f"lo{i}": lo for i, (lo, _) in enumerate(ranges)}
    bounds.update((f"hi{i}", hi) for i, (_, hi) in enumerate(ranges))
    held = None if most is None else most + 1
    rows: Sequence[Sequence[Any]]
    if where is None or where_kept:
        # One statement per shape, compiled once and read on the driver's cursor (building
        # the cell ranges' clause cost more than the query; SQLAlchemy's execution of it, a
        # tenth of the cone).
        def build() -> DriverRows:
            query = _cone_query(len(ranges), carried)
            return DriverRows(query if where is None else query.where(where))

        reading = _STATEMENTS.get((len(ranges), shape), build)
        rows = reading.tuples(conn, {**params, **bounds}, most=held)
    else:
        result = conn.execute(_cone_query(len(ranges), carried).where(where), {**params, **bounds})
        rows = result.all() if held is None else result.fetchmany(held)
        result.close()
    if most is not None and len(rows) > most:
        return None
    rows = [r for r in rows if r[2]]
    if not rows:
        return []
    distances = s_region_distances_arcsec(
        [r[2] for r in rows], cone.ra, cone.dec, [r[3] for r in rows]
    )
    limit = cone.radius * 3600.0 + CONE_EPSILON_ARCSEC
    matched = [
        (row[1], row[0], float(d), row)
        for row, d in zip(rows, distances, strict=True)
        if d <= limit
    ]
    matched.sort(key=lambda m: (m[2], m[0]))
    return [(obsid, distance, row[_LEADING:]) for _, obsid, distance, row in matched]


def _cone_query(n_ranges: int, carried: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    """The observations with a footprint cell in ``n_ranges`` ranges ``[:lo<i>, :hi<i>)``."""
    cell = footprint_cells.c.cell
    ranges = [
        and_(
            cell >= bindparam(f"lo{i}", type_=cell.type),
            cell < bindparam(f"hi{i}", type_=cell.type),
        )
        for i in range(n_ranges)
    ]
    # No DISTINCT: the IN below de-duplicates already, and with DISTINCT SQLite's planner
    # turns, from about six ranges on, to scanning every cell in obsid order (the obsid index
    # hands the rows over sorted, so no temporary B-tree is needed for DISTINCT): 5.3 million
    # cells read at 10^6 observations, the cone's 5 s stalls. tests/search/test_cone_plan.py.
    candidates = select(footprint_cells.c.obsid).where(or_(*ranges))
    o, vertices = observations.c, footprint_vertices.c
    return (
        select(o.obsid, o.obs_id, o.s_region, vertices.xyz, *carried)
        .select_from(observations.outerjoin(footprint_vertices, vertices.obsid == o.obsid))
        .where(o.obsid.in_(candidates.scalar_subquery()))
    )


#: The cone's statement per number of cell ranges and shape (the clients' column lists).
_STATEMENTS: Kept[DriverRows] = Kept(256)
