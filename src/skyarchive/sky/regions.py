"""Observation footprints on the sky: STC-S text in and out, and exact spherical tests.

A footprint (CAOM ``s_region``) is a :class:`Polygon` with great-circle edges, a
:class:`Circle`, or a :class:`MultiRegion` union of those. Coordinates are ICRS degrees.

Polygons are orientation-free: whichever way the vertices run, the polygon is the smaller
of the two areas its boundary encloses (what every JWST/MAST footprint means).

The inside test does not cast rays. For a point ``p`` it adds up, edge by edge, the angle
each edge subtends as seen from ``p`` (the winding number of the boundary about the
``p``/``-p`` axis) and the signed area of the triangle the edge makes with ``p``; with
the area to the left of the boundary from Gauss-Bonnet these say on which side ``p`` is::

    [p left of boundary] = winding(p) + (area_left - sum of triangle areas(p)) / 4 pi

which holds anywhere on the sphere, for polygons of any size and either orientation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, cast

import numpy as np
import numpy.typing as npt

from skyarchive.errors import BadQuery
from skyarchive.kept import Kept

__all__ = [
    "Circle",
    "MultiRegion",
    "Polygon",
    "Region",
    "distance_arcsec",
    "distances_arcsec",
    "format_s_region",
    "intersects_cone",
    "parse_s_region",
    "region_center",
    "s_region_distances_arcsec",
    "stored_vertices",
]

_RAD_TO_ARCSEC = 180.0 / math.pi * 3600.0
#: Slack (arcsec) granted by :func:`intersects_cone` for rounding at the exact boundary.
CONE_EPSILON_ARCSEC = 1e-6
# vertices closer than this (radians, ~0.2 microarcsec) are the same vertex
_SAME_POINT_RAD = 1e-12


# ----------------------------------------------------------------------------- vectors


def radec_to_xyz(ra: npt.ArrayLike, dec: npt.ArrayLike) -> np.ndarray:
    """Unit vectors for positions.

    Parameters
    ----------
    ra, dec : float or array_like
        Right ascension and declination in degrees.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(..., 3)`` of unit vectors (dimensionless).
    """
    ra_r = np.radians(np.asarray(ra, dtype=float))
    dec_r = np.radians(np.asarray(dec, dtype=float))
    cos_dec = np.cos(dec_r)
    return np.stack([cos_dec * np.cos(ra_r), cos_dec * np.sin(ra_r), np.sin(dec_r)], axis=-1)


def xyz_to_radec(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of (not necessarily unit) vectors.

    Parameters
    ----------
    xyz : array_like
        Array of shape ``(..., 3)``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ra, dec)`` in degrees, ``ra`` in ``[0, 360)``.
    """
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    ra = np.where(ra >= 360.0, 0.0, ra)
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


#: The components of a vector in turn from the second (y z x) and from the third (z x y).
_NEXT, _AFTER_NEXT = np.array([1, 2, 0]), np.array([2, 0, 1])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross products of ``(N, 3)`` arrays: the same arithmetic as ``np.cross``, whose
    general axis handling costs more than the products for the few dozen footprints of a
    search (it ran six times per cone). Component ``i`` is ``a[i+1] b[i+2] - a[i+2] b[i+1]``
    (indices mod 3), all three at once: seven numpy calls, not eighteen a component at a
    time."""
    return a.take(_NEXT, axis=1) * b.take(_AFTER_NEXT, axis=1) - a.take(
        _AFTER_NEXT, axis=1
    ) * b.take(_NEXT, axis=1)


def _chord_angle(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Angle (radians) between unit vectors, accurate for tiny angles."""
    chord = np.linalg.norm(p - q, axis=-1)
    return 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0))


# ----------------------------------------------------------------------------- shapes


def _check_position(ra: float, dec: float, what: str) -> tuple[float, float]:
    try:
        ra, dec = float(ra), float(dec)
    except (TypeError, ValueError) as exc:
        raise BadQuery(f"{what} ({ra!r}, {dec!r}) is not a pair of numbers.") from exc
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise BadQuery(f"{what} ({ra}, {dec}) is not finite; give RA and Dec in degrees.")
    if not -360.0 <= ra <= 360.0:
        raise BadQuery(f"{what} RA {ra:g} deg is outside [0, 360] deg.")
    if not -90.0 <= dec <= 90.0:
        raise BadQuery(f"{what} Dec {dec:g} deg is outside [-90, 90] deg; is it RA, Dec order?")
    ra = ra % 360.0
    if ra >= 360.0:
        ra = 0.0
    return ra + 0.0, dec + 0.0  # + 0.0 turns -0.0 into 0.0


