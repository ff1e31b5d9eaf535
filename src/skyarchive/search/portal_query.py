"""The portal's search box: text a person types, turned into a cone or a list of programs.

Basic syntax (the portal shows it as examples)::

    m57                         a name, searched with the default radius
    m57 r=1m                    a name and a radius (d, m, s, arcmin, arcsec, ", ' ...)
    18:53:35 +33:01:45 r=30s    sexagesimal RA (hours) and Dec (degrees)
    283.396 33.029 r=0.02d      decimal degrees

Coordinates are tried first, then the archive's resolver chain (archive targets, OpenNGC,
Sesame when enabled). Every problem is a :class:`~skyarchive.errors.BadQuery` whose message can
be shown to the user as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyarchive.errors import BadQuery, NotFound
from skyarchive.sky.angles import parse_coordinates, parse_radius
from skyarchive.sky.resolver import ResolverChain

#: Radius used when the text gives none (3 arcmin, as MAST's classic forms).
DEFAULT_RADIUS_DEG = 3 / 60
_RADIUS_TOKEN = re.compile(r"(?:^|\s)(?:r|rad|radius)\s*=\s*(\S+)\s*$", re.IGNORECASE)
_MAX_TEXT = 300
_PROGRAM_ID = re.compile(r"^(?:jw)?0*(\d{1,6})$", re.IGNORECASE)
MAX_PROGRAMS = 200


@dataclass(frozen=True)
class PositionQuery:
    """Where to search: a cone, and the name it came from (None for typed coordinates)."""

    text: str
    ra: float
    dec: float
    radius: float  # degrees
    name: str | None = None
    canonical_name: str | None = None
    resolver: str | None = None

    @property
    def display(self) -> str:
        """``MESSIER 057, radius: 0.01667°`` or ``283.39600 33.02900, radius: 0.02°``."""
        where = self.canonical_name or f"{self.ra:.5f} {self.dec:+.5f}"
        return f"{where}, radius: {self.radius:.4g}°"


def split_radius(text: str) -> tuple[str, float | None]:
    """``"m57 r=1m"`` -> ``("m57", 1/60)``; the radius is None when not given."""
    match = _RADIUS_TOKEN.search(text)
    if match is None:
        if re.search(r"(?:^|\s)(?:r|rad|radius)\s*=\s*$", text, re.IGNORECASE):
            raise BadQuery("The radius after 'r=' is missing; write e.g. 'm57 r=1m'.")
        return text.strip(), None
    return text[: match.start()].strip(), parse_radius(match.group(1))


def parse_position_text(
    text: str, resolver: ResolverChain, *, default_radius: float = DEFAULT_RADIUS_DEG
) -> PositionQuery:
    """Read a name or coordinates with an optional ``r=`` radius."""
    if not isinstance(text, str) or not text.strip():
        raise BadQuery("Type an object name such as 'M57' or coordinates such as '283.396 33.029'.")
    if len(text) > _MAX_TEXT:
        raise BadQuery(f"The search text is too long ({len(text)} > {_MAX_TEXT} characters).")
    target, radius = split_radius(text.strip())
    if not target:
        raise BadQuery("Give an object name or coordinates before the radius, e.g. 'm57 r=1m'.")
    radius = default_radius if radius is None else radius
    try:
        ra, dec = parse_coordinates(target)
    except BadQuery as not_coordinates:
        if _looks_numeric(target):
            raise not_coordinates
        try:
            hit = resolver.resolve(target)
        except NotFound as exc:
            raise BadQuery(exc.message) from None
        return PositionQuery(
            text.strip(), hit.ra, hit.dec, radius, target, hit.canonical_name, hit.resolver
        )
    return PositionQuery(text.strip(), ra, dec, radius)


def _looks_numeric(text: str) -> bool:
    """Text made of digits, signs and separators is meant as coordinates, not a name."""
    return bool(re.fullmatch(r"[\d+\-.][\d\s.,:+\-hdms°'\"]*", text, re.IGNORECASE))


def parse_program_ids(text: str) -> list[str]:
    """``"1073, 1558"`` -> ``["1073", "1558"]`` (leading zeros and a ``jw`` prefix dropped)."""
    if not isinstance(text, str) or not text.strip():
        raise BadQuery("Give one or more program IDs separated by commas, e.g. '1073, 1558'.")
    items = re.split(r"[,\s;]+", text.strip())
    if len(items) > MAX_PROGRAMS:  # before reading them: the limit bounds the work too
        raise BadQuery(
            f"At most {MAX_PROGRAMS} program IDs per search (got {len(items)}); "
            "search for fewer at a time."
        )
    ids: list[str] = []
    for item in items:
        if not item:
            continue
        match = _PROGRAM_ID.match(item)
        if match is None:
            raise BadQuery(
                f"{item!r} is not a program ID; separate numbers with commas, e.g. '1073, 1558'."
            )
        ids.append(str(int(match.group(1))))
    return list(dict.fromkeys(ids))
