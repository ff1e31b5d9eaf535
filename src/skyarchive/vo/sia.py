"""SIAv2 ``{query}`` over ``ivoa.obscore``: SIA parameters become one ADQL query.

Every parameter is parsed and checked here into numbers, shapes and strings; the ADQL text is
then written from those parsed values only (numbers by ``repr``, strings with their quotes
doubled), never from the request's text, and run by :func:`skyarchive.vo.tap.execute_adql`:
the same rows, columns, rights and output as a TAP query of ``ivoa.obscore``, and POS on the
footprint cell index with the exact test (``vo/adql_geometry.py``).

As SIAv2 (REC 2.0 §2) says: values of one parameter are OR-ed, different parameters AND-ed;
numeric intervals are ``lo hi`` with ``-Inf``/``+Inf`` open ends and match when they overlap
the row's interval; strings match exactly, case-sensitively, except ``ID``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyarchive.access.policy import Caller
from skyarchive.errors import BadQuery
from skyarchive.sky.regions import Circle, Polygon
from skyarchive.vo.tap import TapAnswer, execute_adql

if TYPE_CHECKING:
    from skyarchive.archive import Archive

#: Polarization states SIAv2 names (ObsCore ``pol_states``).
POL_STATES = ("I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX", "POLI",
              "POLA")  # fmt: skip
#: Data product types an image service answers (SIAv2 ``DPTYPE``).
DPTYPES = ("image", "cube")
#: Longest RA step of a RANGE box's edges along a parallel, in degrees: a parallel is not a
#: great circle, so the box is drawn as a polygon whose parallel edges are this finely cut.
RANGE_STEP_DEG = 1.0
#: Most values one parameter may take (each is one OR-ed condition).
MAX_VALUES = 100
MAX_STRING_CHARS = 400

Clause = Callable[[str], str]


def _number(text: str, name: str) -> float:
    word = text.strip()
    lowered = word.lower()
    if lowered in ("-inf", "+inf", "inf"):
        return -math.inf if lowered == "-inf" else math.inf
    try:
        value = float(word)
    except ValueError:
        raise BadQuery(f"{name} value {text[:60]!r} is not a number.") from None
    if math.isnan(value):
        raise BadQuery(f"{name} value {text[:60]!r} is not a number.")
    return value


def _numbers(text: str, name: str, counts: Sequence[int]) -> list[float]:
    words = text.split()
    if len(words) not in counts:
        wanted = " or ".join(str(n) for n in counts)
        raise BadQuery(f"{name}={text[:80]!r} needs {wanted} numbers separated by spaces.")
    return [_number(word, name) for word in words]


def _adql_number(value: float) -> str:
    return repr(float(value))


def _adql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _interval(name: str, low_column: str, high_column: str | None = None) -> Clause:
    """``lo hi`` (or one number, lo = hi) overlapping the rows' [low, high] (one column:
    the value inside the interval)."""
    high_column = high_column or low_column

    def clause(text: str) -> str:
        values = _numbers(text, name, (1, 2))
        low, high = values[0], values[-1]
        if low > high:
            raise BadQuery(f"{name}={text[:80]!r}: the lower bound is above the upper one.")
        parts = []
        if math.isfinite(high):
            parts.append(f"{low_column} <= {_adql_number(high)}")
        elif high < 0:
            raise BadQuery(f"{name}={text[:80]!r} is empty (its upper bound is -Inf).")
        if math.isfinite(low):
            parts.append(f"{high_column} >= {_adql_number(low)}")
        elif low > 0:
            raise BadQuery(f"{name}={text[:80]!r} is empty (its lower bound is +Inf).")
        if not parts:  # -Inf +Inf: any row with a value
            return f"{low_column} IS NOT NULL"
        return " AND ".join(parts)

    return clause


def _exact(column: str, *, choices: Sequence[str] = (), fold: bool = False) -> Clause:
    def clause(text: str) -> str:
        value = text.strip() if choices else text
        if not value or len(value) > MAX_STRING_CHARS or any(ord(ch) < 32 for ch in value):
            raise BadQuery(f"{column}: {text[:80]!r} is not a value this service matches.")
        if choices and value not in choices:
            raise BadQuery(f"{value[:40]!r} is not one of {', '.join(choices)}.")
        if fold:
            return f"LOWER({column}) = LOWER({_adql_text(value)})"
        return f"{column} = {_adql_text(value)}"

    return clause


def _calib(text: str) -> str:
    word = text.strip()
    if word not in ("0", "1", "2", "3", "4"):
        raise BadQuery(f"CALIB={text[:20]!r} is not a calibration level (0, 1, 2, 3 or 4).")
    return f"calib_level = {word}"


def _pol(text: str) -> str:
    state = text.strip()
    if state not in POL_STATES:
        raise BadQuery(f"POL={text[:20]!r} is not a polarization state; one of "
                       f"{', '.join(POL_STATES)}.")  # fmt: skip
    return f"pol_states LIKE {_adql_text(f'%/{state}/%')}"


def _pos(text: str) -> str:
    """``CIRCLE ra dec r``, ``RANGE ra1 ra2 dec1 dec2`` or ``POLYGON ra dec ...`` (ICRS,
    degrees), as an INTERSECTS test of the rows' footprints."""
    shape, _, rest = text.strip().partition(" ")
    kind = shape.upper()
    if kind == "CIRCLE":
        ra, dec, radius = _numbers(rest, "POS CIRCLE", (3,))
        circle = Circle(ra, dec, radius)  # checks the ranges
        shape_adql = (
            f"CIRCLE({', '.join(_adql_number(v) for v in (circle.ra, circle.dec, circle.radius))})"
        )
        return f"1 = INTERSECTS(s_region, {shape_adql})"
    if kind == "POLYGON":
        values = _numbers(rest, "POS POLYGON", tuple(range(6, 2 * 200 + 1, 2)))
        polygon = Polygon(tuple(zip(values[::2], values[1::2], strict=True)))
        return _intersects_polygon(polygon.vertices)
    if kind == "RANGE":
        return _range(*_numbers(rest, "POS RANGE", (4,)))
    raise BadQuery(f"POS={text[:80]!r}: the shape is CIRCLE, RANGE or POLYGON "
                   "(e.g. POS=CIRCLE 283.4 33.03 0.05).")  # fmt: skip