class _PolygonGeometry(NamedTuple):
    a: np.ndarray  # (E, 3) edge starts
    b: np.ndarray  # (E, 3) edge ends
    following: np.ndarray  # (E,) where each edge's end is among the starts: b = a[following]
    normal: np.ndarray  # (E, 3) unit normals of the edges' great circles (zero if degenerate)
    normal_len: np.ndarray  # (E,) |a x b| = sin(edge length)
    start_side: np.ndarray  # (E, 3) normal x a: p . it >= 0 on b's side of a
    end_side: np.ndarray  # (E, 3) b x normal: p . it >= 0 on a's side of b
    ab: np.ndarray  # (E,) a . b
    area_left: np.ndarray  # (P,) steradians to the left of each boundary as the vertices run
    interior_left: np.ndarray  # (P,) bool: the polygon is the left side (the smaller one)


@dataclass(frozen=True)
class Polygon:
    """A spherical polygon with great-circle edges.

    Parameters
    ----------
    vertices : tuple of (float, float)
        ``(ra, dec)`` of the vertices in degrees, as an open ring (a repeated closing vertex
        is dropped, as are consecutive duplicates). RA is wrapped into ``[0, 360)``. Either
        orientation; the polygon is the smaller area the ring encloses.
    """

    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        try:
            raw = [(v[0], v[1]) for v in self.vertices]
        except (TypeError, IndexError, KeyError) as exc:
            raise BadQuery(f"Polygon vertices {self.vertices!r} are not (ra, dec) pairs.") from exc
        points = [_check_position(ra, dec, "Polygon vertex") for ra, dec in raw]
        xyz = radec_to_xyz([p[0] for p in points], [p[1] for p in points])  # (n, 3), n may be 0
        kept: list[int] = []
        for i in range(len(points)):
            if kept and _chord_angle(xyz[i], xyz[kept[-1]]) < _SAME_POINT_RAD:
                continue
            kept.append(i)
        while len(kept) > 1 and _chord_angle(xyz[kept[0]], xyz[kept[-1]]) < _SAME_POINT_RAD:
            kept.pop()
        if len(kept) < 3:
            raise BadQuery(
                f"Polygon {self.vertices!r} has fewer than 3 distinct vertices; "
                "give at least 3 (ra, dec) pairs in degrees."
            )
        object.__setattr__(self, "vertices", tuple(points[i] for i in kept))
        geometry = self._geometry
        if np.any(geometry.normal_len < 1e-15):
            raise BadQuery(
                f"Polygon {format_s_region(self)!r} has an edge between antipodal vertices; "
                "an edge must be shorter than 180 deg."
            )

    @cached_property
    def xyz(self) -> np.ndarray:
        """Unit vectors of the vertices, shape ``(n, 3)``."""
        ra, dec = zip(*self.vertices, strict=True)
        return radec_to_xyz(ra, dec)

    @cached_property
    def _geometry(self) -> _PolygonGeometry:
        g, _ = _batch_geometry([self.xyz])
        return g

    @property
    def area_sr(self) -> float:
        """Area of the polygon in steradians."""
        g = self._geometry
        area_left = float(g.area_left[0])
        return area_left if g.interior_left[0] else 4.0 * math.pi - area_left


@dataclass(frozen=True)
class Circle:
    """A cone on the sky.

    Parameters
    ----------
    ra, dec : float
        Centre in degrees (RA wrapped into ``[0, 360)``).
    radius : float
        Radius in degrees, in ``[0, 180]``.
    """

    ra: float
    dec: float
    radius: float

    def __post_init__(self) -> None:
        ra, dec = _check_position(self.ra, self.dec, "Circle centre")
        try:
            radius = float(self.radius)
        except (TypeError, ValueError) as exc:
            raise BadQuery(f"Circle radius {self.radius!r} is not a number of degrees.") from exc
        if not (math.isfinite(radius) and 0.0 <= radius <= 180.0):
            raise BadQuery(f"Circle radius {radius:g} deg is outside [0, 180] deg.")
        object.__setattr__(self, "ra", ra)
        object.__setattr__(self, "dec", dec)
        object.__setattr__(self, "radius", radius + 0.0)

    @cached_property
    def xyz(self) -> np.ndarray:
        """Unit vector of the centre, shape ``(3,)``."""
        return radec_to_xyz(self.ra, self.dec)


