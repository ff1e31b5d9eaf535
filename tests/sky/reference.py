"""Independent reference geometry for the footprint tests.

Deliberately unlike :mod:`skyarchive.sky.regions`:

* inside: gnomonic projection about the polygon's own centre (great circles become straight
  lines, so the footprint becomes an exact plane polygon) and even-odd ray crossing;
* distance: each edge sampled as points along its great circle (numpy slerp), the
  separations measured by astropy's ``angular_separation`` (Vincenty), then sampled again
  finely around the best sample, so the sampling error is far below the test tolerance.

Only for polygons that fit well inside a hemisphere about their vertex mean (footprints).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord, angular_separation

COARSE = 2000
FINE = 2000


def unit(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    if omega < 1e-15:
        return np.repeat(a[None, :], len(t), axis=0)
    weights_a = np.sin((1.0 - t) * omega) / np.sin(omega)
    weights_b = np.sin(t * omega) / np.sin(omega)
    return weights_a[:, None] * a + weights_b[:, None] * b


def separation_arcsec(xyz: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """Separations of the points ``xyz`` from (ra, dec): astropy's Vincenty formula on arrays
    (as ``SkyCoord.separation`` computes it, without building coordinate frames per call)."""
    lon = np.arctan2(xyz[..., 1], xyz[..., 0])
    lat = np.arctan2(xyz[..., 2], np.hypot(xyz[..., 0], xyz[..., 1]))
    return np.degrees(angular_separation(lon, lat, np.radians(ra), np.radians(dec))) * 3600.0


def inside(vertices: list[tuple[float, float]], ra: float, dec: float) -> bool:
    """Even-odd ray crossing in the gnomonic projection about the vertex mean."""
    v = unit(*np.array(vertices, dtype=float).T)
    centre = v.mean(axis=0)
    centre /= np.linalg.norm(centre)
    p = unit(np.array(ra), np.array(dec))
    if p @ centre <= 0:
        return False
    east = np.cross([0.0, 0.0, 1.0], centre)
    if np.linalg.norm(east) < 1e-9:
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(centre, east)

    def project(x: np.ndarray) -> np.ndarray:
        depth = x @ centre
        return np.stack([(x @ east) / depth, (x @ north) / depth], axis=-1)

    poly = project(v)
    px, py = project(p)
    crossings = 0
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
        if (y1 > py) != (y2 > py):
            x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            if x_at > px:
                crossings += 1
    return crossings % 2 == 1


def edge_distance_arcsec(vertices: list[tuple[float, float]], ra: float, dec: float) -> float:
    """Smallest separation from (ra, dec) to the polygon's edges, by sampling."""
    v = unit(*np.array(vertices, dtype=float).T)
    best = np.inf
    for i in range(len(v)):
        a, b = v[i], v[(i + 1) % len(v)]
        t = np.linspace(0.0, 1.0, COARSE)
        coarse = separation_arcsec(slerp(a, b, t), ra, dec)
        k = int(np.argmin(coarse))
        lo, hi = t[max(k - 1, 0)], t[min(k + 1, COARSE - 1)]
        fine = separation_arcsec(slerp(a, b, np.linspace(lo, hi, FINE)), ra, dec)
        best = min(best, float(fine.min()), float(coarse.min()))
    return best


def distance_arcsec(vertices: list[tuple[float, float]], ra: float, dec: float) -> float:
    """0 inside, else the distance to the nearest edge, in arcsec."""
    if inside(vertices, ra, dec):
        return 0.0
    return edge_distance_arcsec(vertices, ra, dec)


def offset(ra: float, dec: float, position_angle: float, separation: float) -> tuple[float, float]:
    """The point ``separation`` deg from (ra, dec) towards ``position_angle`` deg (E of N)."""
    moved = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").directional_offset_by(
        position_angle * u.deg, separation * u.deg
    )
    return float(moved.ra.deg), float(moved.dec.deg)
