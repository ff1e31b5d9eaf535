"""HEALPix NESTED cell index of footprints, and the cell ranges a search has to look at.

The catalog keeps, per observation, every depth-:data:`CELL_DEPTH` cell its footprint
touches (``footprint_cells``). A cone search turns its cone into a few half-open ranges
``[lo, hi)`` of depth-:data:`CELL_DEPTH` cell numbers (:func:`cone_ranges`), takes the
observations with a cell in one of them, and then applies the exact test of
:mod:`skyarchive.sky.regions`.

Both covers err on the side of too many cells, never too few: if a cone touches a
footprint, some footprint cell lies in the cone's ranges.

Covers come from our own descent of the HEALPix tree: a cell is kept when a cap that
surely holds it (its border as given by ``cdshealpix.nested.vertices``) comes within the
region by the exact distance of :mod:`skyarchive.sky.regions`, so completeness rests on
that distance alone. Footprint cells are decided two depths deeper and then taken up to
:data:`CELL_DEPTH`, which keeps the extra cells along the border few; the cells of every
vertex and of the centre are added too, so a footprint smaller than a cell is never
cell-less.

We do not use ``cdshealpix.nested.cone_search`` or ``polygon_search`` for covers: in
cdshealpix 0.7.2 both drop cells near the poles (a cone at ra=136.41, dec=-88.89 of
radius 1.64 deg loses cells on its rim; a 1-deg triangle around dec -89 loses cells along
an edge passing near the pole).

A NESTED cell ``i`` at depth ``d`` holds exactly the cells ``[i << 2k, (i + 1) << 2k)`` at
depth ``d + k``, so a cone covered at a coarse depth still becomes a short list of ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import Latitude, Longitude
from cdshealpix import cdshealpix as cdshealpix_core
from cdshealpix import nested

from skyarchive.sky.regions import (
    Circle,
    MultiRegion,
    Polygon,
    Region,
    _center_xyz,
    _distances_rad,
    radec_to_xyz,
    xyz_to_radec,
)

_MEAN_CELL_DEG = 58.63  # mean size of a depth-0 cell; depth d cells are 2**d times smaller
_FAST_PATH_MAX_LATITUDE = 85.0
_POLYGON_FAST_MAX_LATITUDE = 60.0

__all__ = [
    "CELL_DEPTH",
    "MAX_QUERY_CELLS",
    "cell_of",
    "cone_ranges",
    "query_depth",
    "ranges_contain",
    "region_cells",
    "region_ranges",
]

#: Depth of the stored footprint cells (NESTED, nside 1024, cells about 3.4 arcmin).
CELL_DEPTH = 10
#: Mean cell size at depth 0 in degrees; at depth d it is this / 2**d.
_DEPTH0_CELL_DEG = math.degrees(math.sqrt(4.0 * math.pi / 12.0))
#: A search cover aims at a cell size of about a quarter of the search radius, which keeps
#: it to roughly this many cells (cells wholly inside stay coarse, so usually fewer).
MAX_QUERY_CELLS = 100
_CELLS_PER_RADIUS = 4.0
# Covers are grown by this much (degrees, about 4 microarcsec) so rounding at the exact
# edge of a cone can never drop a cell.
_MARGIN_DEG = 1e-9


def _lonlat(ra: npt.ArrayLike, dec: npt.ArrayLike) -> tuple[Longitude, Latitude]:
    # Longitude wraps any RA into [0, 360), which is what cdshealpix wants
    return Longitude(np.asarray(ra, dtype=float), u.deg), Latitude(
        np.clip(np.asarray(dec, dtype=float), -90.0, 90.0), u.deg
    )


def cell_of(ra: npt.ArrayLike, dec: npt.ArrayLike, depth: int = CELL_DEPTH) -> np.ndarray:
    """NESTED cell numbers of positions.

    Parameters
    ----------
    ra, dec : float or array_like
        Positions in degrees.
    depth : int
        HEALPix depth (nside = 2**depth).

    Returns
    -------
    numpy.ndarray
        ``int64`` cell numbers, same shape as ``ra``.
    """
    lon, lat = _lonlat(ra, dec)
    cells = np.asarray(nested.lonlat_to_healpix(lon, lat, depth), dtype=np.int64)
    return cells.reshape(np.shape(ra))  # cdshealpix turns a scalar into shape (1,)


def query_depth(radius_deg: float, depth: int = CELL_DEPTH) -> int:
    """Depth at which a search of a given radius is covered.

    The deepest depth (at most ``depth``) whose mean cell size is still at least a quarter
    of the radius, which keeps a cone cover to about :data:`MAX_QUERY_CELLS` cells:
    depth 4 for 10 deg, 7 for 1 deg, ``depth`` (10) for radii below about 14 arcmin.

    Parameters
    ----------
    radius_deg : float
        Search radius in degrees.
    depth : int
        The finest depth wanted.

    Returns
    -------
    int
        A depth in ``[0, depth]``.
    """
    if radius_deg <= 0:
        return depth
    coarse = math.floor(math.log2(_DEPTH0_CELL_DEG * _CELLS_PER_RADIUS / radius_deg))
    return max(0, min(depth, coarse))


#: Covers of at most this many cells are turned into ranges in plain Python: a small cone's
#: dozen cells cost numpy's per-call overhead (shifts, a sort) many times over what the
#: arithmetic is (a third of the cover's time); larger covers take numpy's passes.
_FEW_CELLS = 64


def _to_ranges(ipix: np.ndarray, depths: np.ndarray, depth: int) -> list[tuple[int, int]]:
    """Cells ``(depths, ipix)`` (all at most ``depth``) as merged ranges at ``depth``."""
    cells: Iterable[tuple[int, int]]
    if len(ipix) <= _FEW_CELLS:
        shifts = [2 * (depth - d) for d in np.asarray(depths).tolist()]
        if shifts and min(shifts) < 0:
            raise ValueError(f"cells deeper than depth {depth}")
        cells = sorted(
            (i << shift, (i + 1) << shift)
            for i, shift in zip(np.asarray(ipix).tolist(), shifts, strict=True)
        )
    else:
        ipix = np.asarray(ipix, dtype=np.int64)
        shift = 2 * (depth - np.asarray(depths, dtype=np.int64))
        if np.any(shift < 0):
            raise ValueError(f"cells deeper than depth {depth}")
        lo = np.left_shift(ipix, shift)
        hi = np.left_shift(ipix + 1, shift)
        order = np.argsort(lo, kind="stable")
        cells = zip(lo[order].tolist(), hi[order].tolist(), strict=True)
    merged: list[tuple[int, int]] = []
    for start, stop in cells:
        if merged and start <= merged[-1][1]:
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _cell_discs(ipix: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres (unit vectors) and radii (radians) of caps that surely hold the cells.

    The cap is centred on the mean of 16 points along the cell's border; its radius is the
    largest distance to them, with 10 % to spare for the bulge of the border in between.
    """
    cells = np.asarray(ipix, dtype=np.uint64)
    border_lon, border_lat = nested.vertices(cells, depth, step=4, num_threads=1)
    border = radec_to_xyz(border_lon.deg, border_lat.deg)
    centres = border.mean(axis=1)
    centres /= np.linalg.norm(centres, axis=1)[:, None]
    chords = np.linalg.norm(border - centres[:, None, :], axis=-1)
    radius = 2.0 * np.arcsin(np.minimum(chords.max(axis=1) / 2.0, 1.0))
    return centres, radius * 1.1 + 1e-12