@dataclass(frozen=True)
class MultiRegion:
    """The union of several polygons and circles (STC-S ``UNION`` or repeated shapes).

    Parameters
    ----------
    regions : tuple of Polygon or Circle
        At least two parts (a single part is simply that region).
    """

    regions: tuple[Polygon | Circle, ...]

    def __post_init__(self) -> None:
        parts = tuple(self.regions)
        if len(parts) < 2 or not all(isinstance(p, Polygon | Circle) for p in parts):
            raise BadQuery(f"A union needs at least two polygons or circles, got {self.regions!r}.")
        object.__setattr__(self, "regions", parts)


Region = Polygon | Circle | MultiRegion


# ----------------------------------------------------------------------------- STC-S

_FRAME_TOKENS = frozenset(
    {
        "ICRS",
        "FK5",
        "J2000",
        "GEOCENTER",
        "TOPOCENTER",
        "BARYCENTER",
        "HELIOCENTER",
        "UNKNOWNFRAME",
        "UNKNOWNREFPOS",
        "SPHERICAL2",
    }
)
_OTHER_FRAMES = frozenset({"FK4", "B1950", "GALACTIC", "ECLIPTIC", "SUPER_GALACTIC", "GALACTIC_II"})
_SHAPES = ("POLYGON", "CIRCLE")
_UNSUPPORTED = frozenset({"BOX", "ELLIPSE", "POSITION", "INTERSECTION", "NOT", "DIFFERENCE"})
_TOKEN_RE = re.compile(r"[()]|[^\s()]+")
_STCS_HELP = (
    "expected STC-S like 'POLYGON ICRS 151.73 -40.43 151.76 -40.45 151.70 -40.47' or "
    "'CIRCLE ICRS 283.39 33.02 0.01' (degrees)"
)