def _intersects_polygon(vertices: Sequence[tuple[float, float]]) -> str:
    flat = ", ".join(_adql_number(v) for vertex in vertices for v in vertex)
    return f"1 = INTERSECTS(s_region, POLYGON({flat}))"


def _range(ra1: float, ra2: float, dec1: float, dec2: float) -> str:
    """A box between two meridians and two parallels: every row when it is the whole sky,
    else the union of boxes at most 90 deg wide, each a polygon."""
    dec1, dec2 = max(dec1, -90.0), min(dec2, 90.0)
    if not (dec1 <= dec2) or dec1 > 90 or dec2 < -90:
        raise BadQuery(f"POS RANGE declinations {dec1:g} .. {dec2:g} select nothing; give "
                       "dec1 <= dec2 within [-90, 90].")  # fmt: skip
    ra1, ra2 = max(ra1, 0.0), min(ra2, 360.0)
    if not (0 <= ra1 <= ra2 <= 360):
        raise BadQuery(f"POS RANGE right ascensions {ra1:g} .. {ra2:g}: give 0 <= ra1 <= "
                       "ra2 <= 360 (degrees).")  # fmt: skip
    if ra2 - ra1 >= 360 and dec1 <= -90 and dec2 >= 90:
        return "s_ra IS NOT NULL"
    pieces = max(1, math.ceil((ra2 - ra1) / 90.0))
    width = (ra2 - ra1) / pieces
    boxes = [_box(ra1 + i * width, ra1 + (i + 1) * width, dec1, dec2) for i in range(pieces)]
    return " OR ".join(f"({box})" for box in boxes)


