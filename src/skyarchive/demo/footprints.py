"""Sky geometry for the demo files: detector layouts, dithered pointings, S_REGION and WCS.

Footprints and WCS keywords come from the same gnomonic (TAN) projection so that a file's
S_REGION is exactly the outline of its pixel grid, as it is in real pipeline products; searches
by position then agree with what a FITS viewer shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ARCSEC = 1.0 / 3600.0

# Detector centres relative to the instrument's full aperture and sizes, arcsec (x, y, w, h),
# in the aperture frame (y along the position angle, x to the east of it at roll 0).
_NIRCAM_SW, _NIRCAM_LW = 64.0, 129.0
DETECTORS: dict[str, tuple[float, float, float, float]] = {
    "nrca1": (-119.0, -33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrca2": (-119.0, 33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrca3": (-53.0, -33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrca4": (-53.0, 33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrcalong": (-86.0, 0.0, _NIRCAM_LW, _NIRCAM_LW),
    "nrcb1": (53.0, -33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrcb2": (53.0, 33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrcb3": (119.0, -33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrcb4": (119.0, 33.0, _NIRCAM_SW, _NIRCAM_SW),
    "nrcblong": (86.0, 0.0, _NIRCAM_LW, _NIRCAM_LW),
    "mirimage": (0.0, 0.0, 74.0, 113.0),
    "mirifushort": (0.0, 0.0, 4.0, 4.8),
    "mirifulong": (0.0, 0.0, 6.6, 7.7),
    "nrs1": (0.0, 0.0, 3.0, 3.0),
    "nrs2": (0.0, 0.0, 3.0, 3.0),
    "nis": (0.0, 0.0, 120.0, 15.0),
    "guider1": (0.0, 0.0, 138.0, 138.0),
    "guider2": (0.0, 0.0, 138.0, 138.0),
}
# Apertures that point one part of an instrument rather than its whole field.
_APERTURE_CENTRES = {"NRCA5_FULL": (-86.0, 0.0), "NRCB5_FULL": (86.0, 0.0)}


def rotate(dx: float, dy: float, roll: float) -> tuple[float, float]:
    """(east, north) arcsec of an aperture-frame offset at position angle ``roll`` (deg)."""
    c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    return dx * c + dy * s, -dx * s + dy * c


def offset(ra: float, dec: float, east: float, north: float) -> tuple[float, float]:
    """The position ``east``/``north`` arcsec away from (ra, dec) on the tangent plane."""
    xi, eta = math.radians(east * ARCSEC), math.radians(north * ARCSEC)
    a0, d0 = math.radians(ra), math.radians(dec)
    denominator = math.cos(d0) - eta * math.sin(d0)
    new_ra = a0 + math.atan2(xi, denominator)
    new_dec = math.atan2(math.sin(d0) + eta * math.cos(d0), math.hypot(xi, denominator))
    return math.degrees(new_ra) % 360.0, math.degrees(new_dec)


def project(ra0: float, dec0: float, ra: float, dec: float) -> tuple[float, float]:
    """Tangent-plane (east, north) arcsec of (ra, dec) seen from (ra0, dec0)."""
    a0, d0, a, d = map(math.radians, (ra0, dec0, ra, dec))
    cos_c = math.sin(d0) * math.sin(d) + math.cos(d0) * math.cos(d) * math.cos(a - a0)
    xi = math.cos(d) * math.sin(a - a0) / cos_c
    eta = (math.cos(d0) * math.sin(d) - math.sin(d0) * math.cos(d) * math.cos(a - a0)) / cos_c
    return math.degrees(xi) / ARCSEC, math.degrees(eta) / ARCSEC


@dataclass(frozen=True)
class Footprint:
    """A rectangle on the sky: centre, size (arcsec) and position angle of its y axis (deg)."""

    ra: float
    dec: float
    width: float
    height: float
    roll: float

    def corners(self) -> list[tuple[float, float]]:
        half_w, half_h = self.width / 2, self.height / 2
        frame = [(half_w, -half_h), (half_w, half_h), (-half_w, half_h), (-half_w, -half_h)]
        return [offset(self.ra, self.dec, *rotate(x, y, self.roll)) for x, y in frame]

    def s_region(self, frame: str = "ICRS ") -> str:
        """JWST-style STC-S text: ``POLYGON ICRS  ra1 dec1 ...`` (frame "" for CAOM style)."""
        numbers = " ".join(f"{ra:.9f} {dec:.9f}" for ra, dec in self.corners())
        return f"POLYGON {frame} {numbers}" if frame else f"POLYGON {numbers}"

    def wcs(self, nx: int, ny: int) -> dict[str, float | str | int]:
        """TAN WCS keywords (PC + CDELT, as the pipeline writes) mapping the pixel grid here.

        Pixel x runs to the west at roll 0 and y to the north, so the grid edges land on
        :meth:`corners`; pixels may be non-square, which the PC matrix absorbs.
        """
        c, s = math.cos(math.radians(self.roll)), math.sin(math.radians(self.roll))
        scale_x, scale_y = self.width / nx * ARCSEC, self.height / ny * ARCSEC
        cd = ((-scale_x * c, scale_y * s), (scale_x * s, scale_y * c))
        return {
            "WCSAXES": 2,
            "CRPIX1": (nx + 1) / 2,
            "CRPIX2": (ny + 1) / 2,
            "CRVAL1": self.ra,
            "CRVAL2": self.dec,
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CUNIT1": "deg",
            "CUNIT2": "deg",
            "CDELT1": scale_y,
            "CDELT2": scale_y,
            "PC1_1": cd[0][0] / scale_y,
            "PC1_2": cd[0][1] / scale_y,
            "PC2_1": cd[1][0] / scale_y,
            "PC2_2": cd[1][1] / scale_y,
            "RA_REF": self.ra,
            "DEC_REF": self.dec,
            "ROLL_REF": self.roll,
        }


def aperture_offset(detector: str, aperture: str) -> tuple[float, float, float, float]:
    """Detector centre relative to the aperture's reference point, and its size (arcsec)."""
    x, y, width, height = DETECTORS[detector]
    cx, cy = _APERTURE_CENTRES.get(aperture, (0.0, 0.0))
    return x - cx, y - cy, width, height