def parse_s_region(text: str) -> Region:
    """Read an STC-S footprint as written in JWST headers and by MAST/CAOM.

    Accepts ``POLYGON`` and ``CIRCLE`` with or without frame/reference-position tokens
    (ICRS, FK5, J2000, GEOCENTER, TOPOCENTER, UNKNOWNFRAME, ..., any case), closed or open
    polygons, and unions written as ``UNION (POLYGON ... POLYGON ...)`` or as several
    shapes one after another.

    Parameters
    ----------
    text : str
        The STC-S text; numbers in degrees.

    Returns
    -------
    Region
        A :class:`Polygon`, :class:`Circle` or, for several parts, :class:`MultiRegion`.

    Raises
    ------
    BadQuery
        For anything else (the message quotes the text), including non-ICRS frames,
        wrong numbers of values and positions off the sphere.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadQuery(f"Footprint {text!r} is empty; {_STCS_HELP}.")
    tokens = _TOKEN_RE.findall(text)
    shapes: list[tuple[str, list[float]]] = []
    depth = 0
    expect_frame = False
    for token in tokens:
        word = token.upper()
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
            if depth < 0:
                raise BadQuery(f"Footprint {text!r} has an unmatched ')'; {_STCS_HELP}.")
        elif word == "UNION":
            expect_frame = True
        elif word in _UNSUPPORTED:
            raise BadQuery(
                f"Footprint {text!r} uses {token}, which is not supported; "
                "give POLYGON or CIRCLE shapes (a UNION of them is fine)."
            )
        elif word in _SHAPES:
            shapes.append((word, []))
            expect_frame = True
        elif word in _FRAME_TOKENS and expect_frame:
            continue
        elif word in _OTHER_FRAMES:
            raise BadQuery(
                f"Footprint {text!r} is in frame {token}; only ICRS (or FK5/J2000) is supported."
            )
        else:
            try:
                value = float(token)
            except ValueError:
                raise BadQuery(
                    f"Footprint {text!r} has {token!r} where a shape or number belongs; "
                    f"{_STCS_HELP}."
                ) from None
            if not shapes or not math.isfinite(value):
                raise BadQuery(f"Footprint {text!r} has a stray value {token!r}; {_STCS_HELP}.")
            shapes[-1][1].append(value)
            expect_frame = False
    if depth != 0:
        raise BadQuery(f"Footprint {text!r} has an unmatched '('; {_STCS_HELP}.")
    if not shapes:
        raise BadQuery(f"Footprint {text!r} has no POLYGON or CIRCLE; {_STCS_HELP}.")
    parts: list[Polygon | Circle] = []
    for shape, values in shapes:
        if shape == "CIRCLE":
            if len(values) != 3:
                raise BadQuery(
                    f"Footprint {text!r}: CIRCLE takes ra dec radius, got {len(values)} values."
                )
            parts.append(_with_text(text, Circle, *values))
        else:
            if len(values) % 2 or len(values) < 6:
                raise BadQuery(
                    f"Footprint {text!r}: POLYGON takes at least 3 ra dec pairs, "
                    f"got {len(values)} values."
                )
            pairs = tuple(zip(values[0::2], values[1::2], strict=True))
            parts.append(_with_text(text, Polygon, pairs))
    return parts[0] if len(parts) == 1 else MultiRegion(tuple(parts))


def _with_text(text: str, cls: type, *args: object) -> Polygon | Circle:
    try:
        return cls(*args)
    except BadQuery as exc:
        raise BadQuery(f"Footprint {text!r}: {exc.message}") from exc


def _fmt(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_s_region(region: Region) -> str:
    """Write a footprint in the CAOM STC-S form (no frame token, degrees).

    Parameters
    ----------
    region : Region
        The footprint.

    Returns
    -------
    str
        ``"POLYGON 151.732347616 -40.439019403 ..."`` (open ring, 9 decimals at most),
        ``"CIRCLE 283.39 33.02 0.01"`` or ``"UNION (POLYGON ... POLYGON ...)"``.
    """
    if isinstance(region, Polygon):
        return "POLYGON " + " ".join(f"{_fmt(ra)} {_fmt(dec)}" for ra, dec in region.vertices)
    if isinstance(region, Circle):
        return f"CIRCLE {_fmt(region.ra)} {_fmt(region.dec)} {_fmt(region.radius)}"
    if isinstance(region, MultiRegion):
        return "UNION (" + " ".join(format_s_region(part) for part in region.regions) + ")"
    raise TypeError(f"not a region: {region!r}")


# ----------------------------------------------------------------------------- geometry


def region_center(region: Region) -> tuple[float, float]:
    """A representative centre: the normalised mean of the vertex (or centre) vectors.

    Parameters
    ----------
    region : Region
        The footprint.

    Returns
    -------
    tuple of float
        ``(ra, dec)`` in degrees, ``ra`` in ``[0, 360)``.
    """
    if isinstance(region, Circle):
        return region.ra, region.dec
    vector = _center_xyz(region)
    ra, dec = xyz_to_radec(vector)
    return float(ra), float(dec)


def _center_xyz(region: Region) -> np.ndarray:
    if isinstance(region, Circle):
        return region.xyz
    points = (
        region.xyz
        if isinstance(region, Polygon)
        else np.array([_center_xyz(part) for part in region.regions])
    )
    mean = points.mean(axis=0)
    norm = np.linalg.norm(mean)
    return mean / norm if norm > 1e-12 else points[0]


def _batch_geometry(rings: Sequence[np.ndarray]) -> tuple[_PolygonGeometry, np.ndarray]:
    """Edge geometry of many polygons at once, from their vertex unit vectors ``(n_i, 3)``.

    Returns the concatenated edges (``area_left`` and ``interior_left`` per polygon) and the
    index of each polygon's first edge. One pass of numpy over all edges: searches test many
    footprints, and per-polygon small-array work would dominate.
    """
    return _joined_geometry(np.concatenate(rings), np.array([len(r) for r in rings]))


def _joined_geometry(a: np.ndarray, counts: np.ndarray) -> tuple[_PolygonGeometry, np.ndarray]:
    """:func:`_batch_geometry` of rings given joined: vertices ``a`` ``(sum n_i, 3)``, ``n_i``."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    index = np.arange(len(a))
    first = np.repeat(starts, counts)
    size = np.repeat(counts, counts)
    following = first + (index - first + 1) % size
    b = a[following]
    # (a + b) x (b - a) = 2 a x b, without the cancellation of a x b for close points
    cross = 0.5 * _cross(a + b, b - a)
    normal_len = np.linalg.norm(cross, axis=1)
    normal = cross / np.where(normal_len > 0, normal_len, 1.0)[:, None]
    # Gauss-Bonnet: area on the left = 2 pi - sum of the (left-positive) turning angles
    prev_normal = normal[first + (index - first - 1) % size]
    t_in = _cross(prev_normal, a)
    t_out = _cross(normal, a)  # also each edge's start side, below
    turning = np.arctan2(np.einsum("ij,ij->i", a, _cross(t_in, t_out)),
                         np.einsum("ij,ij->i", t_in, t_out))  # fmt: skip
    area_left = 2.0 * math.pi - np.add.reduceat(turning, starts)
    geometry = _PolygonGeometry(
        a=a,
        b=b,
        following=following,
        normal=normal,
        normal_len=normal_len,
        start_side=t_out,
        end_side=_cross(b, normal),
        ab=np.einsum("ij,ij->i", a, b),
        area_left=area_left,
        interior_left=area_left <= 2.0 * math.pi,
    )
    return geometry, starts


