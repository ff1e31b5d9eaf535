"""SODA sync cutouts (``/vo/soda/sync``) on the archive's cutout service.

SODA's ``CIRCLE ra dec radius`` or ``POS=CIRCLE ...``/``POS=RANGE ra1 ra2 dec1 dec2`` becomes
the square cutout :func:`skyarchive.delivery.cutouts.cutout` makes: centred on the circle,
its side the circle's diameter (or the range's larger extent on the sky). The cutout service
applies the one access rule to the image it cuts, so a file in its exclusive-access period is
cut only for those who may download it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from skyarchive.access.policy import Caller
from skyarchive.archive import Archive
from skyarchive.delivery.cutouts import MAX_SIZE_ARCSEC, Cutout, cutout
from skyarchive.errors import BadQuery
from skyarchive.vo.identifiers import SODA_PATH, filename_from_id
from skyarchive.vo.vosi import SODA_ID, Capability, Interface, vosi_capabilities


@dataclass(frozen=True)
class Region:
    """A cutout's centre (ICRS degrees) and side (arcsec)."""

    ra: float
    dec: float
    side_arcsec: float


def parse_region(circles: Sequence[str], positions: Sequence[str]) -> Region:
    """The one region a request asks for, from ``CIRCLE`` values or ``POS`` values.

    Raises
    ------
    BadQuery
        None or several regions, an unknown shape, numbers that are missing, not finite or
        out of range, a cutout larger than the cutout service makes.
    """
    given = [("CIRCLE", text) for text in circles] + [("POS", text) for text in positions]
    if len(given) != 1:
        raise BadQuery(
            "Give one region: CIRCLE=<ra> <dec> <radius>, POS=CIRCLE <ra> <dec> <radius> or "
            f"POS=RANGE <ra1> <ra2> <dec1> <dec2> (ICRS degrees); {len(given)} given."
        )
    name, text = given[0]
    words = text.split()
    if name == "POS":
        shape, words = (words[0].upper(), words[1:]) if words else ("", [])
        if shape not in ("CIRCLE", "RANGE"):
            raise BadQuery(f"POS {text[:80]!r}: give CIRCLE or RANGE (POLYGON is not cut here).")
    else:
        shape = "CIRCLE"
    numbers = _numbers(name, text, words, 3 if shape == "CIRCLE" else 4)
    if shape == "CIRCLE":
        ra, dec, radius = numbers
        if not radius > 0:
            raise BadQuery(f"{name} {text[:80]!r}: the radius must be above 0 degrees.")
        region = Region(ra % 360.0, dec, 2 * radius * 3600.0)
    else:
        ra1, ra2, dec1, dec2 = numbers
        if ra2 < ra1 or dec2 < dec1:
            raise BadQuery(f"POS {text[:80]!r}: give RANGE ra1 ra2 dec1 dec2 with ra1 <= ra2 "
                           "and dec1 <= dec2.")  # fmt: skip
        dec = (dec1 + dec2) / 2
        width = (ra2 - ra1) * math.cos(math.radians(dec))
        region = Region(((ra1 + ra2) / 2) % 360.0, dec, max(width, dec2 - dec1) * 3600.0)
    if not -90 <= region.dec <= 90:
        raise BadQuery(f"{name} {text[:80]!r}: dec is outside [-90, 90] degrees.")
    if region.side_arcsec > MAX_SIZE_ARCSEC:
        raise BadQuery(
            f"{name} {text[:80]!r} asks for a cutout {region.side_arcsec:g} arcsec across; "
            f"cutouts are at most {MAX_SIZE_ARCSEC:g} arcsec (a radius of "
            f"{MAX_SIZE_ARCSEC / 7200:g} deg)."
        )
    return region


def _numbers(name: str, text: str, words: list[str], count: int) -> list[float]:
    try:
        numbers = [float(word) for word in words]
    except ValueError:
        numbers = []
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise BadQuery(f"{name} {text[:80]!r} needs {count} numbers of degrees.")
    return numbers


def sync_cutout(
    archive: Archive,
    *,
    caller: Caller,
    ids: Sequence[str],
    circles: Sequence[str],
    positions: Sequence[str],
) -> Cutout:
    """The FITS cutout (with its WCS) of the one image ``ids`` names, around the region.

    Raises
    ------
    BadQuery
        Not exactly one ID, an ID that is not a product of this archive, a bad region, or an
        image the region is not inside (the cutout service's own messages).
    NotFound
        No such file.
    Unauthorized, Forbidden
        The caller may not retrieve the image (exclusive access).
    """
    if len(ids) != 1:
        raise BadQuery(f"Give one ID (the image's publisher DID or data URI); {len(ids)} given.")
    filename = filename_from_id(archive.settings.vo_authority, ids[0])
    region = parse_region(circles, positions)
    side = max(region.side_arcsec, 1.0)  # the cutout service's smallest side
    return cutout(archive, caller=caller, uri=filename, ra=region.ra, dec=region.dec,
                  size_arcsec=side, fmt="fits")  # fmt: skip


def capabilities() -> list[Capability]:
    """SODA's VOSI capabilities (its own and its VOSI endpoints)."""
    sync = Capability(SODA_ID, (Interface(SODA_PATH, version="1.0"),))
    return [sync, *vosi_capabilities(SODA_PATH)]
