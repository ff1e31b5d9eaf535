"""Reading angles people type: search radii and sky positions.

Both functions raise :class:`~skyarchive.errors.BadQuery` with the offending text and an
example of what is accepted, so the faces can hand the message straight to the user.
"""

from __future__ import annotations

import math
import re
from numbers import Real

import astropy.units as u
from astropy.coordinates import Angle, SkyCoord

from skyarchive.errors import BadQuery

__all__ = ["MAX_RADIUS_DEG", "parse_coordinates", "parse_radius"]

#: Largest cone radius accepted from a user, in degrees.
MAX_RADIUS_DEG = 90.0

# unit spelling -> degrees per unit; the bare number means degrees (MAST convention)
_RADIUS_UNITS: dict[str, float] = {
    "": 1.0,
    "d": 1.0,
    "deg": 1.0,
    "degree": 1.0,
    "degrees": 1.0,
    "°": 1.0,
    "m": 1 / 60,
    "am": 1 / 60,
    "amin": 1 / 60,
    "arcmin": 1 / 60,
    "arcminute": 1 / 60,
    "arcminutes": 1 / 60,
    "'": 1 / 60,
    "′": 1 / 60,
    "s": 1 / 3600,
    "as": 1 / 3600,
    "asec": 1 / 3600,
    "arcsec": 1 / 3600,
    "arcsecond": 1 / 3600,
    "arcseconds": 1 / 3600,
    '"': 1 / 3600,
    "″": 1 / 3600,
    "mas": 1 / 3_600_000,
}
_RADIUS_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S*)\s*$")
_RADIUS_HELP = "give degrees or a number with a unit, e.g. 0.2, '12 arcmin', '12m' or '30\"'"


def parse_radius(value: object) -> float:
    """Read a cone-search radius.

    Parameters
    ----------
    value : float, int, str or astropy.units.Quantity
        A number (degrees), an angular ``Quantity``, or text such as ``"0.2"`` (degrees),
        ``"0.2 deg"``, ``"0.2d"``, ``"1m"``, ``"1 arcmin"``, ``"1'"``, ``"30s"``,
        ``"30 arcsec"`` or ``'30"'``.

    Returns
    -------
    float
        The radius in degrees, in ``[0, 90]``. Zero is allowed and means a point.

    Raises
    ------
    BadQuery
        For text that is not a number with a known angular unit, for non-angular
        quantities, and for radii that are negative, not finite or above 90 deg.
    """
    if isinstance(value, bool):
        raise BadQuery(f"Radius {value!r} is not an angle; {_RADIUS_HELP}.")
    if isinstance(value, u.Quantity):
        try:
            degrees = float(value.to_value(u.deg))
        except (u.UnitsError, TypeError) as exc:
            raise BadQuery(f"Radius {value} is not an angle; {_RADIUS_HELP}.") from exc
    elif isinstance(value, Real):
        degrees = float(value)
    elif isinstance(value, str):
        match = _RADIUS_RE.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _RADIUS_UNITS:
            raise BadQuery(f"Radius {value!r} is not understood; {_RADIUS_HELP}.")
        degrees = float(match.group(1)) * _RADIUS_UNITS[unit]
    else:
        raise BadQuery(f"Radius {value!r} is not an angle; {_RADIUS_HELP}.")
    if not math.isfinite(degrees):
        raise BadQuery(f"Radius {value!r} is not a finite number; {_RADIUS_HELP}.")
    if degrees < 0 or degrees > MAX_RADIUS_DEG:
        raise BadQuery(
            f"Radius {degrees:g} deg is outside [0, {MAX_RADIUS_DEG:g}] deg; "
            "give a smaller, non-negative radius."
        )
    return degrees


_COORD_HELP = (
    "give decimal degrees like '283.396 33.029' or sexagesimal (RA in hours) like "
    "'18:53:35.1 +33:01:45'"
)
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_SEXAGESIMAL_HINT = re.compile(r"[:hHdDmMsS°'\"]")


def parse_coordinates(text: str) -> tuple[float, float]:
    """Read a sky position typed by a person.

    Two plain numbers are decimal degrees (``"283.396 33.029"``, ``"283.396, 33.029"``).
    Anything else is read by astropy as sexagesimal with RA in hours and Dec in degrees:
    ``"18:53:35.1 +33:01:45"``, ``"18h53m35s +33d01m45s"``, ``"18 53 35.1 +33 01 45"``.

    Parameters
    ----------
    text : str
        The position as typed.

    Returns
    -------
    tuple of float
        ``(ra, dec)`` in degrees (ICRS), ``ra`` wrapped into ``[0, 360)``.

    Raises
    ------
    BadQuery
        When the text is not a position at all (callers then try it as a target name) or
        the declination is outside [-90, 90] deg.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadQuery(f"Position {text!r} is empty; {_COORD_HELP}.")
    cleaned = text.strip()
    tokens = [t for t in re.split(r"[\s,]+", cleaned) if t]
    if len(tokens) == 2 and all(_NUMBER_RE.match(t) for t in tokens):
        ra, dec = float(tokens[0]), float(tokens[1])
    else:
        numeric_triples = len(tokens) == 6 and all(_NUMBER_RE.match(t) for t in tokens)
        if not (numeric_triples or _SEXAGESIMAL_HINT.search(cleaned)) or not any(
            ch.isdigit() for ch in cleaned
        ):
            raise BadQuery(f"Position {text!r} is not coordinates; {_COORD_HELP}.")
        if len(tokens) == 2:
            ra_text, dec_text = tokens
        elif numeric_triples:
            ra_text, dec_text = " ".join(tokens[:3]), " ".join(tokens[3:])
        else:
            ra_text = dec_text = None
            if len(cleaned.split()) == 1 and "+" not in cleaned and "-" not in cleaned:
                # One word without a sign ("m57", "ngc6720": a name, the portal's commonest
                # search) is never a position to astropy, which splits RA from Dec at a
                # space or a sign (or reads a J-name, which has its sign): it would leave Dec
                # empty and fail, after some 30 us of parsing.
                raise BadQuery(f"Position {text!r} is not coordinates; {_COORD_HELP}.")
        try:
            if ra_text is not None:
                ra = Angle(ra_text, unit=u.hourangle).deg
                dec = Angle(dec_text, unit=u.deg).deg
            else:
                coord = SkyCoord(cleaned, unit=(u.hourangle, u.deg))
                ra, dec = coord.ra.deg, coord.dec.deg
        except (ValueError, TypeError, u.UnitsError) as exc:
            raise BadQuery(f"Position {text!r} is not coordinates; {_COORD_HELP}.") from exc
        ra, dec = float(ra), float(dec)
    if not (math.isfinite(ra) and math.isfinite(dec)):
        raise BadQuery(f"Position {text!r} is not finite; {_COORD_HELP}.")
    if abs(dec) > 90:
        raise BadQuery(
            f"Declination {dec:g} deg in {text!r} is outside [-90, 90] deg; "
            "check the order is RA then Dec."
        )
    ra = ra % 360.0
    if ra >= 360.0:  # -1e-20 % 360 rounds to 360
        ra = 0.0
    return ra, dec