# A ring's edge table: what _joined_geometry makes of its edges, one row an edge, in columns
# (the polygon's own values on each of its rows), so that the tables of many rings joined
# are the geometry of them all (_geometry_of_tables) at the cost of one concatenation.
_A, _B, _NORMAL, _START_SIDE, _END_SIDE = (slice(i, i + 3) for i in range(0, 15, 3))
_NORMAL_LEN, _AB, _FOLLOWING, _AREA_LEFT, _INTERIOR_LEFT = range(15, 20)
_EDGE_COLUMNS = 20


def _edge_table(
    g: _PolygonGeometry, starts: np.ndarray, counts: np.ndarray
) -> npt.NDArray[np.float64]:
    """The edge tables of the rings of ``g``, joined (``starts`` and ``counts`` as
    :func:`_joined_geometry` took and gave them); ``following`` is kept relative to each
    ring's first edge."""
    table = np.empty((len(g.a), _EDGE_COLUMNS))
    table[:, _A], table[:, _B], table[:, _NORMAL] = g.a, g.b, g.normal
    table[:, _START_SIDE], table[:, _END_SIDE] = g.start_side, g.end_side
    table[:, _NORMAL_LEN], table[:, _AB] = g.normal_len, g.ab
    table[:, _FOLLOWING] = g.following - np.repeat(starts, counts)
    table[:, _AREA_LEFT] = np.repeat(g.area_left, counts)
    table[:, _INTERIOR_LEFT] = np.repeat(g.interior_left, counts)
    return table