def enclosing(footprints: Sequence[Footprint], margin: float = 0.0) -> Footprint:
    """The rectangle, aligned with the first footprint, that holds all of them (a mosaic)."""
    first = footprints[0]
    ra0, dec0 = _mean_position((f.ra, f.dec) for f in footprints)
    c, s = math.cos(math.radians(first.roll)), math.sin(math.radians(first.roll))
    xs, ys = [], []
    for footprint in footprints:
        for ra, dec in footprint.corners():
            east, north = project(ra0, dec0, ra, dec)
            xs.append(east * c - north * s)  # inverse of rotate()
            ys.append(east * s + north * c)
    x_mid, y_mid = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    ra, dec = offset(ra0, dec0, *rotate(x_mid, y_mid, first.roll))
    width = max(xs) - min(xs) + 2 * margin
    height = max(ys) - min(ys) + 2 * margin
    return Footprint(ra, dec, width, height, first.roll)


def _mean_position(positions: Iterable[tuple[float, float]]) -> tuple[float, float]:
    x = y = z = 0.0
    for ra, dec in positions:
        a, d = math.radians(ra), math.radians(dec)
        x += math.cos(d) * math.cos(a)
        y += math.cos(d) * math.sin(a)
        z += math.sin(d)
    return math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.atan2(z, math.hypot(x, y)))


def contains(polygon: Sequence[tuple[float, float]], ra: float, dec: float) -> bool:
    """Whether (ra, dec) lies inside a small convex polygon (tangent-plane test)."""
    points = [project(ra, dec, pra, pdec) for pra, pdec in polygon]
    signs = set()
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        if cross != 0:
            signs.add(cross > 0)
    return len(signs) <= 1