def _box(ra1: float, ra2: float, dec1: float, dec2: float) -> str:
    steps = max(1, math.ceil((ra2 - ra1) / RANGE_STEP_DEG))
    along = [ra1 + (ra2 - ra1) * i / steps for i in range(steps + 1)]
    ring = [(ra % 360.0, dec1) for ra in along] + [(ra % 360.0, dec2) for ra in reversed(along)]
    if ra2 - ra1 <= 0:  # a box of no width: a thin sliver along the meridian
        ring = [(ra1, dec1), (ra1 + 1e-9, dec1), (ra1 + 1e-9, dec2), (ra1, dec2)]
    return _intersects_polygon(Polygon(tuple(ring)).vertices)


#: SIAv2 parameter -> the ADQL condition one of its values makes.
PARAMETERS: dict[str, Clause] = {
    "POS": _pos,
    "BAND": _interval("BAND", "em_min", "em_max"),
    "TIME": _interval("TIME", "t_min", "t_max"),
    "POL": _pol,
    "FOV": _interval("FOV", "s_fov"),
    "SPATRES": _interval("SPATRES", "s_resolution"),
    "EXPTIME": _interval("EXPTIME", "t_exptime"),
    "TIMERES": _interval("TIMERES", "t_resolution"),
    "SPECRP": _interval("SPECRP", "em_res_power"),
    "ID": _exact("obs_publisher_did", fold=True),
    "COLLECTION": _exact("obs_collection"),
    "FACILITY": _exact("facility_name"),
    "INSTRUMENT": _exact("instrument_name"),
    "DPTYPE": _exact("dataproduct_type", choices=DPTYPES),
    "CALIB": _calib,
    "TARGET": _exact("target_name"),
    "FORMAT": _exact("access_format"),
}
#: DALI parameters the query takes besides the SIA ones.
DALI_PARAMETERS = ("MAXREC", "RESPONSEFORMAT", "REQUEST", "RUNID", "UPLOAD")


@dataclass(frozen=True)
class SiaQuery:
    adql: str
    maxrec: int | None
    response_format: str | None


def sia_query(given: Sequence[tuple[str, str]]) -> SiaQuery:
    """The ADQL query of a SIAv2 request's parameters (names in any case).

    Raises
    ------
    BadQuery
        A value SIAv2 does not allow (a shape other than CIRCLE/RANGE/POLYGON, a number that
        is not one, an empty interval, a position off the sky...), with the value; an unknown
        parameter is ignored, as DALI asks.
    """
    values: dict[str, list[str]] = {}
    for name, value in given:
        values.setdefault(name.strip().upper(), []).append(value)
    conditions = []
    for name, clause in PARAMETERS.items():
        texts = [text for text in values.get(name, []) if text.strip()]
        if len(texts) > MAX_VALUES:
            raise BadQuery(f"{len(texts)} values of {name}; at most {MAX_VALUES}.")
        if texts:
            either = [clause(text) for text in texts]
            conditions.append("(" + " OR ".join(f"({c})" for c in either) + ")")
    if values.get("UPLOAD"):
        raise BadQuery("UPLOAD is not supported by this service.")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    adql = f"SELECT * FROM ivoa.obscore{where}"
    maxrec = values.get("MAXREC", [None])[-1]
    try:
        limit = None if maxrec is None else int(maxrec)
        if limit is not None and limit < 0:
            raise ValueError
    except ValueError:
        raise BadQuery(f"MAXREC {str(maxrec)[:40]!r} is not a whole number >= 0.") from None
    return SiaQuery(adql, limit, values.get("RESPONSEFORMAT", [None])[-1])


def search(archive: Archive, caller: Caller, given: Sequence[tuple[str, str]], *,
           base_url: str) -> TapAnswer:  # fmt: skip
    """Answer a SIAv2 query: the ObsCore rows it selects, as TAP answers them."""
    query = sia_query(given)
    return execute_adql(archive, caller, query.adql, maxrec=query.maxrec,
                        response_format=query.response_format, base_url=base_url)  # fmt: skip