def _geometry_of_tables(
    table: np.ndarray, counts: np.ndarray
) -> tuple[_PolygonGeometry, np.ndarray]:
    """:func:`_joined_geometry` of rings of ``counts`` vertices, from their edge tables
    joined: the same numbers, made once per ring (the tables are per ring) and only read."""
    starts = np.zeros(len(counts), dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    geometry = _PolygonGeometry(
        a=table[:, _A],
        b=table[:, _B],
        following=np.repeat(starts, counts) + table[:, _FOLLOWING].astype(np.intp),
        normal=table[:, _NORMAL],
        normal_len=table[:, _NORMAL_LEN],
        start_side=table[:, _START_SIDE],
        end_side=table[:, _END_SIDE],
        ab=table[:, _AB],
        area_left=table[starts, _AREA_LEFT],
        interior_left=table[starts, _INTERIOR_LEFT] > 0.5,
    )
    return geometry, starts


#: Footprints whose edge tables a process keeps: about 1 kB each for a quadrilateral.
KEPT_EDGE_TABLES = 16_384
#: Edge tables of stored footprints, by their stored vertices (the bytes themselves, so a
#: footprint that changes is another key, and a table is never stale), for the cones that meet
#: them again: making them was half of a cone's exact test (about 60 of 150 µs for the 40
#: footprints of a 1′ cone on the demo archive). Shared by a process's search threads, read
#: only.
_KEPT_EDGES: Kept[np.ndarray] = Kept(KEPT_EDGE_TABLES)


def _concat_geometry(polygons: Sequence[Polygon]) -> tuple[_PolygonGeometry, np.ndarray]:
    return _batch_geometry([p.xyz for p in polygons])


def _polygon_distances(
    polygons: Sequence[Polygon], points: np.ndarray, signed: bool = False
) -> np.ndarray:
    """Distances (radians) from each point ``(M, 3)`` to each polygon, shape ``(M, G)``.

    Inside points get 0, or with ``signed`` minus their distance to the boundary.
    """
    g, starts = _concat_geometry(polygons)
    return _geometry_distances(g, starts, points, signed)


def _geometry_distances(
    g: _PolygonGeometry, starts: np.ndarray, points: np.ndarray, signed: bool = False
) -> np.ndarray:
    p = np.atleast_2d(points)
    pa = p @ g.a.T
    pb = p @ g.b.T
    s = p @ g.normal.T  # sine of the distance to each edge's great circle
    triple = s * g.normal_len  # p . (a x b)
    # angle the edge subtends at p, and signed area of the triangle (p, a, b)
    subtended = np.arctan2(triple, g.ab - pa * pb)
    triangle = 2.0 * np.arctan2(triple, 1.0 + pa + pb + g.ab)
    winding = np.add.reduceat(subtended, starts, axis=1) / (2.0 * math.pi)
    fan_area = np.add.reduceat(triangle, starts, axis=1)
    left = np.rint(winding + (g.area_left - fan_area) / (4.0 * math.pi))
    inside = np.where(g.interior_left, left == 1.0, left == 0.0)

    within_arc = (p @ g.start_side.T >= 0) & (p @ g.end_side.T >= 0) & (g.normal_len > 0)
    to_circle = np.arcsin(np.minimum(np.abs(s), 1.0))
    to_a = _chord_angle(p[:, None, :], g.a[None, :, :])
    to_b = to_a[:, g.following]  # each edge's end is another's start: its angle is known
    to_edge = np.where(within_arc, to_circle, np.minimum(to_a, to_b))
    to_boundary = np.minimum.reduceat(to_edge, starts, axis=1)
    return np.where(inside, -to_boundary if signed else 0.0, to_boundary)


def _circle_distances(
    circles: Sequence[Circle], points: np.ndarray, signed: bool = False
) -> np.ndarray:
    centres = np.array([c.xyz for c in circles])
    radii = np.radians([c.radius for c in circles])
    p = np.atleast_2d(points)
    separation = _chord_angle(p[:, None, :], centres[None, :, :])
    return separation - radii if signed else np.maximum(separation - radii, 0.0)


def _distances_rad(
    regions: Sequence[Region], points: np.ndarray, signed: bool = False
) -> np.ndarray:
    """Distances (radians) from points ``(M, 3)`` to regions, shape ``(M, len(regions))``.

    Inside points get 0, or with ``signed`` minus their distance to the boundary (for a
    union: of the part they are deepest in, which is what covering needs).
    """
    p = np.atleast_2d(np.asarray(points, dtype=float))
    out = np.full((p.shape[0], len(regions)), np.inf)
    polygons: list[Polygon] = []
    polygon_owner: list[int] = []
    circles: list[Circle] = []
    circle_owner: list[int] = []
    for index, region in enumerate(regions):
        parts = region.regions if isinstance(region, MultiRegion) else (region,)
        for part in parts:
            if isinstance(part, Polygon):
                polygons.append(part)
                polygon_owner.append(index)
            elif isinstance(part, Circle):
                circles.append(part)
                circle_owner.append(index)
            else:
                raise TypeError(f"not a region: {part!r}")
    computed: list[tuple[list[int], np.ndarray]] = []
    if polygons:
        computed.append((polygon_owner, _polygon_distances(polygons, p, signed)))
    if circles:
        computed.append((circle_owner, _circle_distances(circles, p, signed)))
    for owner, distances in computed:
        for column, index in enumerate(owner):
            np.minimum(out[:, index], distances[:, column], out=out[:, index])
    return out


def distances_arcsec(regions: Sequence[Region], ra: float, dec: float) -> np.ndarray:
    """Angular distance from one position to each of many footprints.

    Parameters
    ----------
    regions : sequence of Region
        The footprints.
    ra, dec : float
        The position in degrees.

    Returns
    -------
    numpy.ndarray
        Distances in arcsec, one per region; 0 where the position is inside.
    """
    if len(regions) == 0:
        return np.zeros(0)
    point = radec_to_xyz(*_check_position(ra, dec, "Position"))
    return _distances_rad(regions, point)[0] * _RAD_TO_ARCSEC


def distance_arcsec(region: Region, ra: float, dec: float) -> float:
    """Angular distance from a position to a footprint.

    Parameters
    ----------
    region : Region
        The footprint.
    ra, dec : float
        The position in degrees.

    Returns
    -------
    float
        0 if the position is inside (or on the edge); otherwise the shortest great-circle
        distance to the boundary, in arcsec (for a circle, ``separation - radius``).
    """
    return float(distances_arcsec([region], ra, dec)[0])


def intersects_cone(region: Region, ra: float, dec: float, radius_deg: float) -> bool:
    """Whether a cone touches a footprint.

    Parameters
    ----------
    region : Region
        The footprint.
    ra, dec : float
        Cone centre in degrees.
    radius_deg : float
        Cone radius in degrees (0 tests the point).

    Returns
    -------
    bool
        ``distance_arcsec(region, ra, dec) <= radius_deg * 3600`` give or take
        :data:`CONE_EPSILON_ARCSEC`.
    """
    return distance_arcsec(region, ra, dec) <= radius_deg * 3600.0 + CONE_EPSILON_ARCSEC


def _simple_polygon_vertices(text: str) -> tuple[list[float], list[float]] | None:
    """RA and Dec lists of a plain ``POLYGON [frame] ra dec ...`` text, else None.

    Only for footprints already validated at ingest; anything unusual (other shapes, unions,
    repeated vertices) returns None and takes the full parser. Plain Python: a footprint has a
    handful of vertices, too few for numpy's per-call cost to pay off.
    """
    values = _polygon_numbers(text)
    if values is None or not all(map(math.isfinite, values)):
        return None
    ra, dec = values[0::2], values[1::2]
    if any(abs(d) > 90.0 for d in dec):
        return None
    if any(ra[i] == ra[i + 1] and dec[i] == dec[i + 1] for i in range(len(ra) - 1)):
        return None
    return ra, dec


#: How :func:`stored_vertices` writes a vertex's coordinates: float64, little-endian.
_STORED = np.dtype("<f8")
_STORED_VERTEX_BYTES = 3 * _STORED.itemsize


def stored_vertices(text: str | None) -> bytes | None:
    """The vertices of a plain polygon footprint as stored beside its text: the unit vector
    ``x y z`` of each vertex of the open ring, as :data:`_STORED` numbers. None for any other
    footprint (circles, unions, polygons :func:`_simple_polygon_vertices` refuses), which
    :func:`s_region_distances_arcsec` reads from its text."""
    simple = None if not text else _simple_polygon_vertices(text)
    if simple is None:
        return None
    return radec_to_xyz(*simple).astype(_STORED).tobytes()


def s_region_distances_arcsec(
    texts: Sequence[str], ra: float, dec: float, vertices: Sequence[bytes | None] = ()
) -> np.ndarray:
    """Distances (arcsec, 0 inside) from ``(ra, dec)`` to many stored ``s_region`` texts.

    Same result as ``distances_arcsec([parse_s_region(t) for t in texts], ra, dec)``, with
    plain polygons handled in one vectorised pass: each text is only split into numbers here,
    and the checks of :func:`_simple_polygon_vertices` run over all vertices at once (a
    search's cost was in per-footprint Python checks, not in the geometry). ``vertices``,
    when given, holds each text's :func:`stored_vertices` (or None): a footprint's stored
    vertices are read instead of its text, whose numbers cost more to parse than the test,
    and the geometry of their edges that no cone changes is kept (:data:`_KEPT_EDGES`).
    """
    out = np.empty(len(texts))
    tables: list[np.ndarray | None] = []  # each ring's edge table; None until made
    sizes: list[int] = []  # each ring's number of vertices
    owners: list[int] = []  # each ring's footprint
    fresh: list[tuple[int, bytes]] = []  # (ring, its stored vertices) whose table is to be made
    kept = _KEPT_EDGES.find
    for index, blob in enumerate(vertices):
        if blob is None:
            continue
        count, rest = divmod(len(blob), _STORED_VERTEX_BYTES)
        if rest or count < 3:
            # not whole vertices of a ring (none of our writers makes one): read from its
            # text, as if nothing were stored, rather than failing the search
            continue
        table = kept(blob)
        if table is None:
            fresh.append((len(tables), blob))
        tables.append(table)
        sizes.append(count)
        owners.append(index)
    others = (
        _parsed_rings(texts, set(owners), tables, sizes, owners) if len(owners) < len(texts) else []
    )
    if tables:
        if fresh:
            _make_edge_tables(fresh, tables)
        joined = np.concatenate(cast("list[np.ndarray]", tables))  # every table made now
        g, starts = _geometry_of_tables(joined, np.array(sizes))
        point = radec_to_xyz(ra, dec)[None, :]
        out[owners] = _geometry_distances(g, starts, point)[0] * _RAD_TO_ARCSEC
    if others:
        others.sort()
        regions = [parse_s_region(texts[i]) for i in others]
        out[others] = distances_arcsec(regions, ra, dec)
    return out


def _parsed_rings(
    texts: Sequence[str],
    read: set[int],
    tables: list[np.ndarray | None],
    sizes: list[int],
    owners: list[int],
) -> list[int]:
    """The plain polygons among ``texts`` not ``read`` from their stored vertices, split into
    numbers and added as rings of their own edge tables (made, not kept: a text has no
    stored vertices to keep them by); the indexes of the other footprints, for the full
    parser."""
    ring_ra: list[float] = []
    ring_dec: list[float] = []
    counts: list[int] = []
    ring_owner: list[int] = []
    others: list[int] = []
    for index, text in enumerate(texts):
        if index in read:
            continue
        values = _polygon_numbers(text)
        if values is None:
            others.append(index)
        else:
            ring_ra += values[0::2]
            ring_dec += values[1::2]
            counts.append(len(values) // 2)
            ring_owner.append(index)
    if not counts:
        return others
    ras, decs, parsed = np.array(ring_ra), np.array(ring_dec), np.array(counts)
    starts = np.concatenate([[0], np.cumsum(parsed)[:-1]])
    unusual = _unusual_rings(ras, decs, starts)
    parsed_owners = np.array(ring_owner)
    if unusual.any():  # to the full parser, as _simple_polygon_vertices would send them
        others += parsed_owners[unusual].tolist()
        kept = np.repeat(~unusual, parsed)
        ras, decs = ras[kept], decs[kept]
        parsed, parsed_owners = parsed[~unusual], parsed_owners[~unusual]
    if len(parsed):
        g, starts = _joined_geometry(radec_to_xyz(ras, decs).reshape(-1, 3), parsed)
        table = _edge_table(g, starts, parsed)
        tables += np.split(table, starts[1:])
        sizes += parsed.tolist()
        owners += parsed_owners.tolist()
    return others


def _make_edge_tables(fresh: list[tuple[int, bytes]], tables: list[np.ndarray | None]) -> None:
    """The edge tables of the ``fresh`` rings (each with its stored vertices), made at once,
    put in their places in ``tables`` and kept under their vertices."""
    blobs = [blob for _, blob in fresh]
    counts = np.array([len(blob) // _STORED_VERTEX_BYTES for blob in blobs])
    a = np.frombuffer(b"".join(blobs), dtype=_STORED).reshape(-1, 3)
    g, starts = _joined_geometry(a, counts)
    made = np.split(_edge_table(g, starts, counts), starts[1:])
    for (ring, blob), table in zip(fresh, made, strict=True):
        table = table.copy()
        table.flags.writeable = False  # shared: a search only reads it
        tables[ring] = _KEPT_EDGES.keep(bytes(blob), table)


def _polygon_numbers(text: str) -> list[float] | None:
    """The numbers ``ra dec ra dec ...`` of a ``POLYGON [frame] ...`` text, the closing vertex
    dropped, when there are at least three vertices; else None (for the full parser).

    No check of the numbers themselves: :func:`_simple_polygon_vertices` makes them for one
    footprint, :func:`_unusual_rings` over many at once.
    """
    tokens = text.split()
    if not tokens or tokens[0].upper() != "POLYGON":
        return None
    start = 1
    while start < len(tokens) and tokens[start].upper() in _FRAME_TOKENS:
        start += 1
    try:
        values = list(map(float, tokens[start:]))
    except ValueError:
        return None
    if len(values) < 6 or len(values) % 2:
        return None
    if values[0] == values[-2] and values[1] == values[-1]:
        del values[-2:]
    return values if len(values) >= 6 else None


def _unusual_rings(ras: np.ndarray, decs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Which of the joined rings (vertices from ``starts``) :func:`_simple_polygon_vertices`
    would refuse: a number not finite, a Dec beyond 90 degrees, or a vertex repeated next to
    itself."""
    bad = ~(np.isfinite(ras) & np.isfinite(decs)) | (np.abs(decs) > 90.0)
    repeated = (ras[1:] == ras[:-1]) & (decs[1:] == decs[:-1])
    repeated[starts[1:] - 1] = False  # a ring's last vertex and the next ring's first
    bad[:-1] |= repeated
    return np.logical_or.reduceat(bad, starts)
