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
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from skyarchive.errors import BadQuery

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
]

RAD_TO_ARCSEC = 180.0 / math.pi * 3600.0
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


class PolygonGeometry(NamedTuple):
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
    def _geometry(self) -> PolygonGeometry:
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

FRAME_TOKENS = frozenset(
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
        elif word in FRAME_TOKENS and expect_frame:
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


def _batch_geometry(rings: Sequence[np.ndarray]) -> tuple[PolygonGeometry, np.ndarray]:
    """Edge geometry of many polygons at once, from their vertex unit vectors ``(n_i, 3)``.

    Returns the concatenated edges (``area_left`` and ``interior_left`` per polygon) and the
    index of each polygon's first edge. One pass of numpy over all edges: searches test many
    footprints, and per-polygon small-array work would dominate.
    """
    return joined_geometry(np.concatenate(rings), np.array([len(r) for r in rings]))


def joined_geometry(a: np.ndarray, counts: np.ndarray) -> tuple[PolygonGeometry, np.ndarray]:
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
    geometry = PolygonGeometry(
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


def _concat_geometry(polygons: Sequence[Polygon]) -> tuple[PolygonGeometry, np.ndarray]:
    return _batch_geometry([p.xyz for p in polygons])


def _polygon_distances(
    polygons: Sequence[Polygon], points: np.ndarray, signed: bool = False
) -> np.ndarray:
    """Distances (radians) from each point ``(M, 3)`` to each polygon, shape ``(M, G)``.

    Inside points get 0, or with ``signed`` minus their distance to the boundary.
    """
    g, starts = _concat_geometry(polygons)
    return geometry_distances(g, starts, points, signed)


def geometry_distances(
    g: PolygonGeometry, starts: np.ndarray, points: np.ndarray, signed: bool = False
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
    return _distances_rad(regions, point)[0] * RAD_TO_ARCSEC


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