def _signed_distance(region: Region) -> Callable[[np.ndarray], np.ndarray]:
    return lambda xyz: _distances_rad([region], xyz, signed=True)[:, 0]


def _descend(
    signed_distance: Callable[[np.ndarray], np.ndarray], depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cells, at most ``depth`` deep, that together surely cover a region.

    ``signed_distance`` maps unit vectors ``(N, 3)`` to the distance (radians) from the
    region, negative inside. Starting from the 12 base cells, a cell is dropped when its
    covering cap misses the region, kept whole when the cap lies inside it, and split
    otherwise, down to ``depth``. Nothing here trusts a HEALPix library's own coverage.

    Returns ``(ipix, depths)``.
    """
    out_cells: list[np.ndarray] = []
    out_depths: list[np.ndarray] = []
    cells = np.arange(12, dtype=np.int64)
    for level in range(depth + 1):
        if cells.size == 0:
            break
        centres, radius = _cell_discs(cells, level)
        distance = signed_distance(centres)
        touching = distance <= radius + math.radians(_MARGIN_DEG)
        whole = touching & (distance <= -radius) if level < depth else touching
        out_cells.append(cells[whole])
        out_depths.append(np.full(int(whole.sum()), level, dtype=np.int64))
        split = cells[touching & ~whole]
        cells = ((split << 2)[:, None] + np.arange(4, dtype=np.int64)).ravel()
    return np.concatenate(out_cells), np.concatenate(out_depths)


def _at_depth(ipix: np.ndarray, depths: np.ndarray, depth: int) -> np.ndarray:
    """The depth-``depth`` cells inside, or holding, the given cells (unique, sorted)."""
    ipix = np.asarray(ipix, dtype=np.int64)
    depths = np.asarray(depths, dtype=np.int64)
    deeper = depths > depth
    parents = ipix[deeper] >> (2 * (depths[deeper] - depth))
    ranges = _to_ranges(ipix[~deeper], depths[~deeper], depth)
    children = [np.arange(lo, hi, dtype=np.int64) for lo, hi in ranges]
    return np.unique(np.concatenate([parents, *children]))


# footprint cells are decided this many depths below the index depth
_FOOTPRINT_REFINE = 2


# cdshealpix's own binding, called with plain radians: ``nested.cone_search`` only checks and
# converts its astropy Longitude, Latitude and Quantity arguments into these, which cost more
# than the cover itself on a search's hot path. The depth delta is ``nested.cone_search``'s
# default.
_compiled_cone_search = cdshealpix_core.cone_search
_CONE_DEPTH_DELTA = 2


def cone_ranges(
    ra: float, dec: float, radius_deg: float, depth: int = CELL_DEPTH
) -> list[tuple[int, int]]:
    """Ranges of depth-``depth`` cells whose union covers a cone.

    The cone is covered by descending the HEALPix tree down to :func:`query_depth` (cells
    wholly inside the cone stay coarse), then each cell ``(d, i)`` becomes
    ``[i << 2(depth - d), (i + 1) << 2(depth - d))`` and touching ranges are merged. The
    cover may include cells just outside the cone, never miss one inside.

    Parameters
    ----------
    ra, dec : float
        Cone centre in degrees.
    radius_deg : float
        Radius in degrees; 0 gives the cell of the point, 180 or more the whole sky.
    depth : int
        Depth of the cell numbers in the ranges (the catalog's :data:`CELL_DEPTH`).

    Returns
    -------
    list of tuple of int
        Sorted, disjoint, non-adjacent half-open ranges ``(lo, hi)``.
    """
    if not (math.isfinite(radius_deg) and radius_deg >= 0):
        raise ValueError(f"radius {radius_deg!r} deg must be finite and >= 0")
    if not (math.isfinite(ra) and math.isfinite(dec) and abs(dec) <= 90.0):
        raise ValueError(f"position ({ra!r}, {dec!r}) deg is not on the sky")
    if radius_deg >= 180.0:
        return [(0, 12 << (2 * depth))]
    coarse = query_depth(radius_deg, depth)
    # Far from the poles cdshealpix's cover, of a cone widened by a margin, is complete
    # (checked by sampling cone rims) and ~100x faster than our own descent (a search's hot
    # path). A quarter cell suffices for small cones at low latitude; wide cones covered at
    # coarse depths (a 7-deg cone at depth 5 missed rim cells with a quarter) and high
    # latitudes take a whole cell. Near the poles we descend ourselves.
    cell = _MEAN_CELL_DEG / (1 << coarse)
    small = coarse == depth and abs(dec) + radius_deg < 60.0
    margin = 0.25 * cell if small else cell
    if abs(dec) + radius_deg + margin < _FAST_PATH_MAX_LATITUDE:
        ipix, depths, _ = _compiled_cone_search(
            coarse, _CONE_DEPTH_DELTA, math.radians(ra % 360.0), math.radians(dec),
            math.radians(radius_deg + margin), False,
        )  # fmt: skip
        return _to_ranges(ipix.astype(np.int64), depths.astype(np.int64), depth)
    ipix, depths = _descend(
        _signed_distance(Circle(ra, dec, radius_deg)), query_depth(radius_deg, depth)
    )
    return _to_ranges(ipix, depths, depth)


def _bounding_radius_deg(region: Region) -> float:
    """Radius (degrees) of a cap about the region's centre that holds the whole region.

    The farthest point of the region from its centre ``c`` is the nearest one to ``-c``.
    """
    centre = _center_xyz(region)
    nearest_to_antipode = float(_distances_rad([region], -centre)[0, 0])
    return 180.0 - math.degrees(nearest_to_antipode)


def region_cells(region: Region, depth: int = CELL_DEPTH) -> np.ndarray:
    """The depth-``depth`` NESTED cells a footprint touches.

    Cells are decided :data:`_FOOTPRINT_REFINE` depths deeper by the exact footprint
    distance (see the module notes) and then taken up to ``depth``; the cells of every
    vertex and of the centre are always added, so a footprint smaller than a cell still
    has at least one.

    Parameters
    ----------
    region : Region
        The footprint (degrees).
    depth : int
        HEALPix depth; the catalog uses :data:`CELL_DEPTH`.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` cell numbers (never empty).
    """
    if isinstance(region, MultiRegion):
        parts = [region_cells(part, depth) for part in region.regions]
        return np.unique(np.concatenate(parts))
    if isinstance(region, Polygon):
        ra, dec = zip(*region.vertices, strict=True)
        points = [cell_of(ra, dec, depth), cell_of(*xyz_to_radec(_center_xyz(region)), depth)]
    elif isinstance(region, Circle):
        points = [cell_of(region.ra, region.dec, depth)]
    else:
        raise TypeError(f"not a region: {region!r}")
    fine = depth + _FOOTPRINT_REFINE
    if isinstance(region, Polygon) and max(abs(d) for d in dec) < _POLYGON_FAST_MAX_LATITUDE:
        # Away from the poles cdshealpix's polygon cover is complete and ~50x faster than our
        # descent; ingest computes one per observation.
        ipix, _, _ = nested.polygon_search(
            Longitude(np.array(ra), u.deg), Latitude(np.array(dec), u.deg), fine, flat=True
        )
        covered = ipix.astype(np.int64) >> (2 * _FOOTPRINT_REFINE)
    else:
        ipix, depths = _descend(_signed_distance(region), fine)
        covered = _at_depth(ipix, depths, depth)
    return np.unique(np.concatenate([covered, *map(np.ravel, points)]))


def region_ranges(region: Region, depth: int = CELL_DEPTH) -> list[tuple[int, int]]:
    """Ranges of depth-``depth`` cells whose union covers a footprint (for region searches).

    Like :func:`cone_ranges`: covered at :func:`query_depth` of the footprint's size.

    Parameters
    ----------
    region : Region
        The search region (degrees).
    depth : int
        Depth of the cell numbers in the ranges.

    Returns
    -------
    list of tuple of int
        Sorted, disjoint, non-adjacent half-open ranges ``(lo, hi)``.
    """
    if isinstance(region, Circle):
        return cone_ranges(region.ra, region.dec, region.radius, depth)
    if isinstance(region, MultiRegion):
        return _merge([r for part in region.regions for r in region_ranges(part, depth)])
    if not isinstance(region, Polygon):
        raise TypeError(f"not a region: {region!r}")
    ipix, depths = _descend(
        _signed_distance(region), query_depth(_bounding_radius_deg(region), depth)
    )
    return _to_ranges(ipix, depths, depth)


def ranges_contain(ranges: Sequence[tuple[int, int]], cells: np.ndarray) -> np.ndarray:
    """Which cells fall in any of the ranges.

    Parameters
    ----------
    ranges : sequence of (int, int)
        Sorted, disjoint half-open ranges ``[lo, hi)`` as from :func:`cone_ranges`.
    cells : array_like of int
        Cell numbers at the ranges' depth.

    Returns
    -------
    numpy.ndarray
        Boolean array, ``True`` where the cell lies in a range.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if len(ranges) == 0:
        return np.zeros(cells.shape, dtype=bool)
    bounds = np.asarray(ranges, dtype=np.int64)
    index = np.searchsorted(bounds[:, 0], cells, side="right") - 1
    safe = np.clip(index, 0, None)
    return (index >= 0) & (cells < bounds[safe, 1])
